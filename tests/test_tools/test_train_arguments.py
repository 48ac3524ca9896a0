"""How tools/train.py and tools/test.py merge their arguments into the
config: mmaction2's order (``--cfg-options`` wins over the arguments that set
the same value), and the documented exceptions, in this process."""
import functools
import os.path as osp
import runpy
import sys

import mmaction
import pytest
import torch
from conftest import REPO
from mmengine.config import Config

JT_MFEAT = osp.join(REPO, 'configs/jt_mfeat.py')
DR_MFEAT = osp.join(REPO, 'configs/dr_mfeat.py')
#: mmaction2's own tools/train.py, as its package ships it.
MMACTION_TRAIN = osp.join(
    osp.dirname(mmaction.__file__), '.mim', 'tools', 'train.py')


@functools.lru_cache()
def _tool(path):
    """The globals of a tool script (its ``parse_args``, ``merge_args``)."""
    return runpy.run_path(path)


def _args(tool, monkeypatch, *argv):
    """``tool``'s parsed command line ``argv``."""
    monkeypatch.setattr(sys, 'argv', [tool, *map(str, argv)])
    # parse_args sets LOCAL_RANK where it is unset; keep it out of this
    # process's environment after the test.
    monkeypatch.setenv('LOCAL_RANK', '0')
    return _tool(osp.join(REPO, 'tools', tool))['parse_args']()


def merged(tool, monkeypatch, *argv):
    """The config that ``tools/<tool> *argv`` would run."""
    args = _args(tool, monkeypatch, *argv)
    merge_args = _tool(osp.join(REPO, 'tools', tool))['merge_args']
    return merge_args(Config.fromfile(args.config), args)


def _path(cfg, key):
    """The value at a dotted ``key`` of a config."""
    value = cfg
    for part in key.split('.'):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


@pytest.fixture
def checkpoint(tmp_path):
    """A file where tools/test.py's checkpoint must be (it is not read)."""
    path = tmp_path / 'epoch_1.pth'
    path.touch()
    return str(path)


@pytest.mark.parametrize(
    'argv, key, value',
    [
        # --cfg-options is merged after the arguments that set a value.
        (['--work-dir', 'a', '--cfg-options', 'work_dir=b'], 'work_dir', 'b'),
        (['--cfg-options', 'work_dir=b'], 'work_dir', 'b'),
        ([], 'work_dir', './work_dirs/jt_mfeat'),
        (['--resume', '--cfg-options', 'resume=False'], 'resume', False),
        (['--resume', 'x.pth', '--cfg-options', 'load_from=y.pth'
          ], 'load_from', 'y.pth'),
        (['--resume', 'x.pth'], 'load_from', 'x.pth'),
        (['--auto-scale-lr', '--cfg-options', 'auto_scale_lr.enable=False'
          ], 'auto_scale_lr.enable', False),
        (['--auto-scale-lr'], 'auto_scale_lr.enable', True),
        (['--launcher', 'slurm', '--cfg-options', 'launcher=none'
          ], 'launcher', 'none'),
        (['--seed', 3, '--cfg-options', 'randomness.seed=5'
          ], 'randomness.seed', 5),
        ([
            '--data-root', 'a', '--cfg-options',
            'test_dataloader.dataset.data_root=b'
        ], 'test_dataloader.dataset.data_root', 'b'),
        ([
            '--data-root', 'a', '--cfg-options',
            'test_dataloader.dataset.data_root=b'
        ], 'train_dataloader.dataset.data_root', 'a'),
    ])
def test_train_cfg_options_win_over_the_arguments_that_set_a_value(
        monkeypatch, argv, key, value):
    assert _path(merged('train.py', monkeypatch, JT_MFEAT, *argv),
                 key) == value


@pytest.mark.skipif(
    not osp.isfile(MMACTION_TRAIN),
    reason="mmaction2's package ships no tools/train.py here")
@pytest.mark.parametrize('argv', [
    ['--work-dir', 'a', '--cfg-options', 'work_dir=b'],
    ['--resume', '--cfg-options', 'resume=False', 'load_from=y.pth'],
    ['--resume', 'x.pth', '--auto-scale-lr', '--launcher', 'pytorch'],
    ['--auto-scale-lr', '--cfg-options', 'auto_scale_lr.enable=False'],
    ['--launcher', 'pytorch', '--cfg-options', 'launcher=none'],
])
def test_train_merges_as_mmaction2s_train_tool(monkeypatch, argv):
    """The arguments both tools have end as mmaction2's tool leaves them."""
    args = _args('train.py', monkeypatch, JT_MFEAT, *argv)
    ours = merged('train.py', monkeypatch, JT_MFEAT, *argv)
    theirs = _tool(MMACTION_TRAIN)['merge_args'](Config.fromfile(JT_MFEAT),
                                                 args)
    assert ours.to_dict() == theirs.to_dict()


def test_train_seed_options_update_the_configs_randomness(monkeypatch):
    # Every config sets randomness (seed 0); mmaction2's tool would keep it.
    cfg = merged('train.py', monkeypatch, JT_MFEAT, '--seed', 3,
                 '--diff-rank-seed', '--deterministic')
    assert cfg.randomness == dict(
        seed=3, diff_rank_seed=True, deterministic=True)
    assert merged('train.py', monkeypatch, JT_MFEAT,
                  '--deterministic').randomness == dict(
                      seed=0, diff_rank_seed=False, deterministic=True)


def test_train_amp_switches_the_wrapper_the_options_leave(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = merged('train.py', monkeypatch, JT_MFEAT, '--amp')
    assert cfg.optim_wrapper.type == 'BalancedAmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    cfg = merged('train.py', monkeypatch, JT_MFEAT, '--amp', '--cfg-options',
                 'optim_wrapper.type=OptimWrapper',
                 'optim_wrapper.loss_scale=512.0')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 512.0
    with pytest.raises(
            SystemExit,
            match="jt_mfeat.py: --amp: optim_wrapper.type='SGD' has no "
            'mixed-precision counterpart'):
        merged('train.py', monkeypatch, JT_MFEAT, '--amp', '--cfg-options',
               'optim_wrapper.type=SGD')


def test_train_no_validate_hands_the_optioned_val_set_to_dr(monkeypatch):
    cfg = merged('train.py', monkeypatch, DR_MFEAT, '--data-root', 'a',
                 '--no-validate', '--cfg-options',
                 'val_dataloader.dataset.data_root=b',
                 'val_dataloader.batch_size=5')
    assert cfg.val_dataloader is None and cfg.val_cfg is None
    assert cfg.val_evaluator is None
    assert 'save_best' not in cfg.default_hooks.checkpoint
    (hook, ) = cfg.custom_hooks
    # D&R's validation data set, taken over from the dropped loader as the
    # options left it.
    assert hook.val_dataset.data_root == 'b'
    assert hook.batch_size == 5
    assert cfg.train_dataloader.dataset.data_root == 'a'
    cfg = merged('train.py', monkeypatch, DR_MFEAT, '--data-root', 'a',
                 '--no-validate')
    assert cfg.custom_hooks[0].val_dataset.data_root == 'a'


def test_persistent_workers_follow_the_final_num_workers(
        monkeypatch, tmp_path, checkpoint):
    config = tmp_path / 'jt_mfeat_workers.py'
    config.write_text(f'_base_ = [{JT_MFEAT!r}]\n'
                      'train_dataloader = dict(num_workers=2, '
                      'persistent_workers=True)\n'
                      'test_dataloader = dict(num_workers=2, '
                      'persistent_workers=True)\n')
    cfg = merged('train.py', monkeypatch, config, '--cfg-options',
                 'train_dataloader.num_workers=0')
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.test_dataloader.persistent_workers is True
    cfg = merged('test.py', monkeypatch, config, checkpoint, '--cfg-options',
                 'test_dataloader.num_workers=0')
    assert cfg.test_dataloader.persistent_workers is False


def test_test_work_dir_and_checkpoint_win_over_cfg_options(
        monkeypatch, checkpoint):
    """As mmaction2's tools/test.py: --cfg-options, then --work-dir and the
    checkpoint."""
    cfg = merged('test.py', monkeypatch, JT_MFEAT, checkpoint, '--work-dir',
                 'a', '--cfg-options', 'work_dir=b', 'load_from=c.pth',
                 'resume=True')
    assert (cfg.work_dir, cfg.load_from, cfg.resume) == ('a', checkpoint,
                                                         False)
    cfg = merged('test.py', monkeypatch, JT_MFEAT, checkpoint, '--cfg-options',
                 'work_dir=b', 'launcher=pytorch')
    assert (cfg.work_dir, cfg.launcher) == ('b', 'pytorch')
    cfg = merged('test.py', monkeypatch, JT_MFEAT, checkpoint)
    assert (cfg.work_dir, cfg.launcher) == ('./work_dirs/jt_mfeat', 'none')


def test_test_data_root_yields_to_cfg_options(monkeypatch, checkpoint):
    cfg = merged('test.py', monkeypatch, JT_MFEAT, checkpoint, '--data-root',
                 'a', '--cfg-options', 'test_dataloader.dataset.data_root=b')
    assert cfg.test_dataloader.dataset.data_root == 'b'
    assert cfg.val_dataloader.dataset.data_root == 'a'


def test_test_dump_joins_the_evaluator_the_options_leave(
        monkeypatch, checkpoint, tmp_path):
    dump = str(tmp_path / 'out.pkl')
    cfg = merged('test.py', monkeypatch, JT_MFEAT, checkpoint, '--dump', dump,
                 '--cfg-options',
                 'test_evaluator.metric_list=[top_k_accuracy]')
    assert cfg.test_evaluator == [
        dict(type='AccMetric', metric_list=['top_k_accuracy']),
        dict(type='DumpResults', out_file_path=dump)
    ]
