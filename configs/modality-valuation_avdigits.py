# Modality-level modality valuation on AV-Digits: jt_avdigits.py plus the
# method of _base_/methods/modality_valuation.py (the same values; tests
# hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    balancer=dict(
        type='SampleValuation',
        level='modality',
        warmup_epochs=5,
        part_ratio=0.2,
        alpha=1.0))
