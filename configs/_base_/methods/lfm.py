# LFM (Yang et al., NeurIPS 2024): what tools/analysis/benchmark.py adds to a
# joint-training config. The authors' README runs their fitted rule
# (Crema_epoch.py, getAlpha_Learnable_Fitted): the classification loss's
# weight is their polynomial of the epoch fitted on CREMA-D's 200 epochs (the
# class's default coefficients). As the other methods' epoch counts, their
# schedule is scaled to the CPU schedules' 27 epochs (epoch_scale 200 / 27;
# 1 keeps their epochs). Their learnable rule (weight_rule='learnable') also
# needs a training set with a held-out part
# (train_dataloader.sampler=dict(type='HeldOutSampler', ...)).
model = dict(
    balancer=dict(type='LFM', weight_rule='fitted', epoch_scale=200 / 27))
