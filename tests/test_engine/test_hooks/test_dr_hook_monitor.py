"""DRHook's monitor mode (``monitor_interval``) in real mmengine runs on small
Multiple Features data: diagnoses after every epoch for the curves of the
paper's Figure 4, without changing what the run re-learns or trains.

Epochs are counted from 1 (mmengine's log and ``epoch_N.pth``).
"""
import json
import os.path as osp

import pytest
import torch
from conftest import REPO, data_root_cfg_options
from dr_test_hooks import Interrupt, InterruptHook
from runs import build_runner, without_timings

from mmdr.engine.hooks import DRHook
from mmdr.utils import register_all_modules

register_all_modules()
DR_CONFIG = osp.join(REPO, 'configs/dr_mfeat.py')
JT_CONFIG = osp.join(REPO, 'configs/jt_mfeat.py')
EPOCHS = 4


def _runner(data_root, work_dir, config=DR_CONFIG, extra=(), **hook):
    options = [
        *data_root_cfg_options(data_root), f'train_cfg.max_epochs={EPOCHS}'
    ]
    options += [f'custom_hooks.0.{k}={v}' for k, v in hook.items()]
    return build_runner(config, work_dir, [*options, *extra])


def _hook(runner):
    (hook, ) = [h for h in runner.hooks if isinstance(h, DRHook)]
    return hook


def _final_weights(work_dir):
    return torch.load(osp.join(str(work_dir),
                               f'epoch_{EPOCHS}.pth'))['state_dict']


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize('value', [0, -1, 1.5, True, '1', [1]])
def test_invalid_monitor_interval(value):
    with pytest.raises(ValueError, match='DRHook: monitor_interval='):
        DRHook(monitor_interval=value)


@pytest.fixture(scope='module')
def plain_run(mfeat_root, tmp_path_factory):
    """dr_mfeat.py for 4 epochs, re-learning after epochs 2 and 3."""
    work = tmp_path_factory.mktemp('plain')
    runner = _runner(mfeat_root, work, interval=1, max_times=2)
    runner.train()
    return work, _hook(runner).history


MONITORED = dict(interval=1, max_times=2, monitor_interval=1)


@pytest.fixture(scope='module')
def monitored_run(mfeat_root, tmp_path_factory):
    """The same run diagnosed after every epoch."""
    work = tmp_path_factory.mktemp('monitored')
    runner = _runner(mfeat_root, work, **MONITORED)
    runner.train()
    return work, _hook(runner).history


def test_monitoring_relearns_and_trains_as_without(plain_run, monitored_run):
    plain_work, plain_history = plain_run
    tmp_path, history = monitored_run
    # A record after every epoch, the last one included; those after epochs
    # 2 and 3 re-learned and are those of the run without monitoring.
    assert [r['epoch'] for r in history] == [1, 2, 3, 4]
    assert [r.get('relearned', True)
            for r in history] == [False, True, True, False]
    relearned = [r for r in history if r.get('relearned', True)]
    assert without_timings(relearned) == without_timings(plain_history)
    assert [r['index'] for r in relearned] == [1, 2]
    for record in history:
        assert list(record['modalities']) == ['fou', 'kar', 'mor']
        for stats in record['modalities'].values():
            assert stats['gap'] == pytest.approx(
                abs(stats['train_purity'] - stats['val_purity']))
        if not record.get('relearned', True):
            assert 'index' not in record
    # Identical training: every kept checkpoint's weights (max_keep_ckpts=3)
    # and the validation metrics equal those of the run without monitoring.
    for epoch in range(2, EPOCHS + 1):
        _assert_same_weights(
            torch.load(tmp_path / f'epoch_{epoch}.pth')['state_dict'],
            torch.load(plain_work / f'epoch_{epoch}.pth')['state_dict'])
    assert _val_metrics(tmp_path) == _val_metrics(plain_work)
    # The file holds every record; the checkpoint of the last epoch those
    # made before it was saved (the one after it runs after training).
    assert json.load(open(tmp_path / 'dr_history.json')) == json.loads(
        json.dumps(history))
    saved = torch.load(tmp_path / f'epoch_{EPOCHS}.pth')['dr_hook']
    assert saved['history'] == history[:3]


def _val_metrics(work_dir):
    (log, ) = list(work_dir.glob('*/vis_data/scalars.json'))
    return [
        entry['acc/top1'] for entry in map(json.loads,
                                           log.read_text().splitlines())
        if 'acc/top1' in entry
    ]


def test_resumed_monitored_run_equals_an_uninterrupted_one(
        mfeat_root, monitored_run, tmp_path):
    straight, reference = monitored_run
    work = tmp_path / 'interrupted'
    first = _runner(mfeat_root, work, **MONITORED)
    # Epoch 3 trained, saved and validated; its re-learning has not run.
    first.register_hook(InterruptHook(3, 'after_val'))
    with pytest.raises(Interrupt):
        first.train()
    assert [r['epoch'] for r in _hook(first).history] == [1, 2]
    resumed = _runner(mfeat_root, work, extra=['resume=True'], **MONITORED)
    resumed.train()
    history = _hook(resumed).history
    assert without_timings(history) == without_timings(reference)
    assert without_timings(json.load(open(
        work / 'dr_history.json'))) == without_timings(reference)
    _assert_same_weights(_final_weights(work), _final_weights(straight))


def test_joint_training_is_monitored_without_relearning(mfeat_root, tmp_path):
    # dr_mfeat.py is jt_mfeat.py plus DRHook: with max_times=0 the hook
    # re-learns nothing and the run trains as joint training.
    runner = _runner(
        mfeat_root, tmp_path / 'monitored', max_times=0, monitor_interval=2)
    runner.train()
    history = _hook(runner).history
    assert [r['epoch'] for r in history] == [2, 4]
    assert all(r['relearned'] is False for r in history)
    assert all(r['num_val_samples'] == 12 for r in history)
    joint = _runner(mfeat_root, tmp_path / 'joint', config=JT_CONFIG)
    joint.train()
    _assert_same_weights(
        _final_weights(tmp_path / 'monitored'),
        _final_weights(tmp_path / 'joint'))
    (log, ) = list((tmp_path / 'monitored').glob('*/*.log'))
    text = log.read_text()
    assert 'diagnoses after epochs [] of 4' in text
    assert 'monitoring (no re-learning) after every 2 epoch(s)' in text
    assert 'D&R monitoring after epoch 4 ' in text
