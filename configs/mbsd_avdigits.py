# MBSD on AV-Digits: jt_avdigits.py plus the method of _base_/methods/mbsd.py
# (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(balancer=dict(type='MBSD', begin_epoch=1, end_epoch=None))
