# Gradient-Blending (Wang, Tran, Feiszli, CVPR 2020): one linear head per
# encoder; the training loss weighs each uni-modal head's cross entropy and
# the fused loss by the head's overfitting-to-generalisation ratio (its
# online G-Blend). BalanceMM re-estimates every 10 of 30 epochs (its
# super_epoch); here every 9 of the CPU schedules' 27 (10 / 30 * 27).
# The weights are estimated on a tenth of the training set held out of
# training (as the unofficial implementations: tsai's V_pct=0.1, MultiBench's
# v_rate=0.08; the paper holds out part of its training data): the training
# loader reads the other nine tenths. The estimate runs in BalancerHook (in
# _base_/default_runtime.py). What tools/analysis/benchmark.py adds to a
# joint-training config.
model = dict(
    unimodal_head=dict(type='LinearClsHead', topk=(1, )),
    balancer=dict(type='GradientBlending', interval=9))
train_dataloader = dict(
    sampler=dict(type='HeldOutSampler', heldout_fraction=0.1, split_seed=0))
