# D&R twin of jt_mfeat_fou_mor.py.
_base_ = ['./jt_mfeat_fou_mor.py', './_base_/dr/dr_27e.py']
