"""RandomStateHook in real runs of configs/dr_mfeat.py (dropout 0.1 on).

That every shipped config resumes bit-identically is tested in
tests/test_configs/test_resume_every_config.py.
"""
import glob
import os.path as osp

import torch
from conftest import REPO, data_root_cfg_options
from runs import build_runner

from mmdr.utils import register_all_modules

register_all_modules()
CONFIG = osp.join(REPO, 'configs/dr_mfeat.py')


def _options(data_root, epochs, *extra):
    return [
        *data_root_cfg_options(data_root), f'train_cfg.max_epochs={epochs}',
        'custom_hooks.0.interval=1', 'custom_hooks.0.max_times=1', *extra
    ]


def _weights(path):
    return torch.load(path)['state_dict']


def test_validation_does_not_move_the_training_stream(mfeat_root, tmp_path):
    # Validating after every epoch or only after the last gives the same
    # training: the validation loader's draws are put back.
    every = build_runner(CONFIG, tmp_path / 'every',
                         _options(mfeat_root, 3, 'train_cfg.val_interval=1'))
    every.train()
    last = build_runner(CONFIG, tmp_path / 'last',
                        _options(mfeat_root, 3, 'train_cfg.val_interval=3'))
    last.train()
    a, b = _weights(tmp_path / 'every' / 'epoch_3.pth'), _weights(
        tmp_path / 'last' / 'epoch_3.pth')
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_checkpoint_without_random_states_resumes_with_a_warning(
        mfeat_root, tmp_path):
    work = tmp_path / 'work'
    build_runner(CONFIG, work, _options(mfeat_root, 2)).train()
    # A checkpoint as mmdr 0.1 wrote it: no random states, D&R state
    # without a version (its history records carry weights_sha256).
    path = work / 'epoch_2.pth'
    ckpt = torch.load(path)
    assert set(ckpt['random_state']) == {'world_size', 'states'}
    del ckpt['random_state']
    del ckpt['dr_hook']['version']
    torch.save(ckpt, path)

    resumed = build_runner(CONFIG, work, _options(mfeat_root, 3,
                                                  'resume=True'))
    resumed.train()
    log = sorted(glob.glob(str(work / '*' / '*.log')))[-1]
    text = open(log).read()
    assert 'holds no random generator states' in text
    assert 'training resumes, but dropout' in text
    assert osp.exists(work / 'epoch_3.pth')
    # The D&R step due after epoch 2 ran once, in the resumed run.
    (record, ) = torch.load(work / 'epoch_3.pth')['dr_hook']['history']
    assert record['epoch'] == 2
