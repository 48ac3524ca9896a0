# MBSD, as BalanceMM implements it (no code by the authors is public): the
# fused loss plus every modality's cross entropy (the concatenation head's
# slices) and, between the modalities, a distance and a divergence of their
# predictions weighted per sample by the gap between their probabilities of
# the true class. BalanceMM regularises in its epochs 0 to 80, the whole of
# a run this long; it has no other setting. What
# tools/analysis/benchmark.py adds to a joint-training config.
model = dict(balancer=dict(type='MBSD', begin_epoch=1, end_epoch=None))
