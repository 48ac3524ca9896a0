# AMCo on AV-Digits: jt_avdigits.py plus the method of _base_/methods/amco.py
# (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    balancer=dict(
        type='AMCo', sigma=0.5, eps=0.3, begin_epoch=1, end_epoch=None))
