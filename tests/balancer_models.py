"""A small two-modality recogniser and batch for balancer tests."""
import copy

import torch
from mmaction.structures import ActionDataSample

from mmdr.models.balancers import BaseBalancer
from mmdr.registry import MODELS

NUM_CLASSES = 4
WIDTHS = dict(audio=6, visual=5)

#: BatchNorm and dropout on, as in the shipped MLP encoders.
MODEL_CFG = dict(
    type='MultiModalRecognizer',
    encoders=dict(
        audio=dict(
            type='MLPEncoder',
            in_channels=WIDTHS['audio'],
            hidden_channels=(8, 7),
            dropout=0.2),
        visual=dict(
            type='MLPEncoder',
            in_channels=WIDTHS['visual'],
            hidden_channels=(9, ),
            dropout=0.2)),
    fusion=dict(type='ConcatFusion'),
    cls_head=dict(type='LinearClsHead', num_classes=NUM_CLASSES, topk=(1, )))

#: Three MLP encoders: more modalities than OGM-GE and PMR take.
THREE_ENCODERS = dict(
    audio=dict(type='MLPEncoder', in_channels=6),
    visual=dict(type='MLPEncoder', in_channels=5),
    text=dict(type='MLPEncoder', in_channels=3))


def build(seed: int = 0, **overrides):
    """The recogniser, initialised as the Runner does, from a seed."""
    cfg = copy.deepcopy(MODEL_CFG)
    cfg.update(copy.deepcopy(overrides))
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def batch(n: int = 12, seed: int = 1) -> dict:
    """A batch as the dataloader yields it: per modality a list of samples,
    and ``data_samples``."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(NUM_CLASSES, (n, ), generator=g)
    inputs = {
        m: list(torch.randn(n, w, generator=g) + labels[:, None].float())
        for m, w in WIDTHS.items()
    }
    return dict(
        inputs=inputs,
        data_samples=[ActionDataSample().set_gt_labels(y) for y in labels])


@MODELS.register_module()
class RecordingBalancer(BaseBalancer):
    """Joint training that records the head's gradient and weight before
    each step.

    Args:
        zero_gradient (bool): Zero the gradient afterwards, so that a test
            can see which gradient the step applied. Defaults to False.
    """
    modulates_gradients = True

    def __init__(self, zero_gradient: bool = False):
        super().__init__()
        self.zero_gradient = zero_gradient
        self.seen = []

    def loss(self, model, feats, data_samples):
        self.check_step_owner()
        return self.fused_loss(model, feats, data_samples)

    def before_optimizer_step(self, model):
        weight = model.cls_head.fc_cls.weight
        self.seen.append(
            dict(grad=weight.grad.clone(), weight=weight.detach().clone()))
        if self.zero_gradient:
            weight.grad.mul_(0)
