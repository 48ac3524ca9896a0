"""Hooks that the balancer tests inject into real runs (also via
custom_imports in subprocesses, with this folder on PYTHONPATH)."""
import os.path as osp
from pathlib import Path

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdr.registry import HOOKS


@HOOKS.register_module()
class FinalParameterDumpHook(Hook):
    """Saves every rank's parameters and balancer buffers (not the
    encoders' buffers: BatchNorm statistics are per rank under
    ``broadcast_buffers=False``) when training ends, as
    ``rank<R>_parameters.pth`` in the work dir."""

    def after_train(self, runner) -> None:
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        state = {n: p.detach().clone() for n, p in model.named_parameters()}
        if model.balancer is not None:
            state.update({
                f'balancer.{n}': b.clone()
                for n, b in model.balancer.named_buffers()
            })
        torch.save(
            state, osp.join(runner.work_dir,
                            f'rank{get_rank()}_parameters.pth'))


def parameter_dump_config(tmp_path: Path, config: str) -> str:
    """A config file: ``config`` plus :class:`FinalParameterDumpHook`,
    imported by the training processes (this folder is on their
    PYTHONPATH, see tests/runs.py ``train_tool``)."""
    path = tmp_path / f'{Path(config).stem}_dump.py'
    path.write_text(f'_base_ = [{str(config)!r}]\n'
                    "custom_imports = dict(imports=['balancer_test_hooks'], "
                    'allow_failed_imports=False)\n'
                    "custom_hooks = [dict(type='FinalParameterDumpHook')]\n")
    return str(path)
