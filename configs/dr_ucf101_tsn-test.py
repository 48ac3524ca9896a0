# dr_ucf101.py tested with mmaction2's TSN protocol (25 segments x 3 crops):
#   python tools/test.py configs/dr_ucf101_tsn-test.py CHECKPOINT
_base_ = ['./jt_ucf101_tsn-test.py', '_base_/dr/dr_reference.py']
