"""D&R's diagnosis and the balancer's epoch step run before mmengine's
IterTimerHook starts an epoch's clock: neither is logged as the time or the
data time of the epoch's first iteration (nor enters the ETA).

The clock of IterTimerHook is replaced by one that only moves when the
diagnosis or the balancer step runs, so the test reads no wall clock.
"""
import os.path as osp

from conftest import REPO, data_root_cfg_options
from runs import build_runner

from mmdr.engine.hooks import DRHook
from mmdr.models.balancers import BaseBalancer
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()
STEP_SECONDS = 1000.0


class StoppedClock:
    """Stands in for the ``time`` module of IterTimerHook: moves only when
    told to."""

    def __init__(self):
        self.now = 0.0

    def time(self):
        return self.now


@MODELS.register_module(force=True)
class SlowEpochStepBalancer(BaseBalancer):
    """Joint training whose epoch step takes STEP_SECONDS on the clock."""
    clock = None

    def loss(self, model, feats, data_samples):
        return self.fused_loss(model, feats, data_samples)

    def before_train_epoch(self, runner):
        type(self).clock.now += STEP_SECONDS


def test_diagnosis_and_balancer_step_are_outside_the_iteration_timer(
        mfeat_root, tmp_path, monkeypatch):
    clock = StoppedClock()
    monkeypatch.setattr('mmengine.hooks.iter_timer_hook.time', clock)
    monkeypatch.setattr(SlowEpochStepBalancer, 'clock', clock)
    import mmdr.engine.hooks.dr_hook as dr_hook_module
    diagnose = dr_hook_module.diagnose_modalities

    def slow_diagnosis(*args, **kwargs):
        clock.now += STEP_SECONDS
        return diagnose(*args, **kwargs)

    monkeypatch.setattr(dr_hook_module, 'diagnose_modalities', slow_diagnosis)
    runner = build_runner(
        osp.join(REPO, 'configs/dr_mfeat.py'),
        tmp_path, [
            *data_root_cfg_options(mfeat_root), 'train_cfg.max_epochs=3',
            'default_hooks.logger.interval=1', 'custom_hooks.0.interval=1',
            'custom_hooks.0.max_times=1'
        ],
        model=dict(balancer=dict(type='SlowEpochStepBalancer')))
    names = [type(h).__name__ for h in runner.hooks]
    # D&R re-learns first, the balancer sees the re-learned encoders, and
    # only then does the timer start the epoch's clock.
    assert names.index('DRHook') < names.index('BalancerHook') < names.index(
        'IterTimerHook')
    runner.train()
    (hook, ) = [h for h in runner.hooks if isinstance(h, DRHook)]
    assert [r['epoch'] for r in hook.history] == [2]
    # Three balancer steps and one diagnosis moved the clock ...
    assert clock.now == 4 * STEP_SECONDS
    # ... but no iteration was timed with any of them (2 per epoch).
    for key in ('train/data_time', 'train/time'):
        values, _ = runner.message_hub.get_scalar(key).data
        assert len(values) == 6
        assert values.tolist() == [0.0] * 6, key
    assert runner.message_hub.get_info('eta') == 0
