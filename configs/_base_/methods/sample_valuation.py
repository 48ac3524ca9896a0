# Sample-level modality valuation (Wei, Feng, Wang and Hu, CVPR 2024): after
# 5 warm-up epochs of joint training (the authors' --warmup default), every
# epoch values each training sample's Shapley contribution of every modality
# and adds 1 to 3 copies of the sample that keep only a low-contributing
# modality (the authors' thresholds, code/datasets/dataloader.py). What
# tools/analysis/benchmark.py adds to a joint-training config.
model = dict(
    balancer=dict(type='SampleValuation', level='sample', warmup_epochs=5))
