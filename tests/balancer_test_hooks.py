"""Hooks that the balancer tests inject into real runs (also via
custom_imports in subprocesses, with this folder on PYTHONPATH)."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdr.registry import HOOKS


@HOOKS.register_module()
class FinalParameterDumpHook(Hook):
    """Saves every rank's parameters (not buffers: BatchNorm statistics
    are per rank under ``broadcast_buffers=False``) when training ends, as
    ``rank<R>_parameters.pth`` in the work dir."""

    def after_train(self, runner) -> None:
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        torch.save(
            {
                name: p.detach().clone()
                for name, p in model.named_parameters()
            }, osp.join(runner.work_dir, f'rank{get_rank()}_parameters.pth'))
