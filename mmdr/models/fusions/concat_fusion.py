from typing import Dict

import torch

from mmdr.registry import MODELS
from .base_fusion import BaseFusion


@MODELS.register_module()
class ConcatFusion(BaseFusion):
    """Concatenate the features of all modalities, in config order.

    With a linear head this is the fusion of the D&R and OGM-GE reference
    code; the head's weight splits into one slice per modality.
    """

    @property
    def out_dim(self) -> int:
        """int: Sum of the input widths."""
        return sum(self.in_dims.values())

    def fuse(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Concatenate along the feature dimension.

        Args:
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: Shape (N, sum of D_m).
        """
        return torch.cat([feats[m] for m in self.modalities], dim=1)
