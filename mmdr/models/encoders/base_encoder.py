from abc import ABCMeta, abstractmethod
from typing import List, Optional, Tuple, Union

import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.model.weight_init import PretrainedInit

from ..utils.remote_checkpoint import explain_unreachable, is_remote

#: What the log says of an encoder that no init_cfg initialises.
FROM_SCRATCH = 'random initialisation (no init_cfg): trained from scratch'


def is_pretrained(cfg: dict) -> bool:
    """Whether an init config loads a checkpoint (as mmengine decides)."""
    return cfg.get('type') in ('Pretrained', PretrainedInit)


class BaseEncoder(BaseModule, metaclass=ABCMeta):
    """Base class of the per-modality encoders of a multimodal recogniser.

    An encoder maps one modality's batch to one pooled feature vector per
    sample, of width :attr:`feat_dim`. Fusion modules are sized from
    :attr:`feat_dim`, so a wrong value is reported at the first forward pass
    with the width the encoder really produces.

    :meth:`init_weights` logs one line per encoder saying where its weights
    came from: a checkpoint (what was loaded) or a random initialisation. A
    ``Pretrained`` checkpoint at an address that cannot be fetched (no
    network) stops with one message naming the address, the encoder and
    the settings that load a local file or train from scratch.

    Args:
        feat_dim (int): Width of the pooled feature.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    #: The modality this encoder serves. :class:`MultiModalRecognizer` sets
    #: it when it builds the encoder (an encoder's config does not name its
    #: modality), so that the log and messages name the config key.
    modality: Optional[str] = None

    def __init__(self,
                 feat_dim: int,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(feat_dim, int) or feat_dim <= 0:
            raise ValueError(f'{type(self).__name__}: feat_dim must be a '
                             f'positive int, got {feat_dim!r}')
        self.feat_dim = feat_dim

    def config_key(self) -> str:
        """str: ``model.encoders.<modality>``, the encoder in a config."""
        return f'model.encoders.{self.modality or "<modality>"}'

    def title(self) -> str:
        """str: What the encoder is, e.g. its type name."""
        return type(self).__name__

    def describe(self) -> str:
        """str: The encoder in log lines and messages, e.g.
        ``model.encoders.rgb: FrameEncoder (ResNet backbone)``; the title
        alone outside a recogniser."""
        if self.modality is None:
            return self.title()
        return f'{self.config_key()}: {self.title()}'

    def init_cfgs(self) -> List[dict]:
        """list[dict]: This encoder's init configs as a list."""
        cfgs = self.init_cfg or []
        return [cfgs] if isinstance(cfgs, dict) else list(cfgs)

    def pretrained_cfgs(self) -> List[Tuple[str, dict]]:
        """The ``Pretrained`` entries of ``init_cfg``.

        Returns:
            list[tuple[str, dict]]: The config key of each entry (e.g.
            ``model.encoders.rgb.init_cfg``) and the entry.
        """
        key = f'{self.config_key()}.init_cfg'
        listed = isinstance(self.init_cfg, (list, tuple))
        return [(f'{key}.{i}' if listed else key, cfg)
                for i, cfg in enumerate(self.init_cfgs())
                if is_pretrained(cfg)]

    def init_weights(self) -> None:
        """Initialise (:meth:`load_initial_weights`), then log where the
        weights came from.

        As with every mmengine module, a second call only warns: nothing is
        loaded again over weights that may have trained.
        """
        if self.is_init:
            super().init_weights()  # mmengine's warning, nothing else
            return
        source = self.load_initial_weights()
        MMLogger.get_current_instance().info(f'{self.describe()} <- {source}')

    def load_initial_weights(self) -> str:
        """Run ``init_cfg`` as mmengine does.

        Returns:
            str: Where the weights came from, for the log.
        """
        pretrained = self.pretrained_cfgs()
        # mmengine loads every Pretrained entry at once: name the remote one.
        remote = [(k, c) for k, c in pretrained if is_remote(c['checkpoint'])]
        key, cfg = remote[0] if remote else (None, {})
        with explain_unreachable(self.describe(), f'{key}.checkpoint',
                                 f'{self.config_key()}.init_cfg',
                                 cfg.get('checkpoint')):
            super().init_weights()
        if pretrained:
            return '; '.join(f"{c['checkpoint']} (prefix {c.get('prefix')!r}"
                             "), loaded by mmengine" for _, c in pretrained)
        return self.random_init_source()

    def random_init_source(self) -> str:
        """str: The log's words for weights that no checkpoint gave."""
        types = [str(c.get('type')) for c in self.init_cfgs()]
        if not types:
            return FROM_SCRATCH
        return (f'random initialisation (init_cfg {", ".join(types)}): '
                'trained from scratch')

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
