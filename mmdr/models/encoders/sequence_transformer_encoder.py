import math
from typing import List, Optional, Union

import torch
import torch.nn as nn

from mmdr.registry import MODELS
from .base_sequence_encoder import BaseSequenceEncoder


def _sinusoidal_table(max_len: int, dims: int) -> torch.Tensor:
    """The fixed positional encodings of "Attention Is All You Need".

    Args:
        max_len (int): Number of positions.
        dims (int): Width of one encoding; odd widths are allowed.

    Returns:
        torch.Tensor: Shape (max_len, dims).
    """
    position = torch.arange(max_len, dtype=torch.float32)[:, None]
    div_term = torch.exp(
        torch.arange(0, dims, 2, dtype=torch.float32) *
        (-math.log(10000.0) / dims))
    table = torch.zeros(max_len, dims)
    table[:, 0::2] = torch.sin(position * div_term)
    table[:, 1::2] = torch.cos(position * div_term[:dims // 2])
    return table


@MODELS.register_module()
class SequenceTransformerEncoder(BaseSequenceEncoder):
    """A transformer encoder over a sequence of feature vectors.

    Made for word-aligned multimodal sentiment data (CMU-MOSI/MOSEI: text,
    audio and vision as (N, L, d) sequences, padded with all-zero rows on
    either side). The layers are PyTorch's ``nn.TransformerEncoder``:

    1. optional ``LayerNorm`` on the input (raw COVAREP/FACET features live
       on very different scales);
    2. a per-step linear projection to ``embed_dims``, i.e. MulT's Conv1d
       with kernel size 1: a wider kernel would mix padding rows into the
       valid steps next to them, so padding would change the features;
    3. positional encodings, sinusoidal or learned, counted from each
       sequence's first valid step, so left padding does not shift them;
    4. an optional learned CLS token in front (it gets no position);
    5. pre-norm layers (``norm_first=True``, as MulT; stable without a
       learning-rate warm-up) and a final ``LayerNorm``;
    6. pooling: the CLS token's output, or the mean over the valid steps.

    With ``mask_padding`` every all-zero input row, wherever it is, is a key
    the attention ignores and a step the mean leaves out, so in eval mode
    padding rows do not change the features at all. A sequence made only of
    padding pools to zeros with ``pooling='mean'`` (there is nothing to
    average; its keys are unmasked only to keep the attention finite), and
    to the CLS token's output with ``pooling='cls'`` (the token attends to
    itself alone): never NaN.

    Nested tensors (the fast path of ``nn.TransformerEncoder`` that drops
    padded steps in eval mode) are disabled, so training, evaluation and
    masked or unmasked batches all run the same computation.

    Args:
        in_channels (int): Width of one input step.
        embed_dims (int): Width of the model and of the pooled feature.
            Defaults to 40.
        num_layers (int): Number of transformer layers. Defaults to 4.
        num_heads (int): Attention heads; must divide ``embed_dims``.
            Defaults to 5.
        feedforward_channels (int, optional): Hidden width of the
            feed-forward blocks. Defaults to ``4 * embed_dims``.
        dropout (float): Dropout after the positional encoding and inside
            every layer (attention weights, residual branches, feed-forward).
            Defaults to 0.1.
        activation (str): ``'relu'`` or ``'gelu'``. Defaults to ``'relu'``.
        max_len (int): Longest sequence accepted. Defaults to 50.
        pooling (str): ``'mean'`` or ``'cls'``. Defaults to ``'mean'``.
        pos_encoding (str): ``'sinusoidal'`` or ``'learned'``. Defaults to
            ``'sinusoidal'``.
        mask_padding (bool): Whether all-zero input rows are masked as
            padding. Defaults to True.
        input_norm (bool): Whether the input is layer-normalised first.
            Defaults to False.
        init_cfg (dict or list[dict], optional): Initialisation config.
            None means Xavier (uniform) on every ``nn.Linear``, as MulT;
            ``[]`` leaves PyTorch's initialisation. Unless ``init_cfg``
            loads a checkpoint, the CLS token and learned positions are
            drawn from a normal (std 0.02, truncated at 2 std) by
            :meth:`init_weights`, before ``init_cfg`` applies.
    """

    def __init__(self,
                 in_channels: int,
                 embed_dims: int = 40,
                 num_layers: int = 4,
                 num_heads: int = 5,
                 feedforward_channels: Optional[int] = None,
                 dropout: float = 0.1,
                 activation: str = 'relu',
                 max_len: int = 50,
                 pooling: str = 'mean',
                 pos_encoding: str = 'sinusoidal',
                 mask_padding: bool = True,
                 input_norm: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if init_cfg is None:
            init_cfg = dict(
                type='Xavier', layer='Linear', distribution='uniform')
        super().__init__(
            in_channels=in_channels,
            feat_dim=embed_dims,
            mask_padding=mask_padding,
            init_cfg=init_cfg)
        if pooling not in ('mean', 'cls'):
            raise ValueError(f"pooling must be 'mean' or 'cls', got "
                             f'{pooling!r}')
        if pos_encoding not in ('sinusoidal', 'learned'):
            raise ValueError("pos_encoding must be 'sinusoidal' or "
                             f"'learned', got {pos_encoding!r}")
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        self.embed_dims = embed_dims
        self.max_len = max_len
        self.pooling = pooling
        self.pos_encoding = pos_encoding

        self.input_norm = (
            nn.LayerNorm(in_channels) if input_norm else nn.Identity())
        self.proj = nn.Linear(in_channels, embed_dims)
        if pos_encoding == 'learned':
            self.pos_embed = nn.Parameter(torch.zeros(max_len, embed_dims))
        else:
            # Not persistent: a function of the config, not a weight.
            self.register_buffer(
                'pos_embed',
                _sinusoidal_table(max_len, embed_dims),
                persistent=False)
        if pooling == 'cls':
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.embed_dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model=embed_dims,
            nhead=num_heads,
            dim_feedforward=feedforward_channels or 4 * embed_dims,
            dropout=dropout,
            activation=activation,
            batch_first=True,
            norm_first=True)
        self.layers = nn.TransformerEncoder(
            layer,
            num_layers=num_layers,
            norm=nn.LayerNorm(embed_dims),
            enable_nested_tensor=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the CLS token and learned positions (ViT's init), truncated
        at two standard deviations (torch's default bounds are absolute)."""
        for name in ('pos_embed', 'cls_token'):
            param = getattr(self, name, None)
            if isinstance(param, nn.Parameter):
                nn.init.trunc_normal_(param, std=0.02, a=-0.04, b=0.04)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch of sequences.

        Args:
            x (torch.Tensor): Shape (N, L, in_channels), L <= max_len.

        Returns:
            torch.Tensor: Shape (N, embed_dims).
        """
        if x.shape[1] > self.max_len:
            raise ValueError(
                f'{type(self).__name__}: sequences of length {x.shape[1]} '
                f'exceed max_len={self.max_len}; raise max_len.')
        x = self.check_input(x)
        valid = self.valid_mask(x)
        num_steps = x.shape[1]

        # Positions count from the first valid step (0 if there is none).
        first = valid.int().argmax(dim=1, keepdim=True)
        steps = torch.arange(num_steps, device=x.device)[None]
        positions = (steps - first).clamp(min=0)
        feats = self.proj(self.input_norm(x)) + self.pos_embed[positions]

        padding = ~valid
        empty = ~valid.any(dim=1)
        if self.pooling == 'cls':
            cls = self.cls_token.expand(x.shape[0], -1, -1)
            feats = torch.cat([cls, feats], dim=1)
            padding = torch.cat([padding.new_zeros(x.shape[0], 1), padding],
                                dim=1)
        else:
            # A query with every key masked gives NaN: let an empty
            # sequence attend to its padding; its pooled feature is 0.
            padding = padding & ~empty[:, None]
        feats = self.layers(
            self.embed_dropout(feats), src_key_padding_mask=padding)

        if self.pooling == 'cls':
            return feats[:, 0]
        weights = valid.to(feats.dtype)[..., None]
        count = weights.sum(dim=1).clamp(min=1)
        return (feats * weights).sum(dim=1) / count
