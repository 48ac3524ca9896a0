# UME (uni-modal ensemble) on AV-Digits: jt_avdigits.py plus
# _base_/methods/ume.py (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    unimodal_head=dict(type='LinearClsHead', topk=(1, )),
    balancer=dict(type='UME'))
