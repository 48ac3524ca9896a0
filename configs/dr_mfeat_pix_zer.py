# D&R twin of jt_mfeat_pix_zer.py.
_base_ = ['./jt_mfeat_pix_zer.py', './_base_/dr/dr_27e.py']
