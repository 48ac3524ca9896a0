"""A Pretrained encoder trained by tools/train.py, as a user runs it.

The audio encoder of ``configs/dr_avdigits.py`` becomes a 1-channel
ResNet-18 initialised from an RGB mmaction2 recogniser checkpoint; with a
learning rate of 0 the checkpoints must hold the pretrained weights, conv1
adapted to one channel (TSN's cross-modality initialisation).
"""
import glob
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from conftest import REPO, data_root_cfg_options
from log_capture import captured_log
from pretrained_checkpoint import (backbone_items, channel_mean,
                                   torchvision_resnet_state_dict,
                                   write_mmaction_checkpoint)
from runs import build_runner, parse_options
from ucf101_options import shrink_options

from mmdr.models.utils import CheckpointUnreachableError
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


@pytest.mark.slow
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

    # One line per encoder in the run's log file: where its weights came
    # from.
    (log_file, ) = glob.glob(str(work / '*' / '*.log'))
    lines = [line for line in open(log_file) if ' <- ' in line]
    assert len(lines) == 2, lines
    assert ('model.encoders.visual: FrameEncoder (SmallCNN backbone) <- '
            'random initialisation (no init_cfg): trained from scratch'
            ) in lines[1]
    assert ('model.encoders.audio: SpectrogramEncoder (ResNet backbone) <- '
            f'{ckpt_path}') in lines[0]
    assert (f'loaded {len(expected)}/{len(expected)} tensors; adapted 1 '
            '(conv1.conv.weight (64, 3, 7, 7) -> (64, 1, 7, 7)); missing in '
            'the checkpoint: none') in lines[0]


# ------------------------------------------ pretrained weights, no network
UCF101_CONFIG = 'dr_ucf101.py'


def _ucf101_runner(ucf101_root, work, *options):
    return build_runner(
        osp.join(REPO, 'configs', UCF101_CONFIG), work, [
            *data_root_cfg_options(ucf101_root),
            *shrink_options(UCF101_CONFIG), *options
        ])


def test_unreachable_default_url_stops_before_training_with_ways_out(
        ucf101_root, no_network, tmp_path):
    work = tmp_path / 'work'
    runner = _ucf101_runner(ucf101_root, work)
    with pytest.raises(CheckpointUnreachableError) as err:
        runner.train()
    url = 'https://download.pytorch.org/models/resnet18-f37072fd.pth'
    assert str(err.value).splitlines() == [
        'model.encoders.rgb: FrameEncoder (ResNet backbone): its pretrained '
        f'checkpoint {url} cannot be fetched (URLError: <urlopen error '
        '[Errno -2] Name or service not known>). Without a network:',
        f'  - download {url} where there is one and point the config at the '
        'file: --cfg-options model.encoders.rgb.init_cfg.checkpoint=/path/to/'
        'resnet18-f37072fd.pth',
        f'  - or put the file at {no_network}/resnet18-f37072fd.pth '
        "(torch's hub cache, $TORCH_HOME/hub/checkpoints): mmengine reads it "
        'from there without downloading, and the config stays as it is',
        '  - or train this encoder from scratch: --cfg-options '
        'model.encoders.rgb.init_cfg=None',
        'The same address is named by model.encoders.rgb.init_cfg.checkpoint '
        'and model.encoders.flow.init_cfg.checkpoint: set each of them.'
    ]
    assert not glob.glob(str(work / '*.pth'))
    (log_file, ) = glob.glob(str(work / '*' / '*.log'))
    assert 'Epoch(train)' not in open(log_file).read()

    # The settings the message names, applied as --cfg-options: the rgb
    # stream from a local copy of the file, the flow stream from scratch.
    local = tmp_path / 'resnet18-f37072fd.pth'
    torch.save(torchvision_resnet_state_dict(18), local)
    message = str(err.value)
    (to_file, ) = re.findall(r'--cfg-options (\S+=/path/to/\S+)', message)
    (scratch, ) = re.findall(r'--cfg-options (\S+=None)', message)
    options = [
        to_file.replace('/path/to/resnet18-f37072fd.pth', str(local)),
        scratch.replace('rgb', 'flow')
    ]
    cfg = runner.cfg.copy()
    cfg.merge_from_dict(parse_options(options))
    model = MODELS.build(cfg.model)
    with captured_log() as records:
        model.init_weights()
    lines = [r.getMessage() for r in records if '<-' in r.getMessage()]
    assert lines[0] == (
        f'model.encoders.rgb: FrameEncoder (ResNet backbone) <- {local} '
        "(prefix None), torchvision's ResNet names mapped to mmaction2's: "
        'loaded 120/120 tensors; adapted 0; missing in the checkpoint: none; '
        'not in the backbone: fc.weight, fc.bias')
    assert lines[1:] == [
        'model.encoders.flow: FrameEncoder (ResNet backbone) <- random '
        'initialisation (no init_cfg): trained from scratch'
    ]
