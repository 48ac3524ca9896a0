from typing import Optional, Sequence, Union

import torch
import torch.nn as nn

from mmdr.registry import MODELS
from .base_encoder import BaseEncoder


@MODELS.register_module()
class MLPEncoder(BaseEncoder):
    """A multi-layer perceptron on a feature vector.

    Features of tabular or pre-extracted views often live on very different
    scales, so by default the input passes through a ``BatchNorm1d`` first,
    which learns the per-dimension statistics from the training data.

    Args:
        in_channels (int): Width of the input vector.
        hidden_channels (Sequence[int]): Widths of the hidden layers; the
            last one is the feature width. Defaults to ``(256, )``.
        input_norm (bool): Whether to batch-normalise the input.
            Defaults to True.
        dropout (float): Dropout before every linear layer. Defaults to 0.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: Sequence[int] = (256, ),
                 input_norm: bool = True,
                 dropout: float = 0.0,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        if not hidden_channels:
            raise ValueError('MLPEncoder needs at least one hidden layer')
        super().__init__(feat_dim=hidden_channels[-1], init_cfg=init_cfg)
        self.in_channels = in_channels
        layers = [nn.BatchNorm1d(in_channels)] if input_norm else []
        widths = [in_channels, *hidden_channels]
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            layers += [nn.Linear(width_in, width_out), nn.ReLU(inplace=True)]
        self.layers = nn.Sequential(*layers)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch of vectors.

        Args:
            x (torch.Tensor): Shape (N, in_channels).

        Returns:
            torch.Tensor: Shape (N, feat_dim).
        """
        if x.ndim != 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'MLPEncoder is configured with in_channels='
                f'{self.in_channels}, but got a batch of shape '
                f'{tuple(x.shape)}; set in_channels to the width of the '
                'data.')
        return self.layers(x.float())
