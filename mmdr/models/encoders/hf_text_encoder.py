from typing import Optional

import torch

from mmdr.registry import MODELS
from mmdr.utils.hf_transformers import check_local_model, import_transformers
from .base_encoder import BaseEncoder

#: How the token features become one vector per text.
POOLINGS = ('pooler', 'cls', 'mean')


@MODELS.register_module()
class HFTextEncoder(BaseEncoder):
    """A Hugging Face text model (e.g. BERT) read from a local folder.

    BalanceBenchmark's Food-101 text encoder (``balancemm/encoders/
    pretrained_encoder.py``, ``text_encoder``) is ``BertModel`` with its
    pooled output; this one builds any ``AutoModel`` from the folder's
    ``config.json`` when the model is built and loads the folder's weights
    in :meth:`init_weights` (where mmdr's encoders load theirs, logged as
    theirs). The folder is read only, never downloaded. ``transformers``
    is an optional dependency: without it the encoder fails when it is
    built, naming the command that installs it and its config key.

    Takes the int64 (N, 2, L) batch of :class:`mmdr.datasets.transforms.
    HFTokenize` (token ids, attention mask); tokenising in the data
    pipeline runs in the loader's workers and keeps the batch a tensor.

    Args:
        pretrained (str): Local folder of the model, as ``save_pretrained``
            writes it.
        pooling (str): ``'pooler'`` (the model's pooled output, as
            BalanceBenchmark's), ``'cls'`` (the first token's last hidden
            state) or ``'mean'`` (mean over the unmasked tokens). Defaults
            to ``'pooler'``.
        feat_dim (int, optional): Width of the features; defaults to the
            model's ``hidden_size``.
        init_cfg (dict or list[dict], optional): Must be None: the
            weights come from ``pretrained``.
    """

    def __init__(self,
                 pretrained: str,
                 pooling: str = 'pooler',
                 feat_dim: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        name = type(self).__name__
        if pooling not in POOLINGS:
            raise ValueError(f'{name}: pooling={pooling!r}; choose one of '
                             f'{list(POOLINGS)}')
        if init_cfg is not None:
            raise ValueError(f'{name}: its weights come from pretrained; '
                             'leave init_cfg out')
        # The recogniser sets the modality after the build: name the type.
        key = f"model.encoders.<modality> (type='{name}')"
        transformers = import_transformers(key)
        check_local_model(pretrained, f'{key}.pretrained')
        config = transformers.AutoConfig.from_pretrained(
            pretrained, local_files_only=True)
        super().__init__(feat_dim=feat_dim or config.hidden_size)
        self.pretrained = pretrained
        self.pooling = pooling
        # Random weights until init_weights() loads the folder's: the
        # model's own initialisation never runs over loaded weights.
        self.model = transformers.AutoModel.from_config(config)

    def title(self) -> str:
        """str: e.g. ``HFTextEncoder (BertModel)``."""
        return f'{type(self).__name__} ({type(self.model).__name__})'

    def load_initial_weights(self) -> str:
        """Load the folder's weights into the model.

        Returns:
            str: Where the weights came from, for the log.
        """
        transformers = import_transformers(self.config_key())
        loaded = transformers.AutoModel.from_pretrained(
            self.pretrained, local_files_only=True)
        missing, unexpected = self.model.load_state_dict(
            loaded.state_dict(), strict=False)
        if missing or unexpected:
            raise ValueError(
                f'{self.describe()}: {self.pretrained} does not fit the '
                f'model built from its config: missing {missing[:5]}, '
                f'unexpected {unexpected[:5]}')
        # mmengine's init_weights() is not run: the model's own
        # initialisation would replace nothing, but mark the module done.
        self.is_init = True
        return f'{self.pretrained} (loaded by transformers)'

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch of tokenised texts.

        Args:
            x (torch.Tensor): Shape (N, 2, L): token ids, attention mask.

        Returns:
            torch.Tensor: Shape (N, feat_dim).
        """
        if x.ndim != 3 or x.shape[1] != 2:
            raise ValueError(
                f'{self.describe()} takes (N, 2, L) token ids and attention '
                f'masks (the HFTokenize transform), got {tuple(x.shape)}')
        ids, mask = x[:, 0].long(), x[:, 1].long()
        outputs = self.model(input_ids=ids, attention_mask=mask)
        if self.pooling == 'pooler':
            return outputs.pooler_output
        hidden = outputs.last_hidden_state
        if self.pooling == 'cls':
            return hidden[:, 0]
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
