# MMCosine on AV-Digits: jt_avdigits.py plus the method of
# _base_/methods/mmcosine.py (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(balancer=dict(type='MMCosine', scaling=10.0))
