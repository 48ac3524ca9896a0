# D&R twin of jt_avdigits.py: the same model, data and schedule, plus the
# Diagnosing & Re-learning hook.
_base_ = ['./jt_avdigits.py']

custom_hooks = [
    dict(
        type='DRHook',
        # 20 epochs: diagnose after epochs 6, 11 and 16 (counted from 1),
        # the reference code's 21/41/61 of 90 scaled to 20.
        interval=5,
        max_times=3,
        lam=3.0,
        # As many training as validation samples (see _base_/dr/dr_30e.py).
        max_train_samples='val')
]
