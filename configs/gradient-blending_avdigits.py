# Gradient-Blending on AV-Digits: jt_avdigits.py plus the method of
# _base_/methods/gradient_blending.py (the same values; tests hold them
# equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    unimodal_head=dict(type='LinearClsHead', topk=(1, )),
    balancer=dict(type='GradientBlending', interval=9))
train_dataloader = dict(
    sampler=dict(type='HeldOutSampler', heldout_fraction=0.1, split_seed=0))
