"""Checkpoints laid out like mmaction2 model-zoo recognisers, for tests.

Imported by the tests of encoders, recognisers and ``tools/train.py``; the
folder of this file must be on ``sys.path`` (the tests put it there).
"""
from collections import OrderedDict

import numpy as np
import torch

from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()

#: The RGB backbone of an mmaction2 TSN-R18 recogniser.
RGB_RESNET18 = dict(type='ResNet', depth=18, in_channels=3, pretrained=None)
PREFIX = 'backbone.'


def pretrained_backbone(backbone_cfg: dict, seed: int = 123):
    """A backbone with seeded weights that no fresh backbone holds.

    Convolutions keep the backbone's own (Kaiming) initialisation, so a
    network in eval mode stays finite; every 1-D float tensor (BatchNorm
    weight, bias, running mean and variance) is drawn from U(0.5, 1.5), so
    it differs from a fresh BatchNorm's constants; integer counters are set
    to ``seed + 7``.

    Args:
        backbone_cfg (dict): Backbone config, built in mmdr's registry.
        seed (int): Random seed. Defaults to 123.

    Returns:
        torch.nn.Module: The backbone.
    """
    torch.manual_seed(seed)
    backbone = MODELS.build(backbone_cfg)
    backbone.init_weights()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in backbone.state_dict().values():
            if not tensor.is_floating_point():
                tensor.fill_(seed + 7)
            elif tensor.ndim == 1:
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
    return backbone


def write_mmaction_checkpoint(path,
                              backbone_cfg: dict = RGB_RESNET18,
                              seed: int = 123) -> OrderedDict:
    """Save a recogniser checkpoint as mmaction2's model zoo has them.

    ``{'meta': {...numpy values...}, 'state_dict': {'backbone.<key>': ...,
    'cls_head.fc_cls.weight': ..., 'cls_head.fc_cls.bias': ...}}``, written
    with ``torch.save``.

    Args:
        path (str or Path): The file to write.
        backbone_cfg (dict): Backbone config. Defaults to an RGB ResNet-18.
        seed (int): Random seed of :func:`pretrained_backbone`.

    Returns:
        OrderedDict: The saved state dict.
    """
    source = pretrained_backbone(backbone_cfg, seed)
    state_dict = OrderedDict(
        (PREFIX + k, v.clone()) for k, v in source.state_dict().items())
    state_dict['cls_head.fc_cls.weight'] = torch.randn(7, 4)
    state_dict['cls_head.fc_cls.bias'] = torch.randn(7)
    torch.save(
        {
            'meta': {
                'epoch': 3,
                'seed': np.int64(0),
                'mmengine_version': '0.10.7',
                'hist': np.array([1.0, 2.0])
            },
            'state_dict': state_dict
        }, str(path))
    return state_dict


def backbone_items(state_dict: dict) -> dict:
    """The backbone tensors of a recogniser state dict, prefix stripped.

    Args:
        state_dict (dict): A recogniser state dict.

    Returns:
        dict: Backbone key to tensor.
    """
    return {
        k[len(PREFIX):]: v
        for k, v in state_dict.items() if k.startswith(PREFIX)
    }


def channel_mean(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """What cross-modality initialisation makes of an RGB kernel.

    Args:
        weight (torch.Tensor): Shape (C_out, 3, *kernel).
        in_channels (int): Input channels of the target backbone.

    Returns:
        torch.Tensor: The mean over input channels, ``in_channels`` times.
    """
    mean = weight.mean(dim=1, keepdim=True)
    return torch.cat([mean] * in_channels, dim=1)


def torchvision_resnet_state_dict(depth: int = 18,
                                  seed: int = 0) -> OrderedDict:
    """A state dict named and shaped as torchvision's ResNet's.

    The key names and shapes follow torchvision's ``resnet18/34/50``
    (``conv1``, ``bn1``, ``layerN.M.convK``/``bnK``, ``downsample.0/1``,
    ``fc``), written out here from the architecture rather than derived from
    mmaction2's names, so that the mapping is tested against them. Values
    are seeded: float tensors random, BatchNorm counters ``seed + 1``.

    Args:
        depth (int): 18, 34 or 50.
        seed (int): Random seed. Defaults to 0.

    Returns:
        OrderedDict: What ``torch.save`` of torchvision's model holds.
    """
    blocks = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3)}[depth]
    bottleneck = depth >= 50
    expansion = 4 if bottleneck else 1
    gen = torch.Generator().manual_seed(seed)
    state = OrderedDict()

    def conv(name, out_c, in_c, k):
        state[f'{name}.weight'] = torch.randn(
            out_c, in_c, k, k, generator=gen) * 0.05

    def bn(name, c):
        state[f'{name}.weight'] = torch.rand(c, generator=gen) + 0.5
        state[f'{name}.bias'] = torch.randn(c, generator=gen) * 0.1
        state[f'{name}.running_mean'] = torch.randn(c, generator=gen) * 0.1
        state[f'{name}.running_var'] = torch.rand(c, generator=gen) + 0.5
        state[f'{name}.num_batches_tracked'] = torch.tensor(seed + 1)

    conv('conv1', 64, 3, 7)
    bn('bn1', 64)
    in_c = 64
    for stage, (num, planes) in enumerate(zip(blocks, (64, 128, 256, 512))):
        for b in range(num):
            prefix = f'layer{stage + 1}.{b}'
            if bottleneck:
                shapes = [(planes, in_c, 1), (planes, planes, 3),
                          (planes * 4, planes, 1)]
            else:
                shapes = [(planes, in_c, 3), (planes, planes, 3)]
            for k, (o, i, ks) in enumerate(shapes, 1):
                conv(f'{prefix}.conv{k}', o, i, ks)
                bn(f'{prefix}.bn{k}', o)
            if b == 0 and (stage > 0 or in_c != planes * expansion):
                conv(f'{prefix}.downsample.0', planes * expansion, in_c, 1)
                bn(f'{prefix}.downsample.1', planes * expansion)
            in_c = planes * expansion
    state['fc.weight'] = torch.randn(1000, in_c, generator=gen) * 0.01
    state['fc.bias'] = torch.zeros(1000)
    return state
