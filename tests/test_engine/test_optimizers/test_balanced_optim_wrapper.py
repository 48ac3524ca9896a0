"""BalancedOptimWrapper: the balancer acts after the backward pass and
before the step; without a balancer it trains as mmengine's OptimWrapper."""
import copy

import torch
from balancer_models import batch, build
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS

from mmdr.engine.optimizers import BalancedOptimWrapper
from mmdr.registry import OPTIM_WRAPPERS
from mmdr.utils import register_all_modules

register_all_modules()


def _model(**overrides):
    return build(**overrides), batch()


def test_balancer_acts_between_backward_and_step():
    model, data = _model(
        balancer=dict(type='RecordingBalancer', zero_gradient=True))
    start = model.cls_head.fc_cls.weight.detach().clone()
    wrapper = BalancedOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    model.train_step(copy.deepcopy(data), wrapper)
    (seen, ) = model.balancer.seen
    assert seen['grad'].abs().sum() > 0  # the backward pass had run
    assert torch.equal(seen['weight'], start)  # the step had not
    # Its zeroed gradient is the one the optimiser applied.
    assert torch.equal(model.cls_head.fc_cls.weight, start)


def test_without_a_balancer_it_trains_as_optim_wrapper():
    (plain, data), (balanced, _) = _model(), _model()
    for model, wrapper_type in ((plain, OptimWrapper), (balanced,
                                                        BalancedOptimWrapper)):
        wrapper = wrapper_type(
            optimizer=torch.optim.Adam(model.parameters(), lr=0.01))
        torch.manual_seed(0)
        for _ in range(3):
            model.train_step(copy.deepcopy(data), wrapper)
    for (name, p), q in zip(plain.named_parameters(), balanced.parameters()):
        assert torch.equal(p, q), name


def test_registered_for_configs():
    assert OPTIM_WRAPPERS.get('BalancedOptimWrapper') is BalancedOptimWrapper
    assert MMENGINE_OPTIM_WRAPPERS.get('OptimWrapper') is OptimWrapper
