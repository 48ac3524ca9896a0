from abc import ABCMeta, abstractmethod
from typing import Dict, Optional, Union

import torch
from mmengine.model import BaseModule


class BaseFusion(BaseModule, metaclass=ABCMeta):
    """Base class of the modules that fuse per-modality features.

    The recogniser passes ``in_dims`` (modality name to feature width, in the
    order of the config's encoders), so a fusion config only holds the
    fusion's own hyper-parameters. :attr:`out_dim` sizes the head.

    Args:
        in_dims (dict[str, int]): Feature width of every modality.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 in_dims: Dict[str, int],
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not in_dims:
            raise ValueError(f'{type(self).__name__} needs at least one '
                             'modality')
        self.in_dims = dict(in_dims)
        self.modalities = tuple(self.in_dims)

    @property
    @abstractmethod
    def out_dim(self) -> int:
        """int: Width of the fused feature."""

    @abstractmethod
    def fuse(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Fuse the features of all modalities.

        Args:
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: Fused features of shape (N, out_dim).
        """

    def forward(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Check that every modality is present, then fuse.

        Args:
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: Fused features of shape (N, out_dim).
        """
        missing = [m for m in self.modalities if m not in feats]
        if missing:
            raise KeyError(f'{type(self).__name__} expects modalities '
                           f'{list(self.modalities)}, missing {missing}')
        return self.fuse(feats)

    def _check_role(self, role: str, modality: Optional[str]) -> str:
        """Resolve a modality that plays a role (FiLM condition, gate).

        Args:
            role (str): The argument name, for the error message.
            modality (str, optional): The configured modality; None means
                the first one.

        Returns:
            str: The modality name.
        """
        if modality is None:
            modality = self.modalities[0]
        if modality not in self.in_dims:
            raise ValueError(f'{type(self).__name__}: {role}={modality!r} is '
                             f'not one of the modalities '
                             f'{list(self.modalities)}')
        if len(self.modalities) < 2:
            raise ValueError(f'{type(self).__name__} needs at least two '
                             'modalities')
        return modality
