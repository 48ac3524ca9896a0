# LFM on AV-Digits: jt_avdigits.py plus the method of _base_/methods/lfm.py
# (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    balancer=dict(type='LFM', weight_rule='fitted', epoch_scale=200 / 27))
