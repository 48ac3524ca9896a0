# LFM (Yang et al., NeurIPS 2024): what tools/analysis/benchmark.py adds to a
# joint-training config. The classification loss's weight follows the
# authors' polynomial fitted on CREMA-D (Crema_epoch.py,
# getAlpha_Learnable_Fitted: the class's default coefficients), at their
# epochs (epoch_scale 1; 200 / max_epochs would run their 200-epoch schedule
# in a shorter training).
model = dict(balancer=dict(type='LFM', epoch_scale=1.0))
