# ARL on AV-Digits: jt_avdigits.py plus the method of _base_/methods/arl.py
# (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    balancer=dict(
        type='ARL',
        gamma=4.0,
        temperature=8.0,
        entropy_floor=0.3,
        begin_epoch=3))
