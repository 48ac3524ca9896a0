"""Match a pretrained state dict to a backbone's, with cross-modality init.

Pure tensor logic (no mmengine), used by
:class:`mmdr.models.encoders.PooledBackboneEncoder` to load ``Pretrained``
init configs.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Sequence, Tuple

import torch

Shape = Tuple[int, ...]


@dataclass
class PretrainedReport:
    """What :func:`match_pretrained_state_dict` loads, adapts and skips.

    Attributes:
        loaded (list[str]): Backbone keys that receive a checkpoint tensor,
            adapted ones included, in the backbone's order.
        adapted (dict[str, tuple]): Key to ``(checkpoint shape, backbone
            shape)`` of the tensors averaged and replicated over input
            channels.
        missing (list[str]): Backbone keys the checkpoint lacks; they keep
            the backbone's own initialisation.
        unexpected (list[str]): Checkpoint keys the backbone does not have;
            they are ignored.
        total (int): Number of tensors in the backbone's state dict.
    """

    loaded: List[str] = field(default_factory=list)
    adapted: Dict[str, Tuple[Shape, Shape]] = field(default_factory=dict)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    total: int = 0

    def summary(self, max_items: int = 10) -> str:
        """One line for the log, e.g. ``loaded 122/122 tensors; adapted 1
        (conv1.conv.weight (64, 3, 7, 7) -> (64, 1, 7, 7)); missing in the
        checkpoint: none; not in the backbone: none``.

        Args:
            max_items (int): Names listed per category before the rest is
                only counted. Defaults to 10.

        Returns:
            str: The summary.
        """
        adapted = [
            f'{k} {old} -> {new}' for k, (old, new) in self.adapted.items()
        ]
        adapted_text = (f'{len(adapted)} ({shorten(adapted, max_items)})'
                        if adapted else '0')
        return (f'loaded {len(self.loaded)}/{self.total} tensors; adapted '
                f'{adapted_text}; missing in the checkpoint: '
                f'{shorten(self.missing, max_items) or "none"}; not in the '
                f'backbone: {shorten(self.unexpected, max_items) or "none"}')


def shorten(items: Sequence[str], max_items: int = 10) -> str:
    """Join names, listing at most ``max_items`` and counting the rest.

    Args:
        items (Sequence[str]): The names.
        max_items (int): How many to list. Defaults to 10.

    Returns:
        str: e.g. ``'a, b, c ... (+4 more)'``; empty for no names.
    """
    text = ', '.join(items[:max_items])
    if len(items) > max_items:
        text += f' ... (+{len(items) - max_items} more)'
    return text


def is_input_channel_mismatch(src_shape: Shape, dst_shape: Shape) -> bool:
    """Whether two weight shapes differ only in input channels (dim 1).

    Only convolution kernels qualify (``ndim >= 3``): a linear layer's dim 1
    is a feature width, not a number of input planes.

    Args:
        src_shape (tuple[int]): The checkpoint tensor's shape.
        dst_shape (tuple[int]): The backbone tensor's shape.

    Returns:
        bool: True for e.g. (64, 3, 7, 7) and (64, 1, 7, 7).
    """
    return (len(src_shape) == len(dst_shape) >= 3
            and src_shape[1] != dst_shape[1]
            and src_shape[:1] + src_shape[2:] == dst_shape[:1] + dst_shape[2:])


def adapt_input_channels(weight: torch.Tensor,
                         in_channels: int) -> torch.Tensor:
    """TSN's cross-modality initialisation of a first-layer kernel.

    The kernel is averaged over its input channels and the mean replicated
    to ``in_channels``, without rescaling, so e.g. an RGB conv1 initialises
    a 1-channel spectrogram or a 2L-channel optical-flow backbone.

    Args:
        weight (torch.Tensor): Shape (C_out, C_in, *kernel).
        in_channels (int): Input channels of the target layer.

    Returns:
        torch.Tensor: Shape (C_out, in_channels, *kernel), same dtype.
    """
    mean = weight.mean(dim=1, keepdim=True)
    return mean.repeat(1, in_channels, *([1] * (weight.ndim - 2)))


def match_pretrained_state_dict(
    own: Mapping[str, torch.Tensor],
    pretrained: Mapping[str, torch.Tensor],
    cross_modality: bool = True
) -> Tuple[Dict[str, torch.Tensor], PretrainedReport]:
    """Pick the checkpoint tensors that fit a backbone, adapting conv1.

    Every shape is checked before anything is returned, so a caller that
    loads only on success never loads a partial checkpoint.

    Args:
        own (Mapping[str, torch.Tensor]): The backbone's state dict.
        pretrained (Mapping[str, torch.Tensor]): The checkpoint's state dict,
            with the prefix already stripped.
        cross_modality (bool): Whether a tensor that differs only in input
            channels is adapted with :func:`adapt_input_channels`; otherwise
            it is an error. Defaults to True.

    Returns:
        tuple[dict, PretrainedReport]: The tensors to load (backbone key to
        tensor) and what was loaded, adapted and skipped.

    Raises:
        ValueError: A checkpoint tensor's shape does not fit; the message
            names every such key and both shapes.
    """
    report = PretrainedReport(
        missing=[k for k in own if k not in pretrained],
        unexpected=[k for k in pretrained if k not in own],
        total=len(own))
    to_load: Dict[str, torch.Tensor] = {}
    mismatched = []
    # Whether a rejected tensor would have been adapted with the switch on.
    adaptable = False
    for key, target in own.items():
        if key not in pretrained:
            continue
        value = pretrained[key]
        src, dst = tuple(value.shape), tuple(target.shape)
        if src == dst:
            to_load[key] = value
        elif (cross_modality and value.is_floating_point()
              and is_input_channel_mismatch(src, dst)):
            to_load[key] = adapt_input_channels(value, dst[1])
            report.adapted[key] = (src, dst)
        else:
            adaptable |= is_input_channel_mismatch(src, dst)
            mismatched.append(f'{key}: checkpoint {src}, backbone {dst}')
    if mismatched:
        hint = ''
        if adaptable and not cross_modality:
            hint = (' Tensors that differ only in input channels are '
                    'adapted with cross_modality_init=True.')
        raise ValueError(
            f'{len(mismatched)} checkpoint tensor(s) do not fit the '
            f'backbone: {shorten(mismatched)}.{hint}')
    report.loaded = list(to_load)
    return to_load, report


def _torchvision_resnet_key(key: str) -> str:
    """mmaction2's ResNet name of one torchvision ResNet key."""
    parts = key.split('.')
    if parts[0] == 'conv1':  # stem conv
        return 'conv1.conv.' + '.'.join(parts[1:])
    if parts[0] == 'bn1':  # stem norm
        return 'conv1.bn.' + '.'.join(parts[1:])
    if parts[0].startswith('layer') and len(parts) > 3:
        block, name, rest = '.'.join(parts[:2]), parts[2], parts[3:]
        if name.startswith('conv'):
            return f'{block}.{name}.conv.' + '.'.join(rest)
        if name.startswith('bn'):
            return f'{block}.conv{name[2:]}.bn.' + '.'.join(rest)
        if name == 'downsample' and rest[0] in ('0', '1'):
            sub = 'conv' if rest[0] == '0' else 'bn'
            return f'{block}.downsample.{sub}.' + '.'.join(rest[1:])
    return key


def map_torchvision_resnet(
        own: Mapping[str, torch.Tensor],
        pretrained: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename a torchvision ResNet state dict for mmaction2's ResNet.

    mmaction2 wraps every convolution and its norm in a ``ConvModule``
    (``layer1.0.conv1.conv``, ``layer1.0.conv1.bn``, ``downsample.conv``),
    where torchvision has ``layer1.0.conv1``, ``layer1.0.bn1`` and
    ``downsample.0``/``downsample.1``; mmaction2's own ``torchvision://``
    loading pairs them the same way. The names are only mapped when the
    checkpoint is in torchvision's layout and the backbone in mmaction2's;
    otherwise the state dict is returned as it is. Keys without a
    counterpart (torchvision's ``fc``) keep their names, so they are
    reported as not in the backbone.

    Args:
        own (Mapping[str, torch.Tensor]): The backbone's state dict.
        pretrained (Mapping[str, torch.Tensor]): The checkpoint's state
            dict, prefix stripped.

    Returns:
        dict[str, torch.Tensor]: The state dict with mmaction2's names.
    """
    torchvision_layout = 'bn1.weight' in pretrained and ('layer1.0.bn1.weight'
                                                         in pretrained)
    mmaction_layout = 'conv1.conv.weight' in own and 'bn1.weight' not in own
    if not (torchvision_layout and mmaction_layout):
        return dict(pretrained)
    return {_torchvision_resnet_key(k): v for k, v in pretrained.items()}
