# MLA on AV-Digits: jt_avdigits.py plus the method of _base_/methods/mla.py
# (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    fusion=dict(type='SumFusion', out_channels=512),
    balancer=dict(type='MLA', gradient_modification=True))
find_unused_parameters = True
