# OGM-GE (Peng et al., CVPR 2022): what tools/analysis/benchmark.py adds to a
# joint-training config. alpha 0.8 is the authors' CREMA-D setting; they
# modulate the first half of training (epochs 0-50 of 100), here the first
# 14 of the CPU schedules' 27 epochs.
model = dict(
    balancer=dict(
        type='OGMGE',
        alpha=0.8,
        begin_epoch=1,
        end_epoch=14,
        enhancement=True,
        modulated_params='weights'))
