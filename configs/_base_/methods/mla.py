# MLA (Zhang et al., CVPR 2024): what tools/analysis/benchmark.py adds to a
# joint-training config. The shared head: every encoder's feature is
# projected to one width by SumFusion's per-modality linear layers and
# classified by the model's cls_head; 512 is the width of the authors'
# shared head (ResNet-18 features, their GSPlugin's eye(512)). The head's
# gradient projection is on (the paper; the authors' published loop never
# reaches it, see MLA's docstring). A batch trains one modality after
# another, so under DDP the earlier modalities' encoders are unused in the
# last backward: DDP must look for them (find_unused_parameters), and leaves
# their gradients (zeros) as they are.
model = dict(
    fusion=dict(type='SumFusion', out_channels=512),
    balancer=dict(type='MLA', gradient_modification=True))
find_unused_parameters = True
