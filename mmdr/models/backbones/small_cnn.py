from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule, ModuleList, Sequential

from mmdr.registry import MODELS


@MODELS.register_module()
class SmallCNN(BaseModule):
    """A small plain CNN for tiny images and spectrograms.

    Each stage is ``num_convs`` 3x3 conv-BN-ReLU blocks (the first with the
    stage's stride) followed by an optional max pooling, so the same class
    serves 8x8 digits (no stride, pooling in the first stages only) and
    257x63 spectrograms (a strided stem and pooling everywhere). The last
    feature map (N, C, h, w) is returned, for mmdr's ``FrameEncoder`` and
    ``SpectrogramEncoder`` to pool; ``C`` is ``channels[-1]``, the encoder's
    ``feat_dim``.

    Args:
        in_channels (int): Input channels. Defaults to 1.
        channels (Sequence[int]): Output channels of each stage. Defaults to
            (32, 64, 128).
        strides (Sequence[int]): Stride of each stage's first conv. Defaults
            to 1 for every stage.
        pools (Sequence[int]): Max-pooling kernel (and stride) after each
            stage; 1 means none. Defaults to 2 after every stage but the
            last, which takes 8x8 to 2x2.
        num_convs (int): Conv blocks per stage. Defaults to 1.
        norm_cfg (dict): Normalisation layer config. Defaults to BN.
        act_cfg (dict): Activation config. Defaults to ReLU.
        init_cfg (dict or list[dict], optional): Initialisation config.
            Defaults to None: each ``ConvModule`` initialises itself
            (Kaiming for the conv, 1 and 0 for the norm).
    """

    def __init__(self,
                 in_channels: int = 1,
                 channels: Sequence[int] = (32, 64, 128),
                 strides: Optional[Sequence[int]] = None,
                 pools: Optional[Sequence[int]] = None,
                 num_convs: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        channels = tuple(channels)
        num_stages = len(channels)
        strides = (1, ) * num_stages if strides is None else tuple(strides)
        if pools is None:
            pools = (2, ) * (num_stages - 1) + (1, )
        pools = tuple(pools)
        if num_stages == 0 or len(strides) != num_stages or len(
                pools) != num_stages:
            raise ValueError(
                f'SmallCNN: channels={channels}, strides={strides} and '
                f'pools={pools} must be non-empty and of the same length')
        if num_convs < 1:
            raise ValueError(f'SmallCNN: num_convs must be at least 1, got '
                             f'{num_convs}')
        self.in_channels = in_channels
        self.channels = channels
        self.strides = strides
        self.pools = pools

        stages = []
        last = in_channels
        for out, stride, pool in zip(channels, strides, pools):
            layers = []
            for i in range(num_convs):
                layers.append(
                    ConvModule(
                        last,
                        out,
                        3,
                        stride=stride if i == 0 else 1,
                        padding=1,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg))
                last = out
            if pool > 1:
                # ceil_mode keeps odd sizes (e.g. 257 bins) from losing a row.
                layers.append(nn.MaxPool2d(pool, pool, ceil_mode=True))
            stages.append(Sequential(*layers))
        # mmengine's containers pass init_weights() on to the ConvModules
        # (Kaiming conv, constant norm); torch's would stop it.
        self.stages = ModuleList(stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the last feature map.

        Args:
            x (torch.Tensor): Shape (N, in_channels, H, W).

        Returns:
            torch.Tensor: Shape (N, channels[-1], h, w).
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'SmallCNN takes (N, {self.in_channels}, H, W), got shape '
                f'{tuple(x.shape)}')
        for stage in self.stages:
            x = stage(x)
        return x
