"""BalancedAmpOptimWrapper (what --amp makes of BalancedOptimWrapper): the
balancer sees true gradients, clipping and the skipped step of mixed
precision still work.

mmengine builds an AmpOptimWrapper only where a GPU is; here it is built
as there and given torch's CPU loss scaler, so that the scaling is real.
The forward pass stays in float32 (CUDA autocast does nothing on a CPU, and
mmengine's CPU autocast takes only bfloat16, which mmaction2's heads cannot
hand to numpy): with a power-of-two scale, unscaled gradients then equal
full-precision ones exactly.
"""
import copy

import pytest
import torch
from balancer_models import batch, build
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmengine.runner import amp

from mmdr.engine.optimizers import (BalancedAmpOptimWrapper,
                                    BalancedOptimWrapper,
                                    amp_optim_wrapper_cfg)
from mmdr.registry import OPTIM_WRAPPERS
from mmdr.utils import register_all_modules

register_all_modules()
SCALE = 2.0**10


@pytest.fixture
def amp_wrapper(monkeypatch):
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    monkeypatch.setattr(amp, 'get_device', lambda: 'cuda')

    def make(model, loss_scale=SCALE, **kwargs):
        wrapper = BalancedAmpOptimWrapper(
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            loss_scale=loss_scale,
            dtype='float16',
            **kwargs)
        wrapper.loss_scaler = torch.amp.GradScaler(
            'cpu', init_scale=SCALE, growth_interval=1000)
        return wrapper

    return make


def _step(model, wrapper, data):
    torch.manual_seed(0)  # the same dropout masks in both precisions
    model.train_step(copy.deepcopy(data), wrapper)


def _full_precision_step(data):
    """The recording model after one step under BalancedOptimWrapper."""
    model = build(balancer=dict(type='RecordingBalancer'))
    _step(
        model,
        BalancedOptimWrapper(
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1)), data)
    return model


def test_balancer_sees_unscaled_gradients(amp_wrapper):
    data = batch()
    full = _full_precision_step(data)
    mixed = build(balancer=dict(type='RecordingBalancer'))
    wrapper = amp_wrapper(mixed)
    _step(mixed, wrapper, data)

    ((expected, ), (seen, )) = full.balancer.seen, mixed.balancer.seen
    expected, seen = expected['grad'], seen['grad']
    assert expected.abs().max() > 1e-3
    # The float32 gradient, not 1024 times it.
    assert torch.equal(seen, expected)
    for (name, p), q in zip(full.named_parameters(), mixed.parameters()):
        assert torch.equal(q, p), name
    assert wrapper.loss_scaler.get_scale() == SCALE


def test_infinite_gradients_skip_the_step(amp_wrapper):
    data = batch()
    data['inputs']['audio'][0][0] = float('inf')
    model = build(balancer=dict(type='RecordingBalancer'))
    start = copy.deepcopy(model.state_dict())
    # Dynamic scaling, as --amp configures it.
    wrapper = amp_wrapper(model, loss_scale='dynamic')
    _step(model, wrapper, data)
    assert len(model.balancer.seen) == 1  # it acted, and yet:
    for name, p in model.named_parameters():
        assert torch.equal(p, start[name]), name
    assert wrapper.loss_scaler.get_scale() == SCALE / 2


def test_clipping_follows_the_balancer(amp_wrapper):
    data = batch()
    model = build(balancer=dict(type='RecordingBalancer'))
    before = [p.detach().clone() for p in model.parameters()]
    max_norm = 1e-3
    wrapper = amp_wrapper(model, clip_grad=dict(max_norm=max_norm))
    _step(model, wrapper, data)  # unscaled once only, or it would raise
    (seen, ) = model.balancer.seen
    assert seen['grad'].norm() > 10 * max_norm  # true size, before clipping
    step = torch.cat([(b - p.detach()).reshape(-1)
                      for b, p in zip(before, model.parameters())])
    # SGD without momentum moves by lr times the clipped gradient.
    assert 0 < step.norm() / 0.1 <= max_norm * (1 + 1e-4)


def test_amp_switch_of_the_optim_wrapper():
    assert amp_optim_wrapper_cfg(
        dict(type='BalancedOptimWrapper', optimizer=dict(type='SGD'))) == dict(
            type='BalancedAmpOptimWrapper',
            optimizer=dict(type='SGD'),
            loss_scale='dynamic')
    assert amp_optim_wrapper_cfg(dict(optimizer=dict(type='SGD')))['type'] \
        == 'AmpOptimWrapper'
    kept = dict(type='BalancedAmpOptimWrapper', loss_scale=512.0)
    assert amp_optim_wrapper_cfg(kept) == kept
    with pytest.raises(ValueError, match="'ApexOptimWrapper' has no mixed"):
        amp_optim_wrapper_cfg(dict(type='ApexOptimWrapper'))
    assert OPTIM_WRAPPERS.get(
        'BalancedAmpOptimWrapper') is BalancedAmpOptimWrapper


def test_bfloat16_autocast_trains_and_predicts(monkeypatch):
    # mmengine's CPU autocast (bfloat16) for real: the heads give float32
    # scores, which mmaction2's accuracy hands to numpy.
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    data = batch()
    full = _full_precision_step(data)
    mixed = build(balancer=dict(type='RecordingBalancer'))
    wrapper = BalancedAmpOptimWrapper(
        optimizer=torch.optim.SGD(mixed.parameters(), lr=0.1),
        dtype='bfloat16')
    torch.manual_seed(0)
    with wrapper.optim_context(mixed):
        losses = mixed(
            **mixed.data_preprocessor(copy.deepcopy(data), True), mode='loss')
    assert losses['loss_cls'].dtype == torch.float32
    _step(mixed, wrapper, data)
    ((expected, ), (seen, )) = full.balancer.seen, mixed.balancer.seen
    # bfloat16 has 8 bits of mantissa.
    torch.testing.assert_close(
        seen['grad'], expected['grad'], rtol=0.05, atol=0.02)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        (sample, *_) = mixed.val_step(copy.deepcopy(data))
    assert sample.pred_scores.item.dtype == torch.float32
