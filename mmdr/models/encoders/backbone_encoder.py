import copy
import os.path as osp
from typing import List, Optional, Union

import torch
from mmengine.model.weight_init import update_init_info
from mmengine.runner.checkpoint import _load_checkpoint

from mmdr.registry import MODELS
from ..utils import map_torchvision_resnet, match_pretrained_state_dict
from ..utils.remote_checkpoint import (CheckpointUnreachableError,
                                       explain_unreachable)
from .base_encoder import BaseEncoder, is_pretrained


class PooledBackboneEncoder(BaseEncoder):
    """Wrap any registered backbone and average-pool its last feature map.

    Subclasses say how many dimensions one item has (:attr:`item_ndim`) and
    which leading group dimension (frames, clips) is folded into the batch;
    the backbone's output is pooled over every dimension after the channels
    and then averaged over the group.

    Pretrained weights: a ``Pretrained`` entry in this encoder's ``init_cfg``
    is loaded into the backbone by mmdr itself, after the backbone's own
    initialisation, so it works for every backbone, including mmaction2's 3D
    ResNets which ignore their own ``init_cfg``. Use ``prefix='backbone.'``
    for an mmaction2 recogniser checkpoint. Every shape is checked before
    anything is loaded: a checkpoint that matches none of the backbone's
    weights, or a tensor of another shape, is an error, not a warning; the
    one exception is cross-modality initialisation (below). The encoder's
    log line says for each checkpoint how many tensors were loaded, which
    were adapted and which the checkpoint lacks (those keep the backbone's
    initialisation); an encoder without a checkpoint says that it trains
    from scratch. A
    checkpoint address that cannot be fetched (``https://``,
    ``torchvision://``, ... without a network) is one message naming the
    address and the settings that read a local file or train from scratch.

    Cross-modality initialisation (TSN): a checkpoint kernel that differs
    from the backbone's only in input channels, e.g. an RGB ``conv1`` of
    shape (64, 3, 7, 7) for a 1-channel spectrogram or a 2L-channel optical
    flow backbone, is averaged over its input channels and the mean
    replicated to the backbone's channels.

    Args:
        backbone (dict): Config of the backbone, e.g. ``dict(type='ResNet',
            depth=18)``; mmaction2's and mmdr's backbones can be named.
        feat_dim (int): Channels of the backbone's last feature map.
        cross_modality_init (bool): Whether pretrained kernels that differ
            only in input channels are adapted as above; if False they are
            an error. Defaults to True.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    #: Dimensions of one item as the backbone takes it, batch excluded.
    item_ndim: int = 3

    def __init__(self,
                 backbone: dict,
                 feat_dim: int,
                 cross_modality_init: bool = True,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(feat_dim=feat_dim, init_cfg=init_cfg)
        self.cross_modality_init = cross_modality_init
        self._check_checkpoints_exist()
        self.backbone = MODELS.build(backbone)

    def title(self) -> str:
        """str: e.g. ``FrameEncoder (ResNet backbone)``."""
        return (f'{type(self).__name__} ({type(self.backbone).__name__} '
                'backbone)')

    def _check_checkpoints_exist(self) -> None:
        """Fail when the model is built, not when training starts, if a
        local pretrained checkpoint does not exist (URLs and other
        ``scheme://`` paths are left to mmengine's loaders)."""
        for cfg in self.init_cfgs():
            path = cfg.get('checkpoint') if is_pretrained(cfg) else None
            if isinstance(path, str) and '://' not in path and not osp.isfile(
                    osp.expanduser(path)):
                raise FileNotFoundError(
                    f'{type(self).__name__}: init_cfg checkpoint {path!r} '
                    'does not exist (init_cfg=dict(type=\'Pretrained\', '
                    'checkpoint=...) of this encoder); download it or point '
                    'the config at it, e.g. --cfg-options '
                    'model.encoders.<modality>.init_cfg.checkpoint=PATH')

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

    def load_initial_weights(self) -> str:
        """Initialise the backbone, then load pretrained weights into it.

        Returns:
            str: Where the weights came from, for the log.
        """
        original = self.init_cfg
        pretrained = self.pretrained_cfgs()
        # mmengine would load Pretrained entries into the encoder itself,
        # where the keys lack the 'backbone.' level; keep them for below.
        self.init_cfg = [c for c in self.init_cfgs() if not is_pretrained(c)
                         ] or None
        # mmaction2 backbones may load a checkpoint of their own.
        own = getattr(self.backbone, 'pretrained', None)
        own_key = f'{self.config_key()}.backbone.pretrained'
        try:
            with explain_unreachable(self.describe(), own_key, own_key, own):
                source = super().load_initial_weights()
        except CheckpointUnreachableError:
            raise
        except Exception as err:
            raise RuntimeError(
                f'{type(self).__name__}: initialising its '
                f'{type(self.backbone).__name__} backbone failed ({err}). '
                'Backbones that load 2D weights themselves by default '
                '(e.g. ResNetTSM, pretrained2d=True) need pretrained=<path> '
                'or pretrained2d=False; for an mmaction2 checkpoint use the '
                "encoder's init_cfg=dict(type='Pretrained', ...).") from err
        finally:
            self.init_cfg = original
        sources = [f"{own} (the backbone's own pretrained)"] if isinstance(
            own, str) else []
        sources += [
            self._load_pretrained(key, copy.deepcopy(cfg))
            for key, cfg in pretrained
        ]
        return '; '.join(sources) or source

    def _load_pretrained(self, key: str, cfg: dict) -> str:
        """Load a ``Pretrained`` init config into the backbone.

        Args:
            key (str): Where ``cfg`` is in the config, e.g.
                ``model.encoders.rgb.init_cfg``.
            cfg (dict): ``dict(type='Pretrained', checkpoint=...,
                prefix=...)``.

        Returns:
            str: The checkpoint and what was loaded, adapted and missed.
        """
        checkpoint = cfg['checkpoint']
        prefix = cfg.get('prefix')
        with explain_unreachable(self.describe(), f'{key}.checkpoint',
                                 f'{self.config_key()}.init_cfg', checkpoint):
            ckpt = _load_checkpoint(
                checkpoint, map_location=cfg.get('map_location', 'cpu'))
        state_dict = ckpt.get('state_dict', ckpt)
        ckpt_keys = sorted(state_dict)
        if prefix is not None:
            state_dict = {
                k[len(prefix):]: v
                for k, v in state_dict.items() if k.startswith(prefix)
            }
        own = self.backbone.state_dict()
        mapped = map_torchvision_resnet(own, state_dict)
        renamed = mapped.keys() != state_dict.keys()
        state_dict = mapped
        if not set(own) & set(state_dict):
            raise ValueError(
                f'The checkpoint {checkpoint} holds no weight of '
                f'{type(self.backbone).__name__} under prefix {prefix!r}: '
                f'its keys look like {ckpt_keys[:3]}, the backbone expects '
                f'keys like {sorted(own)[:3]}. Check init_cfg.prefix.')
        source = f'{checkpoint} (prefix {prefix!r})'
        try:
            to_load, report = match_pretrained_state_dict(
                own, state_dict, cross_modality=self.cross_modality_init)
        except ValueError as err:
            raise ValueError(f'{self.describe()} <- {source}: {err}') from None
        # Every key and shape was checked above: nothing is left to refuse.
        self.backbone.load_state_dict(to_load, strict=False)
        if hasattr(self.backbone, '_params_init_info'):
            # Inside a top-level init_weights(): record the source for
            # mmengine's per-parameter initialisation log.
            update_init_info(
                self.backbone, init_info=f'Loaded from {checkpoint}')
        if renamed:
            source += ", torchvision's ResNet names mapped to mmaction2's"
        return f'{source}: {report.summary()}'


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
