# InfoReg on AV-Digits: jt_avdigits.py plus the method of
# _base_/methods/inforeg.py (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    balancer=dict(
        type='InfoReg',
        strength=0.95,
        window_threshold=0.05,
        trace_window=10,
        window_modality=None))
