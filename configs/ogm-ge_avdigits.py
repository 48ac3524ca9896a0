# OGM-GE on AV-Digits: jt_avdigits.py plus the method of
# _base_/methods/ogm_ge.py (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    balancer=dict(
        type='OGMGE',
        alpha=0.8,
        begin_epoch=1,
        end_epoch=14,
        enhancement=True,
        modulated_params='weights'))
