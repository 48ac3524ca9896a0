"""A Pretrained encoder trained by tools/train.py, as a user runs it.

The audio encoder of ``configs/dr_avdigits.py`` becomes a 1-channel
ResNet-18 initialised from an RGB mmaction2 recogniser checkpoint; with a
learning rate of 0 the checkpoints must hold the pretrained weights, conv1
adapted to one channel (TSN's cross-modality initialisation).
"""
import glob
import os
import os.path as osp
import subprocess
import sys

import torch
from conftest import REPO, data_root_cfg_options
from pretrained_checkpoint import (backbone_items, channel_mean,
                                   write_mmaction_checkpoint)

from mmdr.registry import MODELS

BASE = osp.join(REPO, 'configs', 'dr_avdigits.py')
AUDIO_BACKBONE = dict(type='ResNet', depth=18, in_channels=1, pretrained=None)
# Statistics that training mode updates even with a learning rate of 0.
MOVING = ('running_mean', 'running_var', 'num_batches_tracked')


def _write_config(path, checkpoint):
    path.write_text(f"""_base_ = [{BASE!r}]
model = dict(
    encoders=dict(
        audio=dict(
            _delete_=True,
            type='SpectrogramEncoder',
            feat_dim=512,
            backbone={AUDIO_BACKBONE!r},
            init_cfg=dict(
                type='Pretrained', checkpoint={checkpoint!r},
                prefix='backbone.'))))
# Adam with lr 0 (and no cosine floor) leaves every parameter where it is.
optim_wrapper = dict(optimizer=dict(lr=0.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=2, eta_min=0.0, by_epoch=True)
]
train_cfg = dict(max_epochs=2)
# One diagnosis, after epoch 1, for the run to go through D&R too.
custom_hooks = [
    dict(type='DRHook', interval=1, begin=1, max_times=1, progress=False)
]
""")


def test_pretrained_encoder_reaches_the_checkpoints(avdigits_root, tmp_path):
    ckpt_path = tmp_path / 'tsn_r18_rgb.pth'
    expected = backbone_items(write_mmaction_checkpoint(ckpt_path))
    # What the 1-channel backbone should hold: conv1 as the channel mean.
    expected['conv1.conv.weight'] = channel_mean(expected['conv1.conv.weight'],
                                                 1)
    params = {n for n, _ in MODELS.build(AUDIO_BACKBONE).named_parameters()}
    config = tmp_path / 'dr_avdigits_pretrained.py'
    _write_config(config, str(ckpt_path))
    work = tmp_path / 'work'

    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'train.py'),
        str(config), '--work-dir',
        str(work), '--cfg-options', *data_root_cfg_options(avdigits_root)
    ],
                            capture_output=True,
                            text=True,
                            cwd=REPO,
                            env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]

    ckpt = torch.load(work / 'epoch_1.pth', map_location='cpu')
    state = {
        k[len('encoders.audio.backbone.'):]: v
        for k, v in ckpt['state_dict'].items()
        if k.startswith('encoders.audio.backbone.')
    }
    assert set(state) == set(expected)
    assert params and params < set(state)
    for key in params:
        # epoch_1.pth holds epoch 1 as trained (lr 0): D&R re-learns when
        # epoch 2 starts, toward the same values anyway.
        assert torch.equal(state[key], expected[key]), key
    # The other tensors are BatchNorm statistics, which training moved.
    assert all(k.endswith(MOVING) for k in set(state) - params)
    assert not torch.equal(state['conv1.bn.running_mean'],
                           expected['conv1.bn.running_mean'])

    # D&R's theta_init is the loaded checkpoint, buffers included, keyed by
    # the encoder's own state dict keys.
    assert 'dr_hook' in ckpt, sorted(ckpt)
    init = ckpt['dr_hook']['init_state']['audio']
    assert set(init) == {'backbone.' + k for k in expected}
    for key, value in expected.items():
        assert torch.equal(init['backbone.' + key], value), key

    # One line per loaded checkpoint in the run's log file.
    (log_file, ) = glob.glob(str(work / '*' / '*.log'))
    lines = [
        line for line in open(log_file)
        if f'SpectrogramEncoder (ResNet backbone) <- {ckpt_path}' in line
    ]
    assert len(lines) == 1, lines
    assert (f'loaded {len(expected)}/{len(expected)} tensors; adapted 1 '
            '(conv1.conv.weight (64, 3, 7, 7) -> (64, 1, 7, 7)); missing in '
            'the checkpoint: none') in lines[0]
