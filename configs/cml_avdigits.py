# CML on AV-Digits: jt_avdigits.py plus the method of _base_/methods/cml.py
# (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    balancer=dict(
        type='CML', lam=0.1, margin=0.0, begin_epoch=1, end_epoch=None))
