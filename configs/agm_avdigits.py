# AGM on AV-Digits: jt_avdigits.py plus the method of _base_/methods/agm.py
# (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    balancer=dict(
        type='AGM',
        alpha=1.0,
        begin_epoch=1,
        end_epoch=20,
        max_gap=10.0,
        head_grad_clip=1.0))
