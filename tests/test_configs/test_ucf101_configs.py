"""Every UCF-101 config through tools/dist_train.sh (2 CPU processes) and
tools/test.py (slow tier), on a UCF-101 tree prepared by tools/data/ucf101
from XVID videos, with pretrained checkpoints written here in torchvision's
and mmaction2's formats; and ``configs/dr_ucf101.py`` on a tree as
mmaction2's own tools leave it, with the data root as the only option
(slow tier). Sizes shrink with --cfg-options only. A ``jt_`` config runs
through its ``dr_`` twin, and a ``*_tsn-test`` config, which trains as its
base, tests the checkpoint its base trained (config_groups.py).
"""
import glob
import json
import os.path as osp
import re

import pytest
from config_groups import trains_like_another
from conftest import REPO, data_root_cfg_options
from runs import (build_runner, dist_train_and_test, read_tested_metrics,
                  run_tool_main)
from ucf101_fixtures import corrupt_file, write_mmaction2_tree
from ucf101_options import checkpoint_options, shrink_options

from mmdr.datasets import SampleLoadError, UCF101Dataset

#: Sizes only, and no pretrained weights to fetch.
MMACTION2_TREE_OPTIONS = [
    *shrink_options('dr_ucf101.py'), 'model.encoders.rgb.init_cfg=None',
    'model.encoders.flow.init_cfg=None'
]

UCF_CONFIGS = sorted(
    osp.basename(p)
    for p in glob.glob(osp.join(REPO, 'configs', '*_ucf101*.py')))


@pytest.mark.slow
@pytest.mark.parametrize(
    'config', [c for c in UCF_CONFIGS if not trains_like_another(c)])
def test_config_trains_distributed_and_tests(config, ucf101_root,
                                             pretrained_checkpoints, tmp_path):

    def config_options(name):
        return [
            *data_root_cfg_options(ucf101_root), *shrink_options(name),
            *checkpoint_options(name, pretrained_checkpoints)
        ]

    # tools/test.py runs the test protocol of the *_tsn-test twin where
    # there is one; --test-best already ran the config's own.
    twin = config.replace('.py', '_tsn-test.py')
    test_config = twin if twin in UCF_CONFIGS else config
    log, metrics, test_metrics = dist_train_and_test(
        config,
        config_options(config),
        tmp_path,
        test_config=test_config,
        test_options=config_options(test_config))
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
        ucf101_root, tmp_path, monkeypatch, capsys):
    config = 'dr_ucf101.py'
    options = [
        *data_root_cfg_options(ucf101_root), *shrink_options(config),
        'model.encoders.rgb.init_cfg.checkpoint=/nowhere/resnet18.pth',
        'experiment_name=ucf101_missing_checkpoint'
    ]
    with pytest.raises(
            FileNotFoundError,
            match="init_cfg checkpoint '/nowhere/resnet18.pth' does not "
            'exist'):
        run_tool_main('train.py', [
            osp.join(REPO, 'configs', config), '--work-dir', tmp_path / 'work',
            '--cfg-options', *options
        ], monkeypatch, capsys)
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))


@pytest.mark.slow
def test_mmaction2_tree_trains_and_tests_with_the_data_root_alone(
        tmp_path, monkeypatch, capsys):
    """The README's one command on mmaction2's rawframes and lists without
    classInd.txt: trained on the training part of an in-memory carve,
    selected and diagnosed on its validation part, tested on the official
    test list. Both tools run in this process."""
    root = tmp_path / 'ucf101'
    write_mmaction2_tree(str(root))
    config = osp.join(REPO, 'configs', 'dr_ucf101.py')
    # The last epoch's checkpoint only, without the optimiser's state.
    options = [
        *MMACTION2_TREE_OPTIONS, 'default_hooks.checkpoint.save_best=None',
        'default_hooks.checkpoint.save_optimizer=False'
    ]
    _, log = run_tool_main('train.py', [
        config, '--data-root', root, '--work-dir', tmp_path / 'work',
        '--cfg-options', *options, 'experiment_name=ucf101_data_root_train'
    ], monkeypatch, capsys)
    for subset in ('train', 'val'):
        assert re.search(
            f"split 1 '{subset}' is the .* part of {root}/"
            r'ucf101_train_split_1_rawframes.txt, carved in memory .*: 2 of '
            r'the 5 training groups of every class held out \(seed 0\): 9 '
            'training / 6 validation clips', log), subset
    (record, ) = json.load(open(tmp_path / 'work' / 'dr_history.json'))
    assert record['epoch'] == 1 and set(
        record['modalities']) == {'rgb', 'flow'}
    _, log = run_tool_main('test.py', [
        config, tmp_path / 'work' / 'epoch_2.pth', '--data-root', root,
        '--work-dir', tmp_path / 'test', '--cfg-options', *options,
        'experiment_name=ucf101_data_root_test'
    ], monkeypatch, capsys)
    assert f"split 1 'test' is {root}/ucf101_val_split_1_rawframes.txt" in log
    _, metrics = read_tested_metrics(log)
    assert 0.0 <= metrics['acc/top1'] <= 1.0


def test_corrupt_frame_only_the_diagnosis_reads_is_named(tmp_path):
    """10 RGB frames, 3 segments of 5 flow pairs: training samples RGB
    frames 1-3 only, the validation pipeline of the diagnosis frame 5. A
    corrupt img_00005.jpg of a training clip stops the run at the first
    diagnosis, naming the file, the clip, its line and the check."""
    root = tmp_path / 'ucf101'
    write_mmaction2_tree(str(root))
    info = UCF101Dataset(data_root=str(root), subset='train').get_data_info(0)
    frame = osp.join(info['frame_dir'], 'img_00005.jpg')
    corrupt_file(frame)
    # No checkpoints: writing them is most of such a short run's time.
    runner = build_runner(
        osp.join(REPO, 'configs', 'dr_ucf101.py'), tmp_path / 'work', [
            *data_root_cfg_options(str(root)), *MMACTION2_TREE_OPTIONS,
            'default_hooks.checkpoint.interval=10',
            'default_hooks.checkpoint.save_best=None'
        ])
    with pytest.raises(SampleLoadError) as err:
        runner.train()
    message = str(err.value)
    # Epoch 1 trained (3 iterations): the diagnosis after it read the frame.
    assert (runner.epoch, runner.iter) == (1, 3)
    assert any(
        osp.basename(str(entry.path)) == 'dr_hook.py'
        for entry in err.traceback)
    assert f'({info["clip"]}, from {info["ann_line"]})' in message
    assert info['ann_line'].startswith(
        f'{root}/ucf101_train_split_1_rawframes.txt, line ')
    assert f'unreadable: {frame} (not a JPEG file)' in message
    assert ('python tools/data/ucf101/check_rawframes.py '
            f'{root}/ucf101_train_split_1_rawframes.txt --decode --out '
            f'{root}/unreadable.txt') in message
    # ... which the data sets then leave out without any option.
    assert (f'it writes {root}/unreadable.txt, which the data sets leave out '
            'by default') in message
