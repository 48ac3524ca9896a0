"""D&R under DDP: tools/train.py under torchrun with 2 CPU processes (gloo).

BatchNorm (the MLP encoders' input norm) and dropout stay on, as
``configs/dr_mfeat.py`` ships them: every rank's running statistics drift
apart during training (``broadcast_buffers=False``), which is what a
diagnosis must not see.
"""
import os.path as osp

import pytest
import torch
from conftest import REPO, data_root_cfg_options
from runs import history, train_tool, without_timings

CONFIG = osp.join(REPO, 'configs/dr_mfeat.py')


def _options(data_root, epochs):
    return [
        *data_root_cfg_options(data_root), f'train_cfg.max_epochs={epochs}'
    ]


def _config(tmp_path):
    """dr_mfeat.py plus hooks that dump every rank's encoders around D&R."""
    config = tmp_path / 'dr_dump.py'
    config.write_text(
        f'_base_ = [{CONFIG!r}]\n'
        "custom_imports = dict(imports=['dr_test_hooks'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='DRHook', interval=1, max_times=1, "
        'max_train_samples=41, progress=False), '
        "dict(type='RankWeightDumpHook'), "
        "dict(type='RankWeightDumpBeforeDRHook')]\n")
    return str(config)


@pytest.fixture(scope='module')
def two_process_run(mfeat_root, tmp_path_factory):
    """3 epochs on 2 processes; D&R after epoch 2 (when epoch 3 starts).

    41 training samples leave one rank a padded one.
    """
    tmp = tmp_path_factory.mktemp('dist')
    work = tmp / 'two'
    train_tool(work, _options(mfeat_root, 3), 2, _config(tmp))
    return tmp, work


def test_two_ranks_diagnose_like_one_process_with_batchnorm(
        mfeat_root, two_process_run):
    tmp, two = two_process_run
    # The same weights diagnosed by one process: resume the 2-process run's
    # epoch_2.pth (rank 0's weights and buffers, as saved) in 1 process.
    one = tmp / 'one'
    train_tool(
        one,
        _options(mfeat_root, 3),
        1,
        _config(tmp),
        extra_args=['--resume', str(two / 'epoch_2.pth')])
    (two_record, ) = history(two)
    (one_record, ) = history(one)
    assert two_record['world_size'] == 2 and one_record['world_size'] == 1
    assert two_record['epoch'] == one_record['epoch'] == 2
    assert two_record['num_train_samples'] == 41
    assert without_timings([one_record]) == without_timings(
        [dict(two_record, world_size=1)])
    assert any(s['strength'] > 0 for s in two_record['modalities'].values())

    # The test is sensitive: before D&R, rank 1's BatchNorm statistics
    # differed from rank 0's (which the checkpoint holds).
    rank0 = torch.load(two / 'rank0_epoch2_before_dr.pth')
    rank1 = torch.load(two / 'rank1_epoch2_before_dr.pth')
    key = 'fou.layers.0.running_mean'
    assert not torch.equal(rank0[key], rank1[key])
    saved = torch.load(two / 'epoch_2.pth')['state_dict']
    assert torch.equal(rank0[key], saved[f'encoders.{key}'])

    # After re-learning both ranks hold bit-identical encoders, parameters
    # and buffers, equal to what one process made of the same weights.
    rank0 = torch.load(two / 'rank0_epoch2_after_dr.pth')
    rank1 = torch.load(two / 'rank1_epoch2_after_dr.pth')
    single = torch.load(one / 'rank0_epoch2_after_dr.pth')
    assert rank0.keys() == rank1.keys() == single.keys()
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
        assert torch.equal(rank0[name], single[name]), name


def test_two_ranks_stay_identical_through_training(two_process_run):
    _, work = two_process_run
    # The epoch-3 checkpoint (rank 0) continues from the re-learned weights.
    ckpt = torch.load(work / 'epoch_3.pth')
    assert [r['epoch'] for r in ckpt['dr_hook']['history']] == [2]
    assert ckpt['random_state']['world_size'] == 2
    # Every rank's generators are saved (mmengine seeds the ranks alike
    # unless --diff-rank-seed; the streams may still part, e.g. in workers).
    states = ckpt['random_state']['states']
    assert len(states) == 2
    assert all(s['torch'].dtype == torch.uint8 for s in states)
