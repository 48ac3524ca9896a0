"""Hooks that the D&R tests inject into real runs (also via custom_imports
in subprocesses, with this folder on PYTHONPATH)."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdr.registry import HOOKS


def unwrap(model):
    return model.module if is_model_wrapper(model) else model


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class Interrupt(Exception):
    """Simulates a run killed after a given epoch's validation."""


@HOOKS.register_module()
class InterruptHook(Hook):
    priority = 'LOWEST'

    def __init__(self, after_epoch):
        self.after_epoch = after_epoch

    def after_val_epoch(self, runner, metrics=None):
        if runner.epoch == self.after_epoch:
            raise Interrupt(f'interrupted after epoch {runner.epoch}')


@HOOKS.register_module()
class WeightProbeHook(Hook):
    """Records the model's weights just before and after the D&R hook."""

    def __init__(self, when):
        self.when = when
        self.states = {}
        self.priority = 'ABOVE_NORMAL' if when == 'before' else 'BELOW_NORMAL'

    def after_train_epoch(self, runner):
        self.states[runner.epoch] = snapshot(unwrap(runner.model))


@HOOKS.register_module()
class RankWeightDumpHook(Hook):
    """Saves every rank's encoder parameters after each epoch's D&R step."""
    priority = 'BELOW_NORMAL'

    def after_train_epoch(self, runner):
        model = unwrap(runner.model)
        params = {
            k: v.detach().clone()
            for k, v in model.encoders.named_parameters()
        }
        torch.save(
            params,
            osp.join(runner.work_dir,
                     f'rank{get_rank()}_epoch{runner.epoch + 1}.pth'))


@HOOKS.register_module()
class PoisonEncoderHook(Hook):
    """Puts NaN into one encoder before the D&R step of an epoch."""
    priority = 'ABOVE_NORMAL'

    def __init__(self, modality, epoch):
        self.modality, self.epoch = modality, epoch
        self.before = None

    def after_train_epoch(self, runner):
        if runner.epoch != self.epoch:
            return
        model = unwrap(runner.model)
        with torch.no_grad():
            next(model.encoders[self.modality].parameters()).fill_(
                float('nan'))
        self.before = snapshot(model)
