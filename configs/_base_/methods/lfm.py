# LFM (Yang et al., NeurIPS 2024): what tools/analysis/benchmark.py adds to a
# joint-training config. The authors' README runs their fitted rule
# (Crema_epoch.py, getAlpha_Learnable_Fitted): the classification loss's
# weight is their polynomial of the epoch fitted on CREMA-D (the class's
# default coefficients), at their epochs (epoch_scale 1; 200 / max_epochs
# would run their 200-epoch schedule in a shorter training). Their learnable
# rule (weight_rule='learnable') also needs a training set with a held-out
# part (train_dataloader.sampler=dict(type='HeldOutSampler', ...)).
model = dict(balancer=dict(type='LFM', weight_rule='fitted', epoch_scale=1.0))
