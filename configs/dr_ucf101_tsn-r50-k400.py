# D&R twin of jt_ucf101_tsn-r50-k400.py (reference schedule).
_base_ = ['./jt_ucf101_tsn-r50-k400.py', '_base_/dr/dr_reference.py']
