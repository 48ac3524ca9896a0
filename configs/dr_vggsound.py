# D&R twin of jt_vggsound.py: the same model, data and schedule, plus
# Diagnosing & Re-learning on the schedule of Kinetics-Sounds (the D&R paper
# reports no VGGSound run): after epochs 21, 41 and 61 of 90, lambda 3,
# diagnosing every training sample.
_base_ = ['./jt_vggsound.py', '_base_/dr/dr_reference.py']
