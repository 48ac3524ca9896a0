# MMPareto on AV-Digits: jt_avdigits.py plus the method of
# _base_/methods/mmpareto.py (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    unimodal_head=dict(type='LinearClsHead', topk=(1, )),
    balancer=dict(type='MMPareto', gamma=1.5))
