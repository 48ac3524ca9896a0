# Modality-level modality valuation (Wei, Feng, Wang and Hu, CVPR 2024):
# after 5 warm-up epochs (the authors' --warmup default), every epoch
# estimates each modality's mean Shapley contribution on a random 0.2 of the
# training samples (--part_ratio) and adds single copies of random samples
# that keep only the less contributing modality, as many as alpha 1
# (--alpha) times two thirds of the gap between the modalities (the
# authors' code/modality_level.py defaults). What
# tools/analysis/benchmark.py adds to a joint-training config.
model = dict(
    balancer=dict(
        type='SampleValuation',
        level='modality',
        warmup_epochs=5,
        part_ratio=0.2,
        alpha=1.0))
