import copy
from typing import List, Optional, Union

import torch
from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict

from mmdr.registry import MODELS
from .base_encoder import BaseEncoder


class PooledBackboneEncoder(BaseEncoder):
    """Wrap any registered backbone and average-pool its last feature map.

    Subclasses say how many dimensions one item has (:attr:`item_ndim`) and
    which leading group dimension (frames, clips) is folded into the batch;
    the backbone's output is pooled over every dimension after the channels
    and then averaged over the group.

    Pretrained weights: a ``Pretrained`` entry in this encoder's ``init_cfg``
    is loaded into the backbone by mmdr itself, so it works for every
    backbone, including mmaction2's 3D ResNets which ignore their own
    ``init_cfg``. Use ``prefix='backbone.'`` for an mmaction2 recogniser
    checkpoint. A checkpoint that matches none of the backbone's weights is an
    error, not a warning.

    Args:
        backbone (dict): Config of the backbone, e.g. ``dict(type='ResNet',
            depth=18)``; mmaction2's and mmdr's backbones can be named.
        feat_dim (int): Channels of the backbone's last feature map.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    #: Dimensions of one item as the backbone takes it, batch excluded.
    item_ndim: int = 3

    def __init__(self,
                 backbone: dict,
                 feat_dim: int,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(feat_dim=feat_dim, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)

    def fold(self, x: torch.Tensor) -> torch.Tensor:
        """Fold the group dimension into the batch.

        Args:
            x (torch.Tensor): A batch of shape (N, *item) or (N, G, *item).

        Returns:
            torch.Tensor: A batch of shape (N * G, *item).
        """
        if x.ndim == self.item_ndim + 1:
            return x
        if x.ndim == self.item_ndim + 2:
            return x.flatten(0, 1)
        raise ValueError(
            f'{type(self).__name__} takes a batch of {self.item_ndim + 1} or '
            f'{self.item_ndim + 2} dimensions, got shape {tuple(x.shape)}')

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Run the backbone on the folded batch and pool.

        Args:
            x (torch.Tensor): A batch of shape (N, *item) or (N, G, *item).

        Returns:
            torch.Tensor: Features of shape (N, C).
        """
        num_samples = x.shape[0]
        feats = self.backbone(self.fold(x))
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]
        if feats.ndim > 2:
            feats = feats.flatten(2).mean(dim=2)
        return feats.view(num_samples, -1, feats.shape[-1]).mean(dim=1)

    def init_weights(self) -> None:
        """Initialise the backbone, then load pretrained weights into it."""
        init_cfgs = self.init_cfg or []
        if isinstance(init_cfgs, dict):
            init_cfgs = [init_cfgs]
        pretrained = [c for c in init_cfgs if c.get('type') == 'Pretrained']
        self.init_cfg = [
            c for c in init_cfgs if c.get('type') != 'Pretrained'
        ] or None
        super().init_weights()
        for cfg in pretrained:
            self._load_pretrained(copy.deepcopy(cfg))
        self.init_cfg = init_cfgs or None

    def _load_pretrained(self, cfg: dict) -> None:
        """Load a ``Pretrained`` init config into the backbone.

        Args:
            cfg (dict): ``dict(type='Pretrained', checkpoint=...,
                prefix=...)``.
        """
        checkpoint = cfg['checkpoint']
        prefix = cfg.get('prefix')
        logger = MMLogger.get_current_instance()
        ckpt = _load_checkpoint(
            checkpoint, map_location=cfg.get('map_location', 'cpu'))
        ckpt_keys = sorted(ckpt.get('state_dict', ckpt))
        state_dict = ckpt.get('state_dict', ckpt)
        if prefix is not None:
            state_dict = {
                k[len(prefix):]: v
                for k, v in state_dict.items() if k.startswith(prefix)
            }
        own_keys = set(self.backbone.state_dict())
        matched = own_keys & set(state_dict)
        if not matched:
            raise ValueError(
                f'The checkpoint {checkpoint} holds no weight of '
                f'{type(self.backbone).__name__} under prefix {prefix!r}: '
                f'its keys look like {ckpt_keys[:3]}, the backbone expects '
                f'keys like {sorted(own_keys)[:3]}. Check init_cfg.prefix.')
        load_state_dict(self.backbone, state_dict, strict=False, logger=logger)
        logger.info(f'{type(self).__name__}: loaded {len(matched)}/'
                    f'{len(own_keys)} backbone tensors from {checkpoint}')


@MODELS.register_module()
class FrameEncoder(PooledBackboneEncoder):
    """A 2D image backbone applied to every frame of a clip.

    Takes (N, T, C, H, W) (mmaction2's ``NCHW`` format after stacking, T
    frames per sample) or (N, C, H, W). Frames are folded into the batch
    (so ``ResNetTSM`` with ``num_segments=T`` shifts across the right
    frames), and features are pooled over space and then over time.
    """

    item_ndim = 3


@MODELS.register_module()
class VideoEncoder(PooledBackboneEncoder):
    """A 3D video backbone (e.g. ``ResNet3dSlowOnly``, ``X3D``).

    Takes (N, C, T, H, W) or (N, M, C, T, H, W) with M clips per sample
    (mmaction2's ``NCTHW`` format); features are pooled over time and space
    and averaged over clips.
    """

    item_ndim = 4


@MODELS.register_module()
class SpectrogramEncoder(PooledBackboneEncoder):
    """A 2D backbone on a spectrogram, e.g. ``ResNet`` with ``in_channels=1``.

    Takes (N, F, T), (N, 1, F, T) or (N, M, 1, F, T) with M clips per sample
    (mmaction2's audio ``NCTF`` format); a missing channel dimension is added.
    """

    item_ndim = 3

    def fold(self, x: torch.Tensor) -> torch.Tensor:
        """Add a missing channel dimension, then fold clips into the batch.

        Args:
            x (torch.Tensor): A batch of spectrograms.

        Returns:
            torch.Tensor: A batch of shape (N * M, C, F, T).
        """
        if x.ndim == self.item_ndim:
            x = x.unsqueeze(1)
        return super().fold(x)
