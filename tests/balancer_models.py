"""A small two-modality recogniser and batch for balancer tests, and one
training step of it."""
import copy
from typing import Dict, Tuple

import torch
from mmaction.structures import ActionDataSample

from mmdr.engine.optimizers import BalancedOptimWrapper
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


def sharpen_head(model, seed: int = 3):
    """Give the classifier a head far from uniform, with a bias.

    The initial std 0.01 gives every modality and sample nearly the same
    softmax, under which methods that weigh modalities by their confidence
    or share the bias have nothing to act on.

    Args:
        model: A recogniser from :func:`build`.
        seed (int): Seed of the head's new weights.

    Returns:
        The same model, its ``cls_head.fc_cls`` redrawn.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        fc = model.cls_head.fc_cls
        fc.weight.copy_(torch.randn(fc.weight.shape, generator=g))
        fc.bias.copy_(torch.randn(fc.bias.shape, generator=g))
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


def sgd_step(model,
             data: dict,
             wrapper_type: type = BalancedOptimWrapper,
             **sgd) -> Tuple[Dict[str, torch.Tensor], dict]:
    """One step of mmengine's ``train_step`` with SGD, dropout seeded 5 (the
    references seed the same masks).

    Args:
        model: The recogniser.
        data (dict): The batch (copied: ``train_step`` consumes it).
        wrapper_type (type): The optimiser wrapper. Defaults to
            :class:`BalancedOptimWrapper`; mmengine's ``OptimWrapper`` for a
            method acting inside the backward pass alone.
        **sgd: SGD's arguments. Defaults to ``lr=0.1``.

    Returns:
        tuple: The parameters after the step, by name, and the logged
        values.
    """
    wrapper = wrapper_type(
        optimizer=torch.optim.SGD(model.parameters(), **(sgd or dict(lr=0.1))))
    torch.manual_seed(5)
    log_vars = model.train_step(copy.deepcopy(data), wrapper)
    return {
        n: p.detach().clone()
        for n, p in model.named_parameters()
    }, log_vars


def assert_same_parameters(after: Dict[str, torch.Tensor],
                           expected: Dict[str, torch.Tensor]) -> None:
    """The same names, and values equal to ``assert_close``'s tolerance."""
    assert after.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(after[name], value, msg=name)


def assert_predicts_as_joint_training(model) -> None:
    """The model in eval mode predicts with its fused head, as joint
    training does (a balancer that changes training only)."""
    model.eval()
    inputs = model.data_preprocessor(batch(), False)['inputs']
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        torch.testing.assert_close(
            model(inputs, mode='tensor'), model.cls_head(model.fusion(feats)))
