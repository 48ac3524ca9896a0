from typing import List, Optional, Union

import torch

from .base_encoder import BaseEncoder


class BaseSequenceEncoder(BaseEncoder):
    """Base of encoders of word-aligned feature sequences (N, L, d).

    In the aligned feature files of CMU-MOSI/MOSEI padded steps are all-zero
    rows, on a side that is not guaranteed; with ``mask_padding`` every
    all-zero row is padding, wherever it is (:meth:`valid_mask`).
    Subclasses draw their own initialisation in :meth:`reset_parameters`,
    which :meth:`init_weights` runs unless ``init_cfg`` loads a checkpoint;
    ``init_cfg`` applies on top.

    Args:
        in_channels (int): Width of one input step; the data set's width is
            checked against it before training.
        feat_dim (int): Width of the pooled feature.
        mask_padding (bool): Whether all-zero input rows are padding.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 feat_dim: int,
                 mask_padding: bool = True,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(feat_dim=feat_dim, init_cfg=init_cfg)
        self.in_channels = in_channels
        self.mask_padding = mask_padding

    def reset_parameters(self) -> None:
        """Draw the encoder's own initialisation (none by default)."""

    def init_weights(self) -> None:
        """Run :meth:`reset_parameters`, then ``init_cfg`` on top."""
        cfgs = self.init_cfg
        cfgs = [cfgs] if isinstance(cfgs, dict) else (cfgs or [])
        if not self.is_init and not any(
                cfg.get('type') == 'Pretrained' for cfg in cfgs):
            self.reset_parameters()
        super().init_weights()

    def valid_mask(self, x: torch.Tensor) -> torch.Tensor:
        """Which steps hold data.

        Args:
            x (torch.Tensor): Shape (N, L, in_channels).

        Returns:
            torch.Tensor: Bool, shape (N, L); all True without
            ``mask_padding``.
        """
        if not self.mask_padding:
            return x.new_ones(x.shape[:2], dtype=torch.bool)
        return x.ne(0).any(dim=-1)

    def check_input(self, x: torch.Tensor) -> torch.Tensor:
        """Check a batch's shape and return it as float.

        Args:
            x (torch.Tensor): Shape (N, L, in_channels).

        Returns:
            torch.Tensor: The batch as float32.
        """
        if x.ndim != 3 or x.shape[-1] != self.in_channels:
            raise ValueError(
                f'{type(self).__name__} is configured with in_channels='
                f'{self.in_channels} and takes (N, L, in_channels) batches, '
                f'but got shape {tuple(x.shape)}; set in_channels to the '
                'width of the data.')
        return x.float()
