from abc import ABCMeta, abstractmethod
from typing import Optional, Union

import torch
from mmengine.model import BaseModule


class BaseEncoder(BaseModule, metaclass=ABCMeta):
    """Base class of the per-modality encoders of a multimodal recogniser.

    An encoder maps one modality's batch to one pooled feature vector per
    sample, of width :attr:`feat_dim`. Fusion modules are sized from
    :attr:`feat_dim`, so a wrong value is reported at the first forward pass
    with the width the encoder really produces.

    Args:
        feat_dim (int): Width of the pooled feature.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 feat_dim: int,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(feat_dim, int) or feat_dim <= 0:
            raise ValueError(f'{type(self).__name__}: feat_dim must be a '
                             f'positive int, got {feat_dim!r}')
        self.feat_dim = feat_dim

    @abstractmethod
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the pooled features of a batch.

        Args:
            x (torch.Tensor): One modality's batch.

        Returns:
            torch.Tensor: Features of shape (N, D).
        """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch and check the feature width.

        Args:
            x (torch.Tensor): One modality's batch.

        Returns:
            torch.Tensor: Pooled features of shape (N, feat_dim).
        """
        feats = self.encode(x)
        if feats.ndim != 2 or feats.shape[1] != self.feat_dim:
            raise ValueError(
                f'{type(self).__name__} is configured with '
                f'feat_dim={self.feat_dim}, but its pooled features have '
                f'shape {tuple(feats.shape)}; set feat_dim='
                f'{feats.shape[-1]} in the encoder config.')
        return feats
