# PMR (Fan et al., CVPR 2023): what tools/analysis/benchmark.py adds to a
# joint-training config. alpha 1.0, momentum 0.2 and prototypes from 10% of
# the training batches are the defaults of the authors' main_Prototype_grad.py;
# they modulate epochs 0-100 (counted from 0) of 150, i.e. the first 101,
# here the first 18 of the CPU schedules' 27 (101 / 150 * 27 = 18.2).
# Prototypes are computed by BalancerHook (in _base_/default_runtime.py).
model = dict(
    balancer=dict(
        type='PMR',
        alpha=1.0,
        momentum=0.2,
        begin_epoch=1,
        end_epoch=18,
        proto_fraction=0.1))
