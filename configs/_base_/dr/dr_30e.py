# The D&R hook for a 30-epoch schedule.
custom_hooks = [
    dict(
        type='DRHook',
        # Diagnose after epochs 8, 15 and 22 (counted from 1, as in the log
        # and epoch_N.pth); the re-learned encoders train from the next
        # epoch on. The reference code's 21/41/61 of 90 scaled to 30.
        interval=7,
        max_times=3,
        lam=3.0,
        # k-means purity depends on the number of samples; diagnosing as
        # many training as validation samples keeps the gap about
        # generalisation, not sample size.
        max_train_samples='val')
]
