"""BalancerHook: the balancer's epoch step on the unwrapped model, nothing
for a model without a balancer, and its place among the default hooks
(after D&R's re-learning)."""
import os.path as osp
from types import SimpleNamespace

import torch
from conftest import REPO, data_root_cfg_options
from runs import build_runner

from mmdr.engine.hooks import BalancerHook
from mmdr.models.balancers import BaseBalancer
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()


@MODELS.register_module(force=True)
class EpochRecordingBalancer(BaseBalancer):
    """Joint training; records what each epoch step saw."""

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.calls = []

    def loss(self, model, feats, data_samples):
        return self.fused_loss(model, feats, data_samples)

    def before_train_epoch(self, runner):
        model = runner.model.module if hasattr(runner.model,
                                               'module') else runner.model
        self.calls.append((runner.epoch, model.encoders['visual'].state_dict()
                           ['backbone.stages.0.0.conv.weight'].clone()))


def test_the_balancer_gets_the_runner_and_a_plain_model_nothing():
    calls = []
    balancer = SimpleNamespace(before_train_epoch=calls.append)
    runner = SimpleNamespace(model=SimpleNamespace(balancer=balancer))
    BalancerHook().before_train_epoch(runner)
    assert calls == [runner]
    # No balancer (joint training), or a model without the attribute.
    BalancerHook().before_train_epoch(
        SimpleNamespace(model=SimpleNamespace(balancer=None)))
    BalancerHook().before_train_epoch(
        SimpleNamespace(model=torch.nn.Linear(1, 1)))


def test_a_wrapped_model_is_unwrapped(monkeypatch):
    calls = []
    inner = torch.nn.Module()
    inner.balancer = SimpleNamespace(before_train_epoch=calls.append)
    wrapper = SimpleNamespace(module=inner)  # stands in for DDP
    monkeypatch.setattr('mmdr.engine.hooks.balancer_hook.is_model_wrapper',
                        lambda model: model is wrapper)
    runner = SimpleNamespace(model=wrapper)
    BalancerHook().before_train_epoch(runner)
    assert calls == [runner]


def test_every_epoch_starts_with_the_step_after_dr_relearned(
        avdigits_root, tmp_path):
    """The default hooks (BalancerHook at ABOVE_NORMAL, DRHook at HIGH)
    with D&R after epoch 1 (when epoch 2 starts): the balancer sees the
    re-learned encoders, i.e. what epoch 2 trains."""
    runner = build_runner(
        osp.join(REPO, 'configs/dr_avdigits.py'),
        tmp_path / 'work', [
            *data_root_cfg_options(avdigits_root), 'train_cfg.max_epochs=2',
            "model.balancer.type='EpochRecordingBalancer'"
        ],
        custom_hooks=[
            dict(
                type='DRHook',
                interval=1,
                begin=1,
                max_times=1,
                progress=False,
                kmeans_n_init=1)
        ])
    names = [type(h).__name__ for h in runner.hooks]
    assert names.index('DRHook') < names.index('BalancerHook') < names.index(
        'RandomStateHook')
    runner.train()
    calls = runner.model.balancer.calls
    assert [epoch for epoch, _ in calls] == [0, 1]
    dr_hook = [h for h in runner.hooks if type(h).__name__ == 'DRHook'][0]
    (record, ) = dr_hook.history
    assert record['epoch'] == 1
    strength = record['modalities']['visual']['strength']
    assert strength > 0
    # Epoch 1's weights as saved (before re-learning), blended toward
    # theta_init: what the balancer saw when epoch 2 started.
    ckpt = torch.load(tmp_path / 'work' / 'epoch_1.pth')
    key = 'backbone.stages.0.0.conv.weight'
    saved = ckpt['state_dict'][f'encoders.visual.{key}']
    init = ckpt['dr_hook']['init_state']['visual'][key]
    torch.testing.assert_close(calls[1][1],
                               (1 - strength) * saved + strength * init)
    assert not torch.equal(calls[1][1], saved)
