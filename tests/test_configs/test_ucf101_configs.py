"""Every UCF-101 config through tools/dist_train.sh (2 CPU processes) and
tools/test.py, on a UCF-101 tree prepared by tools/data/ucf101 from XVID
videos, with pretrained checkpoints written here in torchvision's and
mmaction2's formats. Sizes shrink with --cfg-options only.
"""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
from conftest import REPO, data_root_cfg_options
from runs import free_port
from ucf101_options import (checkpoint_options, shrink_options,
                            write_pretrained_checkpoints)

UCF_CONFIGS = sorted(
    osp.basename(p)
    for p in glob.glob(osp.join(REPO, 'configs', '*_ucf101*.py')))


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    return write_pretrained_checkpoints(tmp_path_factory.mktemp('ckpt'))


def _env():
    return dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PORT=str(free_port()),
        PYTHON=sys.executable)


def _tested_metrics(stdout):
    match = re.search(r'Test metrics of (\S+?)( \(.*\))?:\n(\{.*?\n\})',
                      stdout, re.S)
    assert match, stdout[-3000:]
    return match.group(1), json.loads(match.group(3))


@pytest.mark.parametrize('config', UCF_CONFIGS)
def test_config_trains_distributed_and_tests(config, ucf101_root, checkpoints,
                                             tmp_path):
    work = tmp_path / 'work'
    options = [
        *data_root_cfg_options(ucf101_root), *shrink_options(config),
        *checkpoint_options(config, checkpoints)
    ]
    train = subprocess.run([
        'bash',
        osp.join(REPO, 'tools/dist_train.sh'),
        osp.join(REPO, 'configs', config), '2', '--work-dir',
        str(work), '--test-best', '--cfg-options', *options
    ],
                           capture_output=True,
                           text=True,
                           cwd=REPO,
                           env=_env())
    log = train.stdout + train.stderr
    assert train.returncode == 0, (
        train.stdout[-2500:] + '\n[stderr]\n' + train.stderr[-2500:])
    assert 'Distributed training: True' in log
    # Both streams loaded their checkpoint; the flow stream's conv1 was
    # adapted from RGB to 2L = 10 channels.
    assert re.search(
        r'conv1\.conv\.weight \(64, 3, 7, 7\) -> '
        r'\(64, 10, 7, 7\)', log), log[-3000:]
    if 'r50' not in config:
        assert "torchvision's ResNet names mapped" in log
    best, metrics = _tested_metrics(train.stdout)
    assert 0.0 <= metrics['acc/top1'] <= 1.0
    if config.startswith('dr_'):
        (record, ) = json.load(open(work / 'dr_history.json'))
        assert record['epoch'] == 1 and record['world_size'] == 2
        assert set(record['modalities']) == {'rgb', 'flow'}

    # tools/test.py on the selected checkpoint, as a user would.
    tested = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools/test.py'),
        osp.join(REPO, 'configs', config), best, '--work-dir',
        str(tmp_path / 'test'), '--cfg-options', *options
    ],
                            capture_output=True,
                            text=True,
                            cwd=REPO,
                            env=_env())
    assert tested.returncode == 0, (tested.stdout + tested.stderr)[-4000:]
    _, test_metrics = _tested_metrics(tested.stdout)
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
                            env=_env())
    assert result.returncode != 0
    assert "init_cfg checkpoint '/nowhere/resnet18.pth' does not exist" in (
        result.stderr)
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))
