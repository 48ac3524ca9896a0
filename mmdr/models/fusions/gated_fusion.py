from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import ModuleDict

from mmdr.registry import MODELS
from .base_fusion import BaseFusion


@MODELS.register_module()
class GatedFusion(BaseFusion):
    """Gate the other modalities by a sigmoid of one gating modality.

    As ``GatedFusion`` of the OGM-GE code: every modality is projected to
    ``out_channels``; the gating modality's projection through a sigmoid
    multiplies the (summed) projections of the others.

    Args:
        in_dims (dict[str, int]): Feature width of every modality.
        gate (str, optional): The gating modality. Defaults to the first one.
        out_channels (int): Width of the projections. Defaults to 512.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 in_dims: Dict[str, int],
                 gate: Optional[str] = None,
                 out_channels: int = 512,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(in_dims=in_dims, init_cfg=init_cfg)
        self.gate = self._check_role('gate', gate)
        self.out_channels = out_channels
        self.projections = ModuleDict({
            m: nn.Linear(d, out_channels)
            for m, d in self.in_dims.items()
        })

    @property
    def out_dim(self) -> int:
        """int: Width of the projections."""
        return self.out_channels

    def fuse(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Gate the sum of the other projections.

        Args:
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: Shape (N, out_channels).
        """
        gate = torch.sigmoid(self.projections[self.gate](feats[self.gate]))
        gated = sum(self.projections[m](feats[m]) for m in self.modalities
                    if m != self.gate)
        return gate * gated
