# MMPareto (Wei & Hu, ICML 2024): one linear head per encoder, whose cross
# entropy is added to the fused loss (weight 1); per encoder the fused and
# uni-modal gradients are integrated (equal weights, or min-norm weights when
# they conflict) and rescaled by gamma = 1.5, the authors' value. What
# tools/analysis/benchmark.py adds to a joint-training config.
model = dict(
    unimodal_head=dict(type='LinearClsHead', topk=(1, )),
    balancer=dict(type='MMPareto', gamma=1.5))
