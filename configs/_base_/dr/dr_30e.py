# The D&R hook for a 30-epoch schedule.
custom_hooks = [
    dict(
        type='DRHook',
        # Re-learn after epochs 7, 14 and 21 (0-based): the reference
        # code's 20/40/60 of 90 epochs scaled to 30.
        interval=7,
        max_times=3,
        lam=3.0,
        # k-means purity depends on the number of samples; diagnosing as
        # many training as validation samples keeps the gap about
        # generalisation, not sample size.
        max_train_samples='val')
]
