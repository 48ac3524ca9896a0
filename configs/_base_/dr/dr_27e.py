# The D&R hook for _base_/schedules/adam_27e_constant.py: the reference
# code's re-learning schedule (after epochs 21, 41 and 61 of 90, counted from
# 1) scaled by 0.3: after epochs 7, 13 and 19 of 27, so the re-learned
# encoders train from the next epoch on, and 8 epochs follow the last one.
custom_hooks = [
    dict(
        type='DRHook',
        interval=6,
        max_times=3,
        lam=3.0,
        # k-means purity depends on the number of samples; diagnosing as
        # many training as validation samples keeps the gap about
        # generalisation, not sample size.
        max_train_samples='val')
]
