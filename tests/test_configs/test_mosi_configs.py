"""Every CMU-MOSI / MOSEI config through tools/dist_train.sh (2 CPU
processes, --test-best) and tools/test.py on pickles written in the MulT
format (slow tier); D&R diagnoses the three encoders under DDP; the
regression task runs the same way; bad pickles stop tools/train.py before
training (in this process). A ``jt_`` config runs through its ``dr_`` twin
(config_groups.py)."""
import glob
import json
import os.path as osp
import re

import pytest
from config_groups import is_joint_training_twin
from conftest import REPO, data_root_cfg_options
from mosi_fixtures import NONFINITE_ZERO_OPTIONS
from runs import dist_train_and_test, run_tool_main

MOSI_CONFIGS = sorted(
    osp.basename(p) for pattern in ('*_mosi.py', '*_mosei.py')
    for p in glob.glob(osp.join(REPO, 'configs', pattern)))


def mosi_options(config: str, root: str) -> list:
    """--cfg-options of a short run: 2 epochs, a diagnosis after each."""
    options = [*data_root_cfg_options(root), 'train_cfg.max_epochs=2']
    if 'mosei' in config:
        # The fixture's training audio holds inf and nan, as some MOSEI
        # files do.
        options += NONFINITE_ZERO_OPTIONS
    if config.startswith('dr_'):
        options += [
            'custom_hooks.0.begin=1', 'custom_hooks.0.interval=1',
            'custom_hooks.0.progress=False'
        ]
    return options


#: The regression task as a user derives it from dr_mosi.py (the README
#: shows it): the head regresses the score (L1, as MulT), the best
#: checkpoint has the lowest validation MAE, D&R clusters the binarised
#: labels (k = 2).
REGRESSION_CONFIG = """
_base_ = ['{repo}/configs/dr_mosi.py']
train_dataloader = dict(dataset=dict(task='regression'))
val_dataloader = dict(dataset=dict(task='regression'))
test_dataloader = dict(dataset=dict(task='regression'))
model = dict(cls_head=dict(_delete_=True, type='LinearRegHead', loss='l1'))
default_hooks = dict(checkpoint=dict(save_best='sentiment/mae', rule='less'))
custom_hooks = [
    dict(type='DRHook', begin=10, interval=9, max_times=3, lam=3.0,
         num_clusters=2)
]
"""


@pytest.mark.slow
@pytest.mark.parametrize('config, task', [
    *((c, 'binary') for c in MOSI_CONFIGS if not is_joint_training_twin(c)),
    ('dr_mosi.py', 'regression'),
])
def test_config_trains_distributed_and_tests(config, task, mosi_root,
                                             mosei_root, tmp_path):
    root = mosei_root if 'mosei' in config else mosi_root
    options = mosi_options(config, root)
    if task == 'regression':
        config = str(tmp_path / 'dr_mosi_regression.py')
        with open(config, 'w') as f:
            f.write(REGRESSION_CONFIG.format(repo=REPO))
    log, metrics, test_metrics = dist_train_and_test(config, options, tmp_path)
    assert test_metrics == metrics
    # Both Acc-2 conventions and both F1 scores.
    assert set(metrics) >= {
        'sentiment/acc2', 'sentiment/acc2_nonzero', 'sentiment/f1_weighted',
        'sentiment/f1_macro'
    }
    if task == 'regression':
        assert set(metrics) >= {
            'sentiment/mae', 'sentiment/corr', 'sentiment/acc7'
        }
    if 'mosei' in config:
        assert 'replaced 3 non-finite values with 0' in log
    if osp.basename(config).startswith('dr_'):
        records = json.load(open(tmp_path / 'work' / 'dr_history.json'))
        assert [r['epoch'] for r in records] == [1]
        (record, ) = records
        assert record['world_size'] == 2
        # Each encoder diagnosed and re-learned on its own.
        assert set(record['modalities']) == {'text', 'audio', 'vision'}
        assert record['num_train_samples'] == 48


def _train_in_process(config, options, tmp_path, monkeypatch, capsys):
    """tools/train.py in this process (``experiment_name``: the test's)."""
    run_tool_main('train.py', [
        osp.join(REPO, 'configs', config), '--work-dir', tmp_path / 'work',
        '--cfg-options', *options, f'experiment_name={tmp_path.name}'
    ], monkeypatch, capsys)


def test_non_finite_features_stop_before_training(mosei_root, tmp_path,
                                                  monkeypatch, capsys):
    with pytest.raises(
            ValueError,
            match=re.escape("split 'train' holds non-finite (inf/nan) "
                            "feature values, by modality 'audio': 3")):
        _train_in_process('jt_mosei.py', data_root_cfg_options(mosei_root),
                          tmp_path, monkeypatch, capsys)
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))


def test_other_feature_widths_stop_before_training(mosei_root, tmp_path,
                                                   monkeypatch, capsys):
    # MOSI's widths on a file with MOSEI's: the setting to use is named.
    mosei_file = f'{mosei_root}/mosei_senti_data.pkl'
    with pytest.raises(
            ValueError,
            match=re.escape('set model.encoders.audio.in_channels=74 '
                            'model.encoders.vision.in_channels=35')):
        _train_in_process('jt_mosi.py', [
            *mosi_options('mosei', mosei_root),
            f'train_dataloader.dataset.ann_file={mosei_file}',
            f'val_dataloader.dataset.ann_file={mosei_file}'
        ], tmp_path, monkeypatch, capsys)
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))
