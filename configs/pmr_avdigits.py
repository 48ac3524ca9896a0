# PMR on AV-Digits: jt_avdigits.py plus the method of _base_/methods/pmr.py
# (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    balancer=dict(
        type='PMR',
        alpha=1.0,
        momentum=0.2,
        begin_epoch=1,
        end_epoch=18,
        proto_fraction=0.1))
