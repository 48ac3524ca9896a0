"""Every shipped config, interrupted and resumed, is bit-identical on the CPU
to the same run uninterrupted: the same D&R history, the same final weights.

A config whose training equals another's is covered by that one: a ``jt_``
config is its ``dr_`` twin less the D&R hook, a ``*_tsn-test`` config its
base with another test pipeline (both proven in test_all_configs.py), and a
``*_tsn-r50-k400`` config at test size its base from another pretrained
checkpoint (config_groups.resumes_like_another).

Each run is short (4 epochs; D&R configs diagnose after epochs 2 and 3) and
is interrupted twice: after epoch 2's validation, before the D&R step that
follows it, and during epoch 3, after that D&R step. Dropout (Multiple
Features configs), BatchNorm (every encoder), shuffling and a random
augmentation (a random horizontal flip added to AV-Digits' training
pipeline) all draw random numbers.
"""
import os.path as osp

import pytest
import torch
from config_groups import CONFIGS, config_data, resumes_like_another
from conftest import data_root_cfg_options
from dr_test_hooks import Interrupt, InterruptHook
from mmengine.config import Config
from runs import (build_runner, parse_options, read_history_or_none,
                  without_timings)

from mmdr.utils import register_all_modules

register_all_modules()
EPOCHS = 4

#: Resumed in the fast tier, one per mechanism whose state a checkpoint
#: carries: a balancer with buffers (PMR's prototypes) and OGM-GE's noise
#: generator. D&R with dropout and BatchNorm (dr_mfeat.py's model) resumes
#: in the fast tier in test_dr_hook.py; every other config is slow.
FAST_RESUMES = ('pmr_avdigits.py', 'ogm-ge_avdigits.py')
RESUMED_CONFIGS = [
    pytest.param(
        c,
        id=osp.basename(c),
        marks=() if osp.basename(c) in FAST_RESUMES else pytest.mark.slow)
    for c in CONFIGS if not resumes_like_another(c)
]


def _run(config, work, data_root, extra=(), interrupt=None, resume=False):
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parse_options(extra))
    options = [
        *data_root_cfg_options(data_root), *extra,
        f'train_cfg.max_epochs={EPOCHS}', f'resume={resume}'
    ]
    if cfg.get('param_scheduler'):
        options.append(f'param_scheduler.0.T_max={EPOCHS}')
    overrides = {}
    hooks = cfg.get('custom_hooks') or []
    if hooks:
        for hook in hooks:
            if hook['type'] == 'DRHook':
                hook.update(interval=1, begin=2, max_times=2, progress=False)
        overrides['custom_hooks'] = hooks
    if cfg.train_dataloader.dataset.type == 'AVDigitsDataset':
        pipeline = list(cfg.train_dataloader.dataset.pipeline)
        # After loading the PNG: mmcv's RandomFlip draws from numpy.
        pipeline.insert(1, dict(type='RandomFlip', prob=0.5))
        overrides['train_dataloader'] = dict(dataset=dict(pipeline=pipeline))
    runner = build_runner(config, work, options, **overrides)
    if interrupt is not None:
        runner.register_hook(InterruptHook(*interrupt))
        with pytest.raises(Interrupt):
            runner.train()
    else:
        runner.train()
    return runner


@pytest.mark.parametrize('config', RESUMED_CONFIGS)
def test_interrupted_and_resumed_run_is_bit_identical(config, tmp_path,
                                                      request):
    data_root, extra = config_data(config, request)
    _run(config, tmp_path / 'straight', data_root, extra)
    work = tmp_path / 'interrupted'
    _run(config, work, data_root, extra, interrupt=(2, 'after_val'))
    _run(
        config,
        work,
        data_root,
        extra,
        interrupt=(3, 'mid_epoch'),
        resume=True)
    assert not (work / 'epoch_3.pth').exists()
    _run(config, work, data_root, extra, resume=True)

    want = read_history_or_none(tmp_path / 'straight')
    got = read_history_or_none(work)
    if osp.basename(config).startswith('dr_'):
        assert [r['epoch'] for r in want] == [2, 3]
        assert without_timings(got) == without_timings(want)
    else:
        assert want is None and got is None
    final = torch.load(work / f'epoch_{EPOCHS}.pth')
    reference = torch.load(tmp_path / 'straight' / f'epoch_{EPOCHS}.pth')
    assert final['state_dict'].keys() == reference['state_dict'].keys()
    for key, value in reference['state_dict'].items():
        assert torch.equal(final['state_dict'][key], value), key
    assert final['random_state'] is not None
