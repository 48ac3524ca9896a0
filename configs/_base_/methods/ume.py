# UME, uni-modal ensemble (Du et al., ICML 2023): one linear head per
# encoder, each trained by its own cross entropy alone (no fused loss); the
# model predicts with the mean of the uni-modal heads' logits, as the paper
# averages its uni-modal models' outputs. No setting of its own. What
# tools/analysis/benchmark.py adds to a joint-training config.
model = dict(
    unimodal_head=dict(type='LinearClsHead', topk=(1, )),
    balancer=dict(type='UME'))
