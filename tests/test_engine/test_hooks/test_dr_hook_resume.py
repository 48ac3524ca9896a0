"""A run resumed from an earlier checkpoint: its D&R history file agrees
with the checkpoint, and a config that diagnoses other modalities than the
checkpoint is refused before training."""
import json
import os.path as osp
import shutil

import pytest
import torch
from conftest import REPO, data_root_cfg_options
from dr_test_hooks import StopAfterStartUp, StopAfterStartUpHook
from runs import build_runner

from mmdr.utils import register_all_modules

register_all_modules()
CONFIG = osp.join(REPO, 'configs/dr_mfeat.py')


def _runner(data_root, work_dir, *extra):
    return build_runner(CONFIG, work_dir, [
        *data_root_cfg_options(data_root), 'train_cfg.max_epochs=3',
        'custom_hooks.0.interval=1', 'custom_hooks.0.begin=1',
        'custom_hooks.0.max_times=2', *extra
    ])


@pytest.fixture(scope='module')
def finished_run(mfeat_root, tmp_path_factory):
    """3 epochs, re-learning after epochs 1 and 2."""
    work = tmp_path_factory.mktemp('finished')
    _runner(mfeat_root, work).train()
    return work


def _history(work):
    return json.load(open(work / 'dr_history.json'))


def test_resuming_an_earlier_checkpoint_drops_later_records(
        finished_run, mfeat_root, tmp_path):
    work = tmp_path / 'work'
    shutil.copytree(finished_run, work)
    assert [r['epoch'] for r in _history(work)] == [1, 2]
    # epoch_2.pth was saved before the diagnosis after epoch 2 ran.
    saved = torch.load(work / 'epoch_2.pth')['dr_hook']['history']
    assert [r['epoch'] for r in saved] == [1]

    runner = _runner(mfeat_root, work, 'resume=True',
                     f'load_from={work / "epoch_2.pth"}')
    runner.register_hook(StopAfterStartUpHook())
    with pytest.raises(StopAfterStartUp):
        runner.train()
    assert _history(work) == json.loads(json.dumps(saved))
    # Written atomically: no temporary file is left beside it.
    assert sorted(p.name for p in work.glob('*.json')) == ['dr_history.json']
    assert not list(work.glob('.dr_history.json.*'))


def test_resuming_with_other_modalities_is_refused_before_training(
        finished_run, mfeat_root, tmp_path):
    runner = _runner(mfeat_root, tmp_path, 'resume=True',
                     f'load_from={finished_run / "epoch_2.pth"}',
                     "custom_hooks.0.modalities=['fou','kar']")
    with pytest.raises(ValueError) as err:
        runner.train()
    assert str(err.value) == (
        "DRHook: the checkpoint resumed from diagnosed the modalities "
        "['fou', 'kar', 'mor'], this run diagnoses ['fou', 'kar']; resume "
        "with the checkpoint's modalities, or start a new run from its "
        'weights with load_from.')
    assert not list(tmp_path.glob('*.pth'))
