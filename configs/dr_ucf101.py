# D&R twin of jt_ucf101.py: the same model, data and schedule, plus
# Diagnosing & Re-learning on the reference schedule (after epochs 21, 41
# and 61 of 90).
_base_ = ['./jt_ucf101.py', '_base_/dr/dr_reference.py']
