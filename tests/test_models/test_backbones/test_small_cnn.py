import os.path as osp

import pytest
import torch
from mmaction.structures import ActionDataSample
from mmengine.config import Config

from mmdr.models.backbones import SmallCNN
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
# The audio backbone of configs/jt_avdigits.py.
AUDIO_CFG = dict(
    type='SmallCNN', channels=(16, 32, 64), strides=(2, 2, 1), pools=(2, 2, 2))


def test_default_on_digits():
    model = SmallCNN()
    out = model(torch.rand(2, 1, 8, 8))
    # Pooling after the first two stages only: 8x8 -> 4x4 -> 2x2.
    assert out.shape == (2, 128, 2, 2)
    assert model.pools == (2, 2, 1) and model.strides == (1, 1, 1)


def test_audio_settings_on_spectrograms():
    model = MODELS.build(AUDIO_CFG)
    # 257 x 63 -> stride 2: 129 x 32 -> pool: 65 x 16 -> stride 2: 33 x 8
    # -> pool: 17 x 4 -> pool: 9 x 2 (ceil mode keeps the odd rows).
    assert model(torch.rand(2, 1, 257, 63)).shape == (2, 64, 9, 2)


def test_num_convs_and_channels():
    model = SmallCNN(in_channels=3, channels=(8, 16), num_convs=2)
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 16, 4, 4)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 4


def test_inside_encoders():
    visual = MODELS.build(
        dict(
            type='FrameEncoder', feat_dim=128, backbone=dict(type='SmallCNN')))
    assert visual(torch.rand(3, 1, 8, 8)).shape == (3, 128)
    audio = MODELS.build(
        dict(type='SpectrogramEncoder', feat_dim=64, backbone=AUDIO_CFG))
    assert audio(torch.rand(3, 1, 257, 63)).shape == (3, 64)
    # A spectrogram without its channel dimension is accepted too.
    assert audio(torch.rand(3, 257, 63)).shape == (3, 64)


def test_gradients_reach_every_layer():
    model = SmallCNN()
    model(torch.rand(4, 1, 8, 8)).mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_init_weights_reaches_every_conv_module():
    torch.manual_seed(0)
    model = SmallCNN(channels=(8, 16), num_convs=2)
    with torch.no_grad():
        for param in model.parameters():
            param.fill_(5.0)
    model.init_weights()
    # ConvModule.init_weights: Kaiming conv, BatchNorm weight 1 and bias 0.
    for name, param in model.named_parameters():
        assert not (param == 5.0).any(), name
        if '.bn.' in name:
            assert (param == float(name.endswith('weight'))).all(), name


def test_state_dict_keys_are_those_of_torch_containers():
    """mmengine's ModuleList and Sequential add no level to the keys, so
    checkpoints written before they replaced torch's still load."""
    model = SmallCNN(channels=(8, 16), pools=(2, 1))
    assert list(model.state_dict()) == [
        f'stages.{stage}.0.{key}' for stage in (0, 1)
        for key in ('conv.weight', 'bn.weight', 'bn.bias', 'bn.running_mean',
                    'bn.running_var', 'bn.num_batches_tracked')
    ]


def test_invalid_arguments():
    with pytest.raises(ValueError, match='same length'):
        SmallCNN(channels=(8, 16), strides=(1, ))
    with pytest.raises(ValueError, match='same length'):
        SmallCNN(channels=(8, 16), pools=(2, 2, 2))
    with pytest.raises(ValueError, match='num_convs'):
        SmallCNN(num_convs=0)
    with pytest.raises(ValueError, match=r'takes \(N, 1, H, W\)'):
        SmallCNN()(torch.rand(2, 3, 8, 8))


def test_jt_avdigits_model_trains_one_step():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'jt_avdigits.py'))
    model = MODELS.build(cfg.model)
    assert model.modalities == ('audio', 'visual')
    samples = [ActionDataSample().set_gt_labels([i % 10]) for i in range(4)]
    data = dict(
        inputs=dict(
            audio=[torch.randn(1, 257, 63) for _ in range(4)],
            visual=[torch.rand(1, 8, 8) for _ in range(4)]),
        data_samples=samples)
    data = model.data_preprocessor(data, training=True)
    losses = model(**data, mode='loss')
    losses['loss_cls'].backward()
    assert torch.isfinite(losses['loss_cls'])
