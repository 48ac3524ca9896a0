"""The pure matching of checkpoint tensors to a backbone's state dict."""
from collections import OrderedDict

import pytest
import torch

from mmdr.models.utils import (adapt_input_channels, is_input_channel_mismatch,
                               match_pretrained_state_dict)


def _rgb_checkpoint(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return OrderedDict([
        ('conv1.conv.weight', torch.randn(8, 3, 7, 7, generator=gen)),
        ('conv1.bn.weight', torch.rand(8, generator=gen)),
        ('conv1.bn.num_batches_tracked', torch.tensor(5)),
        ('layer1.conv.weight', torch.randn(8, 8, 3, 3, generator=gen)),
    ])


def _backbone(in_channels):
    return OrderedDict([
        ('conv1.conv.weight', torch.zeros(8, in_channels, 7, 7)),
        ('conv1.bn.weight', torch.zeros(8)),
        ('conv1.bn.num_batches_tracked', torch.tensor(0)),
        ('layer1.conv.weight', torch.zeros(8, 8, 3, 3)),
    ])


@pytest.mark.parametrize('in_channels', [1, 10], ids=['audio', 'flow_L5'])
def test_rgb_conv1_is_averaged_and_replicated(in_channels):
    ckpt = _rgb_checkpoint()
    to_load, report = match_pretrained_state_dict(_backbone(in_channels), ckpt)
    weight = to_load['conv1.conv.weight']
    assert weight.shape == (8, in_channels, 7, 7)
    assert weight.dtype == ckpt['conv1.conv.weight'].dtype
    mean = ckpt['conv1.conv.weight'].mean(dim=1)
    for c in range(in_channels):
        # Every input channel is the RGB mean: no rescaling by 3 / C.
        assert torch.equal(weight[:, c], mean)
    assert report.adapted == {
        'conv1.conv.weight': ((8, 3, 7, 7), (8, in_channels, 7, 7))
    }
    assert report.loaded == list(ckpt)
    assert report.missing == [] and report.unexpected == []
    assert report.total == 4


def test_equal_shapes_are_untouched():
    ckpt = _rgb_checkpoint()
    to_load, report = match_pretrained_state_dict(_backbone(3), ckpt)
    assert report.adapted == {}
    assert list(to_load) == list(ckpt)
    for key, value in ckpt.items():
        assert to_load[key] is value  # the checkpoint tensor itself
    assert report.summary() == (
        'loaded 4/4 tensors; adapted 0; missing in the checkpoint: none; '
        'not in the backbone: none')


def test_half_precision_stays_half():
    weight = torch.randn(4, 3, 3, 3).half()
    adapted = adapt_input_channels(weight, 2)
    assert adapted.dtype == torch.float16 and adapted.shape == (4, 2, 3, 3)


def test_missing_and_unexpected_keys_are_reported():
    ckpt = _rgb_checkpoint()
    del ckpt['layer1.conv.weight']
    ckpt['fc.weight'] = torch.zeros(2, 8)
    to_load, report = match_pretrained_state_dict(_backbone(1), ckpt)
    assert 'fc.weight' not in to_load
    assert report.missing == ['layer1.conv.weight']
    assert report.unexpected == ['fc.weight']
    assert report.summary() == (
        'loaded 3/4 tensors; adapted 1 (conv1.conv.weight (8, 3, 7, 7) -> '
        '(8, 1, 7, 7)); missing in the checkpoint: layer1.conv.weight; not '
        'in the backbone: fc.weight')


def test_long_lists_are_shortened():
    own = OrderedDict((f'w{i:02d}', torch.zeros(1)) for i in range(13))
    _, report = match_pretrained_state_dict(own, {'w00': torch.ones(1)})
    assert ('missing in the checkpoint: w01, w02, w03, w04, w05, w06, w07, '
            'w08, w09, w10 ... (+2 more)') in report.summary()
    assert 'w01, w02' in report.summary(max_items=2)
    assert 'w03' not in report.summary(max_items=2)


@pytest.mark.parametrize(
    'key,bad', [('layer1.conv.weight', torch.zeros(8, 8, 5, 5)),
                ('conv1.bn.weight', torch.zeros(16)),
                ('conv1.conv.weight', torch.zeros(16, 3, 7, 7))],
    ids=['kernel_size', 'norm_width', 'output_channels'])
def test_other_mismatch_is_an_error_naming_key_and_shapes(key, bad):
    ckpt = _rgb_checkpoint()
    ckpt[key] = bad
    with pytest.raises(ValueError) as err:
        match_pretrained_state_dict(_backbone(1), ckpt)
    msg = str(err.value)
    own_shape = tuple(_backbone(1)[key].shape)
    assert f'{key}: checkpoint {tuple(bad.shape)}, backbone {own_shape}' in msg
    assert 'cross_modality_init' not in msg


def test_linear_layers_are_not_adapted():
    """dim 1 of a 2-D weight is a feature width, not input planes."""
    with pytest.raises(
            ValueError,
            match=r'fc\.weight: checkpoint \(4, 3\), '
            r'backbone \(4, 1\)'):
        match_pretrained_state_dict({'fc.weight': torch.zeros(4, 1)},
                                    {'fc.weight': torch.zeros(4, 3)})


def test_switched_off_input_channel_mismatch_is_an_error_with_a_hint():
    with pytest.raises(ValueError) as err:
        match_pretrained_state_dict(
            _backbone(1), _rgb_checkpoint(), cross_modality=False)
    msg = str(err.value)
    assert ('conv1.conv.weight: checkpoint (8, 3, 7, 7), backbone '
            '(8, 1, 7, 7)') in msg
    assert 'adapted with cross_modality_init=True' in msg


def test_every_mismatch_is_named_at_once():
    ckpt = _rgb_checkpoint()
    ckpt['conv1.bn.weight'] = torch.zeros(3)
    ckpt['layer1.conv.weight'] = torch.zeros(2, 8, 3, 3)
    with pytest.raises(ValueError, match=r'^2 checkpoint tensor\(s\)') as err:
        match_pretrained_state_dict(_backbone(3), ckpt)
    assert 'conv1.bn.weight' in str(err.value)
    assert 'layer1.conv.weight' in str(err.value)


@pytest.mark.parametrize('src,dst,expected',
                         [((64, 3, 7, 7), (64, 1, 7, 7), True),
                          ((64, 3, 3, 7, 7), (64, 10, 3, 7, 7), True),
                          ((64, 3, 7, 7), (64, 3, 7, 7), False),
                          ((64, 3, 7, 7), (32, 1, 7, 7), False),
                          ((64, 3, 7, 7), (64, 1, 3, 3), False),
                          ((64, 3, 7), (64, 1, 7, 7), False),
                          ((4, 3), (4, 1), False)])
def test_is_input_channel_mismatch(src, dst, expected):
    assert is_input_channel_mismatch(src, dst) is expected


@pytest.mark.parametrize('depth', [18, 50])
def test_torchvision_resnet_names_map_to_mmaction2(depth):
    from pretrained_checkpoint import torchvision_resnet_state_dict

    from mmdr.models.utils import map_torchvision_resnet
    from mmdr.registry import MODELS
    own = MODELS.build(dict(type='ResNet', depth=depth,
                            pretrained=None)).state_dict()
    tv = torchvision_resnet_state_dict(depth)
    mapped = map_torchvision_resnet(own, tv)
    to_load, report = match_pretrained_state_dict(own, mapped)
    assert report.missing == []
    assert report.unexpected == ['fc.weight', 'fc.bias']
    assert len(to_load) == len(own) == len(tv) - 2
    pairs = {
        'conv1.conv.weight': 'conv1.weight',
        'conv1.bn.running_var': 'bn1.running_var',
        'layer2.0.downsample.conv.weight': 'layer2.0.downsample.0.weight',
        'layer2.0.downsample.bn.bias': 'layer2.0.downsample.1.bias',
        'layer4.1.conv2.bn.weight': 'layer4.1.bn2.weight',
    }
    for mm_key, tv_key in pairs.items():
        assert torch.equal(to_load[mm_key], tv[tv_key]), mm_key


def test_mmaction_names_are_left_alone():
    from mmdr.models.utils import map_torchvision_resnet
    own = {
        'conv1.conv.weight': torch.zeros(1),
        'layer1.0.conv1.conv.weight': torch.zeros(1)
    }
    same = {'conv1.conv.weight': torch.ones(1)}
    assert map_torchvision_resnet(own, same) == same
