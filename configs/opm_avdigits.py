# OPM on AV-Digits: jt_avdigits.py plus the method of _base_/methods/opm.py
# (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    balancer=dict(
        type='OPM',
        q_base=0.5,
        lam=0.5,
        p_exe=0.7,
        begin_epoch=3,
        end_epoch=None))
