"""Every UCF-101 config through tools/dist_train.sh (2 CPU processes) and
tools/test.py, on a UCF-101 tree prepared by tools/data/ucf101 from XVID
videos, with pretrained checkpoints written here in torchvision's and
mmaction2's formats. Sizes shrink with --cfg-options only. A ``jt_`` config
runs through its ``dr_`` twin (config_groups.py).
"""
import glob
import json
import os.path as osp
import re
import subprocess
import sys

import pytest
from config_groups import is_joint_training_twin
from conftest import REPO, data_root_cfg_options
from runs import dist_train_and_test, tool_env
from ucf101_options import (checkpoint_options, shrink_options,
                            write_pretrained_checkpoints)

UCF_CONFIGS = sorted(
    osp.basename(p)
    for p in glob.glob(osp.join(REPO, 'configs', '*_ucf101*.py')))


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    return write_pretrained_checkpoints(tmp_path_factory.mktemp('ckpt'))


@pytest.mark.parametrize(
    'config', [c for c in UCF_CONFIGS if not is_joint_training_twin(c)])
def test_config_trains_distributed_and_tests(config, ucf101_root, checkpoints,
                                             tmp_path):
    options = [
        *data_root_cfg_options(ucf101_root), *shrink_options(config),
        *checkpoint_options(config, checkpoints)
    ]
    log, metrics, test_metrics = dist_train_and_test(config, options, tmp_path)
    # Both streams loaded their checkpoint; the flow stream's conv1 was
    # adapted from RGB to 2L = 10 channels.
    assert re.search(
        r'conv1\.conv\.weight \(64, 3, 7, 7\) -> '
        r'\(64, 10, 7, 7\)', log), log[-3000:]
    if 'r50' not in config:
        assert "torchvision's ResNet names mapped" in log
    assert 0.0 <= metrics['acc/top1'] <= 1.0
    if config.startswith('dr_'):
        (record, ) = json.load(open(tmp_path / 'work' / 'dr_history.json'))
        assert record['epoch'] == 1 and record['world_size'] == 2
        assert set(record['modalities']) == {'rgb', 'flow'}
    # tools/test.py on the selected checkpoint, as a user would.
    assert set(test_metrics) >= {'acc/top1', 'acc/top5', 'acc/mean1'}


def test_missing_pretrained_checkpoint_fails_before_training(
        ucf101_root, tmp_path):
    config = 'dr_ucf101.py'
    options = [
        *data_root_cfg_options(ucf101_root), *shrink_options(config),
        'model.encoders.rgb.init_cfg.checkpoint=/nowhere/resnet18.pth'
    ]
    result = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools/train.py'),
        osp.join(REPO, 'configs', config), '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', *options
    ],
                            capture_output=True,
                            text=True,
                            cwd=REPO,
                            env=tool_env())
    assert result.returncode != 0
    assert "init_cfg checkpoint '/nowhere/resnet18.pth' does not exist" in (
        result.stderr)
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))
