# Sample-level modality valuation on AV-Digits: jt_avdigits.py plus the
# method of _base_/methods/sample_valuation.py (the same values; tests hold
# them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    balancer=dict(type='SampleValuation', level='sample', warmup_epochs=5))
