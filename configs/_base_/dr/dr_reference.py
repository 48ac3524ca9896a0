# D&R on the reference code's schedule: diagnose after epochs 21, 41 and 61
# (counted from 1; the reference's 0-based 20/40/60), lambda 3; every
# training sample and the validation split are diagnosed, as in the
# reference.
custom_hooks = [dict(type='DRHook', interval=20, max_times=3, lam=3.0)]
