# ReconBoost on AV-Digits: jt_avdigits.py plus the method of
# _base_/methods/reconboost.py (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    unimodal_head=dict(type='LinearClsHead', topk=(1, )),
    balancer=dict(
        type='ReconBoost',
        epochs_per_stage=1,
        correct_epochs=1,
        weight1=5.0,
        weight2=1.0,
        alpha=0.5,
        boost_rate=1.0,
        fresh_optimizer=True))
find_unused_parameters = True
