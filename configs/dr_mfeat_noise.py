# D&R twin of jt_mfeat_noise.py: the same model, data and schedule, plus the
# Diagnosing & Re-learning hook.
_base_ = ['./jt_mfeat_noise.py', './_base_/dr/dr_27e.py']
