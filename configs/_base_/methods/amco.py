# AMCo (adaptive mask co-optimisation, Zhou et al., ICASSP 2023), as
# BalanceMM implements it (no code by the authors is public): an extra
# class-to-class layer after the concatenation head; the modality whose
# share of the softmax over all modalities' logits exceeded sigma at the
# previous batch has its logits masked class-wise, more classes as the epoch
# goes on, and every modality's logits get a cross entropy. sigma 0.5 and
# eps 0.3 are BalanceMM's AMCo settings (trainer_config.yaml); BalanceMM
# masks in its epochs 0 to 80, the whole of a run this long. What
# tools/analysis/benchmark.py adds to a joint-training config.
model = dict(
    balancer=dict(
        type='AMCo', sigma=0.5, eps=0.3, begin_epoch=1, end_epoch=None))
