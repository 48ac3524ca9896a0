# D&R twin of jt_food101_bert.py: dr_food101.py's Diagnosing & Re-learning
# (after epochs 7, 14 and 21 of 30, lambda 3) with the local BERT.
_base_ = ['./jt_food101_bert.py']
custom_hooks = [dict(type='DRHook', begin=7, interval=7, max_times=3, lam=3.0)]
