# D&R twin of jt_avdigits.py: the same model, data and schedule, plus the
# Diagnosing & Re-learning hook (re-learning after epochs 7, 13 and 19 of
# 27, see _base_/dr/dr_27e.py).
_base_ = ['./jt_avdigits.py', './_base_/dr/dr_27e.py']
