from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import ModuleDict

from mmdr.registry import MODELS
from .base_fusion import BaseFusion


@MODELS.register_module()
class FiLMFusion(BaseFusion):
    """Feature-wise linear modulation by one conditioning modality.

    As ``FiLM`` of the OGM-GE code: the conditioning modality predicts a
    scale ``gamma`` and a shift ``beta`` that modulate the other modalities'
    features, ``gamma * h + beta``. With more than two modalities, ``h`` is
    the sum of the other modalities' linear projections.

    Args:
        in_dims (dict[str, int]): Feature width of every modality.
        condition (str, optional): The conditioning modality. Defaults to
            the first one.
        out_channels (int): Width of the modulated feature. Defaults to 512.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 in_dims: Dict[str, int],
                 condition: Optional[str] = None,
                 out_channels: int = 512,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(in_dims=in_dims, init_cfg=init_cfg)
        self.condition = self._check_role('condition', condition)
        self.out_channels = out_channels
        self.film = nn.Linear(self.in_dims[self.condition], 2 * out_channels)
        self.projections = ModuleDict({
            m: nn.Linear(d, out_channels)
            for m, d in self.in_dims.items() if m != self.condition
        })

    @property
    def out_dim(self) -> int:
        """int: Width of the modulated feature."""
        return self.out_channels

    def fuse(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Modulate the other modalities by the conditioning one.

        Args:
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: Shape (N, out_channels).
        """
        gamma, beta = self.film(feats[self.condition]).chunk(2, dim=1)
        modulated = sum(proj(feats[m]) for m, proj in self.projections.items())
        return gamma * modulated + beta
