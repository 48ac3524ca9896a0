"""DRHook's monitor mode under DDP: tools/train.py under torchrun with 2 CPU
processes (gloo). A diagnosis synchronises the encoders' BatchNorm buffers
from the main process; a monitor diagnosis must give every rank its own
buffers back, so that monitoring changes nothing on any rank."""
import os.path as osp

import pytest
import torch
from conftest import REPO, data_root_cfg_options
from runs import history, train_tool

pytestmark = pytest.mark.slow

CONFIG = osp.join(REPO, 'configs/dr_mfeat.py')


def test_monitoring_leaves_every_rank_as_it_was(mfeat_root, tmp_path):
    config = tmp_path / 'dr_monitor_dump.py'
    config.write_text(
        f'_base_ = [{CONFIG!r}]\n'
        "custom_imports = dict(imports=['dr_test_hooks'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='DRHook', interval=1, begin=2, "
        'max_times=1, monitor_interval=1, progress=False), '
        "dict(type='RankWeightDumpHook'), "
        "dict(type='RankWeightDumpBeforeDRHook')]\n")
    work = tmp_path / 'work'
    train_tool(
        work, [*data_root_cfg_options(mfeat_root), 'train_cfg.max_epochs=3'],
        nproc=2,
        config=str(config))
    records = history(work)
    assert [(r['epoch'], r.get('relearned', True), r['world_size'])
            for r in records] == [(1, False, 2), (2, True, 2), (3, False, 2)]

    def dump(rank, epoch, when):
        return torch.load(work / f'rank{rank}_epoch{epoch}_{when}_dr.pth')

    # After epoch 1 (monitoring) every rank keeps its own encoders, buffers
    # included, although rank 1's BatchNorm statistics differ from rank 0's
    # (what the diagnosis extracted with).
    key = 'fou.layers.0.running_mean'
    assert not torch.equal(
        dump(0, 1, 'before')[key],
        dump(1, 1, 'before')[key])
    for rank in (0, 1):
        before, after = dump(rank, 1, 'before'), dump(rank, 1, 'after')
        assert before.keys() == after.keys()
        for name in before:
            assert torch.equal(before[name], after[name]), (rank, name)
    # After epoch 2 (re-learning) the ranks hold identical encoders.
    rank0, rank1 = dump(0, 2, 'after'), dump(1, 2, 'after')
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
