"""Encoders that wrap real mmaction2 backbones, built through mmdr's registry.

Inputs are tiny (32x32, a few frames) so that ResNet-18s run in milliseconds
on a CPU.
"""
import pickletools
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch
from pretrained_checkpoint import (backbone_items, channel_mean,
                                   pretrained_backbone,
                                   torchvision_resnet_state_dict,
                                   write_mmaction_checkpoint)

from mmdr.models.utils import CheckpointUnreachableError
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()

RESNET18 = dict(type='ResNet', depth=18, pretrained=None)
AUDIO_RESNET18 = dict(type='ResNet', depth=18, in_channels=1, pretrained=None)
# A thin SlowOnly-R18 (16 base channels, 128 output channels) keeps the 3D
# convolutions cheap; the wrapping logic does not depend on the width.
SLOWONLY = dict(
    type='ResNet3dSlowOnly',
    depth=18,
    base_channels=16,
    pretrained2d=False,
    pretrained=None)
SLOWONLY_DIM = 128


def _build(encoder_type, backbone, feat_dim, **kwargs):
    torch.manual_seed(0)
    encoder = MODELS.build(
        dict(
            type=encoder_type, backbone=backbone, feat_dim=feat_dim, **kwargs))
    encoder.init_weights()
    return encoder.eval()


@pytest.fixture(scope='module')
def frame_encoder():
    return _build('FrameEncoder', RESNET18, 512)


@pytest.fixture(scope='module')
def audio_encoder():
    return _build('SpectrogramEncoder', AUDIO_RESNET18, 512)


# --------------------------------------------------------------- FrameEncoder
def test_frame_encoder_is_built_from_mmdr_registry(frame_encoder):
    from mmaction.models.backbones import ResNet

    from mmdr.models.encoders import FrameEncoder
    assert type(frame_encoder) is FrameEncoder
    assert type(frame_encoder.backbone) is ResNet
    assert frame_encoder.feat_dim == 512


def test_frame_encoder_5d_equals_mean_over_frames(frame_encoder):
    torch.manual_seed(1)
    x = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        out = frame_encoder(x)
        per_frame = torch.stack(
            [frame_encoder(x[:, t]) for t in range(x.shape[1])], dim=1)
    assert out.shape == (2, 512)
    torch.testing.assert_close(
        out, per_frame.mean(dim=1), rtol=1e-4, atol=1e-5)
    # Pooled over space: equal to the backbone's map averaged by hand.
    with torch.no_grad():
        fmap = frame_encoder.backbone(x[:, 0])
    assert fmap.shape == (2, 512, 1, 1)
    torch.testing.assert_close(per_frame[:, 0], fmap.mean(dim=(2, 3)))
    # Samples do not leak into each other.
    with torch.no_grad():
        alone = frame_encoder(x[:1])
    torch.testing.assert_close(alone, out[:1], rtol=1e-4, atol=1e-5)


def test_frame_encoder_4d_input(frame_encoder):
    torch.manual_seed(2)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        out = frame_encoder(x)
        as_one_frame = frame_encoder(x.unsqueeze(1))
        fmap = frame_encoder.backbone(x)
    assert out.shape == (3, 512)
    torch.testing.assert_close(out, as_one_frame)
    torch.testing.assert_close(out, fmap.flatten(2).mean(dim=2))


def test_frame_encoder_with_resnet_tsm():
    from mmaction.models.backbones import ResNetTSM
    encoder = _build(
        'FrameEncoder',
        dict(
            type='ResNetTSM',
            depth=18,
            num_segments=4,
            pretrained2d=False,
            pretrained=None), 512)
    assert type(encoder.backbone) is ResNetTSM
    torch.manual_seed(3)
    x = torch.randn(2, 4, 3, 32, 32)
    with torch.no_grad():
        out = encoder(x)
    assert out.shape == (2, 512)
    assert torch.isfinite(out).all()
    # Frames are folded sample by sample, so the temporal shift mixes frames
    # of one sample only: changing sample 1 leaves sample 0 unchanged ...
    x2 = x.clone()
    x2[1] = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        out2 = encoder(x2)
    torch.testing.assert_close(out2[0], out[0])
    assert not torch.allclose(out2[1], out[1])
    # ... and the shift does mix the frames of a sample: reversing their
    # order changes the features (a per-frame mean would not change).
    with torch.no_grad():
        reversed_out = encoder(x.flip(1))
    assert not torch.allclose(reversed_out, out, atol=1e-4)


# --------------------------------------------------------------- VideoEncoder
@pytest.fixture(scope='module')
def video_encoder():
    return _build('VideoEncoder', SLOWONLY, SLOWONLY_DIM)


def test_video_encoder_single_clip(video_encoder):
    from mmaction.models.backbones import ResNet3dSlowOnly
    assert type(video_encoder.backbone) is ResNet3dSlowOnly
    torch.manual_seed(4)
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        out = video_encoder(x)
        fmap = video_encoder.backbone(x)
    assert fmap.ndim == 5 and fmap.shape[:2] == (2, SLOWONLY_DIM)
    assert out.shape == (2, SLOWONLY_DIM)
    torch.testing.assert_close(out, fmap.flatten(2).mean(dim=2))


def test_video_encoder_averages_clips(video_encoder):
    torch.manual_seed(5)
    x = torch.randn(2, 2, 3, 4, 32, 32)
    with torch.no_grad():
        out = video_encoder(x)
        clip0 = video_encoder(x[:, 0])
        clip1 = video_encoder(x[:, 1])
    assert out.shape == (2, SLOWONLY_DIM)
    torch.testing.assert_close(out, (clip0 + clip1) / 2, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(clip0, clip1)


def test_video_encoder_rejects_frames_layout(video_encoder):
    with pytest.raises(
            ValueError, match=r'5 or 6 dimensions.*\(2, 3, 32, 32\)'):
        video_encoder(torch.randn(2, 3, 32, 32))


# ---------------------------------------------------------- SpectrogramEncoder
def test_spectrogram_encoder_layouts(audio_encoder):
    torch.manual_seed(6)
    spec = torch.randn(2, 32, 24)  # (N, F, T)
    with torch.no_grad():
        out_3d = audio_encoder(spec)
        out_4d = audio_encoder(spec.unsqueeze(1))
        fmap = audio_encoder.backbone(spec.unsqueeze(1))
    assert out_3d.shape == (2, 512)
    torch.testing.assert_close(out_3d, out_4d)
    torch.testing.assert_close(out_3d, fmap.flatten(2).mean(dim=2))

    clips = torch.randn(2, 3, 1, 32, 24)  # (N, M, 1, F, T)
    with torch.no_grad():
        out_5d = audio_encoder(clips)
        per_clip = torch.stack([audio_encoder(clips[:, m]) for m in range(3)],
                               dim=1)
    assert out_5d.shape == (2, 512)
    torch.testing.assert_close(
        out_5d, per_clip.mean(dim=1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('shape', [(2, 32), (2, 2, 3, 1, 32, 24)])
def test_spectrogram_encoder_wrong_ndim(audio_encoder, shape):
    with pytest.raises(ValueError, match='SpectrogramEncoder takes a batch'):
        audio_encoder(torch.randn(*shape))


# ------------------------------------------------------------------ errors
def test_wrong_feat_dim_names_the_right_width():
    encoder = _build('FrameEncoder', RESNET18, 256)
    with pytest.raises(ValueError) as err:
        with torch.no_grad():
            encoder(torch.randn(1, 2, 3, 32, 32))
    msg = str(err.value)
    assert 'feat_dim=256' in msg
    assert 'set feat_dim=512' in msg
    assert '(1, 512)' in msg


@pytest.mark.parametrize('shape', [(2, 32, 32), (1, 2, 2, 3, 32, 32)])
def test_frame_encoder_wrong_ndim(frame_encoder, shape):
    with pytest.raises(ValueError) as err:
        frame_encoder(torch.randn(*shape))
    msg = str(err.value)
    assert 'FrameEncoder takes a batch of 4 or 5 dimensions' in msg
    assert str(tuple(shape)) in msg


@pytest.mark.parametrize('feat_dim', [0, -3, 512.0, None])
def test_invalid_feat_dim_value(feat_dim):
    with pytest.raises(ValueError, match='feat_dim must be a positive int'):
        MODELS.build(
            dict(type='FrameEncoder', backbone=RESNET18, feat_dim=feat_dim))


# ------------------------------------------------------- pretrained loading
def _pickled_globals(path):
    """The ``module.name`` globals that a torch.save zip file references."""
    with zipfile.ZipFile(str(path)) as archive:
        pkl = next(n for n in archive.namelist() if n.endswith('/data.pkl'))
        data = archive.read(pkl)
    names = set()
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name == 'GLOBAL':
            names.add(arg.replace(' ', '.'))
    return names


def test_checkpoint_needs_no_weights_only_false(tmp_path):
    path = tmp_path / 'ckpt.pth'
    saved = write_mmaction_checkpoint(path, RESNET18)
    # The file really references numpy globals, which torch's default
    # allow-list lacks (so mmdr's registration is what makes it load) ...
    referenced = _pickled_globals(path)
    assert any(name.startswith('numpy') for name in referenced), referenced
    # ... and importing mmdr made them safe: the default (weights_only=True)
    # and an explicit weights_only=True both load it.
    for kwargs in (dict(), dict(weights_only=True)):
        ckpt = torch.load(str(path), map_location='cpu', **kwargs)
        assert ckpt['meta']['epoch'] == 3
        assert ckpt['meta']['seed'] == 0
        assert isinstance(ckpt['meta']['seed'], np.int64)
        np.testing.assert_array_equal(ckpt['meta']['hist'], [1.0, 2.0])
        assert list(ckpt['state_dict']) == list(saved)


@pytest.mark.parametrize(
    'encoder_type,backbone,feat_dim,shape',
    [('FrameEncoder', RESNET18, 512, (1, 2, 3, 32, 32)),
     ('VideoEncoder', SLOWONLY, SLOWONLY_DIM, (1, 3, 4, 32, 32))],
    ids=['resnet2d', 'slowonly3d'])
def test_pretrained_init_cfg_loads_backbone(tmp_path, encoder_type, backbone,
                                            feat_dim, shape):
    path = tmp_path / 'recognizer.pth'
    expected = backbone_items(write_mmaction_checkpoint(path, backbone))
    init_cfg = dict(
        type='Pretrained', checkpoint=str(path), prefix='backbone.')

    torch.manual_seed(0)
    encoder = MODELS.build(
        dict(
            type=encoder_type,
            backbone=backbone,
            feat_dim=feat_dim,
            init_cfg=init_cfg))
    own = encoder.backbone.state_dict()
    assert set(own) == set(expected)
    # The fresh backbone differs from the checkpoint before loading.
    assert not all(torch.equal(own[k], expected[k]) for k in expected)

    encoder.init_weights()
    loaded = encoder.backbone.state_dict()
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key
    # The encoder's init_cfg is left as configured (possibly as a list).
    cfgs = encoder.init_cfg
    assert (cfgs if isinstance(cfgs, list) else [cfgs]) == [init_cfg]
    # The head weights of the checkpoint went nowhere.
    assert not any('fc_cls' in k for k in encoder.state_dict())
    with torch.no_grad():
        assert encoder.eval()(torch.randn(*shape)).shape == (1, feat_dim)


def test_pretrained_without_prefix_loads_backbone_state_dict(tmp_path):
    """A checkpoint that is a bare backbone state dict needs no prefix."""
    path = tmp_path / 'backbone.pth'
    source = pretrained_backbone(AUDIO_RESNET18, 5)
    torch.save({'state_dict': source.state_dict()}, str(path))
    encoder = MODELS.build(
        dict(
            type='SpectrogramEncoder',
            backbone=AUDIO_RESNET18,
            feat_dim=512,
            init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    encoder.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(encoder.backbone.state_dict()[key], value), key


def test_pretrained_wrong_prefix_is_an_error(tmp_path):
    path = tmp_path / 'recognizer.pth'
    write_mmaction_checkpoint(path, RESNET18)
    encoder = MODELS.build(
        dict(
            type='FrameEncoder',
            backbone=RESNET18,
            feat_dim=512,
            init_cfg=dict(
                type='Pretrained', checkpoint=str(path), prefix='model.')))
    # mmengine reports the missing prefix (an assertion), or mmdr's own check
    # does if assertions are disabled; both name the prefix.
    with pytest.raises((AssertionError, ValueError), match=r'model\.'):
        encoder.init_weights()


def test_pretrained_without_matching_key_is_an_error(tmp_path):
    path = tmp_path / 'other.pth'
    torch.save(
        {
            'state_dict':
            OrderedDict([('backbone.encoder.proj.weight', torch.zeros(2, 2)),
                         ('backbone.encoder.proj.bias', torch.zeros(2))])
        }, str(path))
    encoder = MODELS.build(
        dict(
            type='FrameEncoder',
            backbone=RESNET18,
            feat_dim=512,
            init_cfg=dict(
                type='Pretrained', checkpoint=str(path), prefix='backbone.')))
    with pytest.raises(ValueError) as err:
        encoder.init_weights()
    msg = str(err.value)
    assert 'holds no weight of ResNet' in msg
    assert 'encoder.proj.bias' in msg
    assert 'conv1.bn.bias' in msg
    assert 'init_cfg.prefix' in msg


# --------------------------------------------- cross-modality initialisation
@pytest.fixture(scope='module')
def rgb_checkpoint(tmp_path_factory):
    """An mmaction2 TSN-R18 style checkpoint with an RGB (3-channel) conv1."""
    path = tmp_path_factory.mktemp('rgb') / 'tsn_r18_rgb.pth'
    return str(path), backbone_items(write_mmaction_checkpoint(path))


def _pretrained_encoder(encoder_type, in_channels, checkpoint, **kwargs):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type=encoder_type,
            backbone=dict(
                type='ResNet',
                depth=18,
                in_channels=in_channels,
                pretrained=None),
            feat_dim=512,
            init_cfg=dict(
                type='Pretrained', checkpoint=checkpoint, prefix='backbone.'),
            **kwargs))


@pytest.mark.parametrize(
    'encoder_type,in_channels,shape', [('SpectrogramEncoder', 1, (1, 32, 24)),
                                       ('FrameEncoder', 10, (1, 10, 32, 32))],
    ids=['rgb_to_spectrogram', 'rgb_to_flow_L5'])
def test_cross_modality_init_adapts_rgb_conv1(rgb_checkpoint, mm_log,
                                              encoder_type, in_channels,
                                              shape):
    path, expected = rgb_checkpoint
    encoder = _pretrained_encoder(encoder_type, in_channels, path)
    encoder.init_weights()
    loaded = encoder.backbone.state_dict()
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        if key == 'conv1.conv.weight':
            assert loaded[key].shape == (64, in_channels, 7, 7)
            # TSN: the channel mean, replicated, not rescaled.
            assert torch.equal(loaded[key], channel_mean(value, in_channels))
        else:
            assert torch.equal(loaded[key], value), key
    with torch.no_grad():
        assert torch.isfinite(encoder.eval()(torch.randn(*shape))).all()

    (line, ) = [r.getMessage() for r in mm_log if '<-' in r.getMessage()]
    assert line.startswith(f'{encoder_type} (ResNet backbone) <- {path} '
                           "(prefix 'backbone.'): ")
    assert f'loaded {len(expected)}/{len(expected)} tensors' in line
    assert (f'adapted 1 (conv1.conv.weight (64, 3, 7, 7) -> '
            f'(64, {in_channels}, 7, 7))') in line
    assert 'missing in the checkpoint: none' in line


def _assert_nothing_loaded(encoder, expected):
    own = encoder.backbone.state_dict()
    assert not any(
        torch.equal(own[k], v) for k, v in expected.items()
        if v.is_floating_point() and v.shape == own[k].shape)


def test_cross_modality_init_off_is_an_error(rgb_checkpoint):
    path, expected = rgb_checkpoint
    encoder = _pretrained_encoder(
        'SpectrogramEncoder', 1, path, cross_modality_init=False)
    with pytest.raises(ValueError) as err:
        encoder.init_weights()
    msg = str(err.value)
    assert msg.startswith(f'SpectrogramEncoder (ResNet backbone) <- {path}')
    assert ('conv1.conv.weight: checkpoint (64, 3, 7, 7), backbone '
            '(64, 1, 7, 7)') in msg
    assert 'cross_modality_init=True' in msg
    _assert_nothing_loaded(encoder, expected)


def test_other_shape_mismatch_is_an_error_before_loading(
        tmp_path, rgb_checkpoint):
    """Only input channels are adapted; anything else names the tensor."""
    _, expected = rgb_checkpoint
    path = tmp_path / 'wider_bn.pth'
    state_dict = {'backbone.' + k: v for k, v in expected.items()}
    state_dict['backbone.layer1.0.conv1.bn.weight'] = torch.ones(32)
    torch.save({'state_dict': state_dict}, str(path))
    encoder = _pretrained_encoder('FrameEncoder', 3, str(path))
    with pytest.raises(ValueError) as err:
        encoder.init_weights()
    msg = str(err.value)
    assert f'FrameEncoder (ResNet backbone) <- {path}' in msg
    assert ('layer1.0.conv1.bn.weight: checkpoint (32,), backbone (64,)'
            in msg)
    assert 'cross_modality_init' not in msg  # no misleading hint
    _assert_nothing_loaded(encoder, expected)


def test_tensors_the_checkpoint_lacks_keep_their_init(tmp_path, mm_log,
                                                      rgb_checkpoint):
    _, expected = rgb_checkpoint
    lacking = sorted(k for k in expected if k.startswith('layer4.'))
    path = tmp_path / 'partial.pth'
    torch.save(
        {
            'state_dict': {
                'backbone.' + k: v
                for k, v in expected.items() if k not in lacking
            }
        }, str(path))
    # The same encoder without a checkpoint, from the same seed.
    fresh = _build('FrameEncoder', RESNET18, 512).backbone.state_dict()
    encoder = _pretrained_encoder('FrameEncoder', 3, str(path))
    encoder.init_weights()
    loaded = encoder.backbone.state_dict()
    # The backbone's own initialisation ran before the load.
    for key in lacking:
        assert torch.equal(loaded[key], fresh[key]), key
    assert torch.equal(loaded['layer3.1.conv2.conv.weight'],
                       expected['layer3.1.conv2.conv.weight'])
    (line, ) = [r.getMessage() for r in mm_log if str(path) in r.getMessage()]
    num_loaded = len(expected) - len(lacking)
    assert f'loaded {num_loaded}/{len(expected)} tensors; adapted 0;' in line
    # Long lists are cut after 10 names.
    assert ('missing in the checkpoint: ' +
            ', '.join([k for k in expected if k in lacking][:10]) +
            f' ... (+{len(lacking) - 10} more)') in line


def test_second_init_weights_warns_and_loads_nothing(rgb_checkpoint, mm_log):
    path, expected = rgb_checkpoint
    encoder = _pretrained_encoder('SpectrogramEncoder', 1, path)
    encoder.init_weights()
    assert encoder.is_init
    # As if trained since: a second call must not reset the weights.
    with torch.no_grad():
        encoder.backbone.layer1[0].conv1.conv.weight.add_(1.0)
    trained = {k: v.clone() for k, v in encoder.state_dict().items()}
    mm_log.clear()
    encoder.init_weights()
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, trained[key]), key
    messages = [r.getMessage() for r in mm_log]
    assert any('has been called more than once' in m for m in messages)
    assert not any('<-' in m for m in messages)


def test_backbone_that_cannot_initialise_names_the_fix():
    # mmaction2's ResNetTSM loads 2D weights by default (pretrained2d=True)
    # and fails obscurely without a path; the encoder says what to set.
    encoder = MODELS.build(
        dict(
            type='FrameEncoder',
            feat_dim=512,
            backbone=dict(
                type='ResNetTSM', depth=18, num_segments=2, pretrained=None)))
    with pytest.raises(RuntimeError, match='pretrained2d=False') as err:
        encoder.init_weights()
    assert 'FrameEncoder: initialising its ResNetTSM backbone' in str(
        err.value)


# ------------------------------------------ pretrained weights, no network
RESNET18_URL = 'https://download.pytorch.org/models/resnet18-f37072fd.pth'


def test_hub_cache_file_is_read_without_a_network(no_network, mm_log):
    # What the message of an unreachable URL promises: the file in torch's
    # hub cache is loaded as the URL's download.
    no_network.mkdir(parents=True)
    state = torchvision_resnet_state_dict(18)
    torch.save(state, no_network / 'resnet18-f37072fd.pth')
    encoder = MODELS.build(
        dict(
            type='FrameEncoder',
            feat_dim=512,
            backbone=RESNET18,
            init_cfg=dict(type='Pretrained', checkpoint=RESNET18_URL)))
    encoder.modality = 'rgb'
    encoder.init_weights()
    assert torch.equal(encoder.backbone.conv1.conv.weight,
                       state['conv1.weight'])
    (line, ) = [r.getMessage() for r in mm_log if '<-' in r.getMessage()]
    assert line.startswith(
        'model.encoders.rgb: FrameEncoder (ResNet backbone) <- '
        f"{RESNET18_URL} (prefix None), torchvision's ResNet names mapped "
        "to mmaction2's: loaded 120/120 tensors")


def test_backbones_own_unreachable_checkpoint_names_its_setting(no_network):
    # mmaction2's ResNet loads pretrained='torchvision://...' itself;
    # mmengine looks the name up with torchvision (absent here) or downloads.
    encoder = MODELS.build(
        dict(
            type='SpectrogramEncoder',
            feat_dim=512,
            backbone=dict(AUDIO_RESNET18,
                          pretrained='torchvision://resnet18')))
    encoder.modality = 'audio'
    with pytest.raises(CheckpointUnreachableError) as err:
        encoder.init_weights()
    message = str(err.value)
    assert message.startswith(
        'model.encoders.audio: SpectrogramEncoder (ResNet backbone): its '
        f'pretrained checkpoint torchvision://resnet18 ({RESNET18_URL}) '
        'cannot be fetched (')
    assert ('--cfg-options model.encoders.audio.backbone.pretrained=/path/to/'
            'resnet18-f37072fd.pth') in message
    assert ('from scratch: --cfg-options model.encoders.audio.backbone.'
            'pretrained=None') in message


def test_encoder_without_checkpoint_logs_that_it_starts_from_scratch(mm_log):
    encoder = MODELS.build(
        dict(type='SpectrogramEncoder', feat_dim=512, backbone=AUDIO_RESNET18))
    encoder.modality = 'audio'
    encoder.init_weights()
    lines = [r.getMessage() for r in mm_log if '<-' in r.getMessage()]
    assert lines == [
        'model.encoders.audio: SpectrogramEncoder (ResNet backbone) <- random '
        'initialisation (no init_cfg): trained from scratch'
    ]
