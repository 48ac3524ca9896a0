# AGM (Li et al., ICCV 2023): what tools/analysis/benchmark.py adds to a
# joint-training config. alpha 1.0 and modulation in epochs 0-20 (the code's
# epochs count from 1, so epochs 1-20) are the defaults of the authors'
# utils/config.py; the cap 10 of the ratio gap and the clipping to norm 1
# when the head's gradient leaves [-1, 1] are their two-modality CREMA-D
# script's (run/CREMAD_main.py).
model = dict(
    balancer=dict(
        type='AGM',
        alpha=1.0,
        begin_epoch=1,
        end_epoch=20,
        max_gap=10.0,
        head_grad_clip=1.0))
