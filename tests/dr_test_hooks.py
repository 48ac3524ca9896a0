"""Hooks that the D&R tests inject into real runs (also via custom_imports
in subprocesses, with this folder on PYTHONPATH).

Epochs are counted from 1 as in mmengine's log: in ``before_train_epoch``
``runner.epoch`` is the number of epochs done, i.e. the epoch that D&R
diagnoses there.
"""
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
    """Simulates a run killed at a given point."""


@HOOKS.register_module()
class InterruptHook(Hook):
    """Raises :class:`Interrupt` at one point of a run.

    Args:
        epoch (int): The epoch (from 1) at which to stop.
        where (str): ``'after_val'``: after that epoch's validation, before
            the next epoch (and its D&R step) starts; ``'mid_epoch'``: after
            the first training iteration of that epoch, i.e. after the D&R
            step that ran when it started.
    """
    priority = 'LOWEST'

    def __init__(self, epoch, where='after_val'):
        assert where in ('after_val', 'mid_epoch')
        self.epoch, self.where = epoch, where

    def after_val_epoch(self, runner, metrics=None):
        if self.where == 'after_val' and runner.epoch == self.epoch:
            raise Interrupt(f'interrupted after epoch {runner.epoch}')

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if self.where == 'mid_epoch' and runner.epoch + 1 == self.epoch:
            raise Interrupt(f'interrupted during epoch {self.epoch}')


class StopAfterStartUp(Exception):
    """Raised once every start-up check ran, before the first epoch."""


class StopAfterStartUpHook(Hook):
    """Raises :class:`StopAfterStartUp` after every other hook's
    ``before_train``."""
    priority = 'LOWEST'

    def before_train(self, runner):
        raise StopAfterStartUp


@HOOKS.register_module()
class WeightProbeHook(Hook):
    """Records the model's weights just before (priority ``VERY_HIGH``; the
    D&R step's is ``HIGH``) or after the D&R step, and after every
    validation (keyed by the epoch done)."""

    def __init__(self, when):
        self.when = when
        self.states = {}
        self.validated = {}
        self.priority = 'VERY_HIGH' if when == 'before' else 'BELOW_NORMAL'

    def before_train_epoch(self, runner):
        self.states[runner.epoch] = snapshot(unwrap(runner.model))

    def after_val_epoch(self, runner, metrics=None):
        self.validated[runner.epoch] = snapshot(unwrap(runner.model))


@HOOKS.register_module()
class RankWeightDumpHook(Hook):
    """Saves every rank's encoders (parameters and buffers) just before and
    just after each epoch's D&R step."""
    priority = 'BELOW_NORMAL'

    def _dump(self, runner, when):
        model = unwrap(runner.model)
        torch.save(
            snapshot(model.encoders),
            osp.join(runner.work_dir,
                     f'rank{get_rank()}_epoch{runner.epoch}_{when}.pth'))

    def before_train_epoch(self, runner):
        self._dump(runner, 'after_dr')


@HOOKS.register_module()
class RankWeightDumpBeforeDRHook(RankWeightDumpHook):
    priority = 'VERY_HIGH'  # DRHook's is HIGH

    def before_train_epoch(self, runner):
        self._dump(runner, 'before_dr')


@HOOKS.register_module()
class PoisonEncoderHook(Hook):
    """Puts NaN into one encoder just before the D&R step after an epoch."""
    priority = 'VERY_HIGH'  # DRHook's is HIGH

    def __init__(self, modality, epoch):
        self.modality, self.epoch = modality, epoch
        self.before = None

    def before_train_epoch(self, runner):
        if runner.epoch != self.epoch:
            return
        model = unwrap(runner.model)
        with torch.no_grad():
            next(model.encoders[self.modality].parameters()).fill_(
                float('nan'))
        self.before = snapshot(model)
