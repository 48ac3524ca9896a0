# Uni-modal auxiliary losses: one linear head per encoder, its cross entropy
# added to the fused loss (weight 1, as MMPareto's and InfoReg's uni-modal
# losses). What tools/analysis/benchmark.py adds to a joint-training config.
model = dict(
    unimodal_head=dict(type='LinearClsHead', topk=(1, )),
    balancer=dict(type='UnimodalAuxLoss', weight=1.0))
