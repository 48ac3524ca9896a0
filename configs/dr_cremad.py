# D&R twin of jt_cremad.py: the same model, data and schedule, plus
# Diagnosing & Re-learning on the reference schedule (after epochs 21, 41
# and 61 of 90, lambda 3), diagnosing every training sample against the
# validation split.
_base_ = ['./jt_cremad.py', '_base_/dr/dr_reference.py']
