from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import ModuleDict

from mmdr.registry import MODELS
from .base_fusion import BaseFusion


@MODELS.register_module()
class SumFusion(BaseFusion):
    """Project every modality linearly to one width and add them.

    As ``SumFusion`` of the OGM-GE code, whose per-modality linear layers map
    straight to the classes; here they map to ``out_channels`` and the head
    classifies the sum.

    Args:
        in_dims (dict[str, int]): Feature width of every modality.
        out_channels (int): Width of the projections. Defaults to 512.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 in_dims: Dict[str, int],
                 out_channels: int = 512,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(in_dims=in_dims, init_cfg=init_cfg)
        self.out_channels = out_channels
        self.projections = ModuleDict({
            m: nn.Linear(d, out_channels)
            for m, d in self.in_dims.items()
        })

    @property
    def out_dim(self) -> int:
        """int: Width of the projections."""
        return self.out_channels

    def project(self, modality: str, feat: torch.Tensor) -> torch.Tensor:
        """One modality's feature projected to the common width.

        Args:
            modality (str): The modality.
            feat (torch.Tensor): (N, D_m) its features.

        Returns:
            torch.Tensor: Shape (N, out_channels).
        """
        return self.projections[modality](feat)

    def fuse(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum the projected features.

        Args:
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: Shape (N, out_channels).
        """
        return sum(self.project(m, feats[m]) for m in self.modalities)
