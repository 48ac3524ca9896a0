# D&R twin of jt_mosei.py, on the schedule of dr_mosi.py: the three encoders
# diagnosed after epochs 10, 19 and 28, k = 2, lambda 3.
_base_ = ['./jt_mosei.py']
custom_hooks = [
    dict(type='DRHook', begin=10, interval=9, max_times=3, lam=3.0)
]
