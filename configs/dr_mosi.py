# D&R twin of jt_mosi.py: the same model, data and schedule, plus
# Diagnosing & Re-learning of all three encoders, each on its own: clusters
# of the two sentiment classes (k = 2), diagnosed after epochs 10, 19 and 28
# (the reference's 21/41/61 of 90 scaled to 40), lambda 3, every training
# utterance.
_base_ = ['./jt_mosi.py']
custom_hooks = [
    dict(type='DRHook', begin=10, interval=9, max_times=3, lam=3.0)
]
