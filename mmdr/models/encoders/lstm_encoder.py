from typing import List, Optional, Union

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from mmdr.registry import MODELS
from .base_sequence_encoder import BaseSequenceEncoder


@MODELS.register_module()
class LSTMEncoder(BaseSequenceEncoder):
    """An LSTM over a sequence of feature vectors.

    With ``mask_padding`` every all-zero input row is padding, wherever it
    is (left, right or inside; the padding side of the data is not known).
    Each sequence's valid rows are gathered to the front, in their order,
    and packed with their count as length, so the LSTM runs over exactly
    the valid steps and padding never changes the features. A sequence made
    only of padding pools to zeros.

    Pooling ``'last'`` is the final hidden state of the top layer, i.e. the
    state after the last valid step; when bidirectional, the backward
    direction's final state (after the first valid step) is concatenated,
    as the usual bidirectional summary. ``'mean'`` averages the top layer's
    outputs over the valid steps.

    Initialisation (unless ``init_cfg`` loads a checkpoint; ``init_cfg``
    applies on top): Xavier for the input weights, orthogonal recurrent
    weights (gradients keep their norm over long sequences), zero biases but
    a forget-gate bias of 1 (the cell remembers by default).

    Args:
        in_channels (int): Width of one input step.
        hidden_channels (int): Hidden width of each direction. Defaults to
            64.
        num_layers (int): Stacked LSTM layers. Defaults to 1.
        bidirectional (bool): Whether the LSTM is bidirectional; the feature
            width is then ``2 * hidden_channels``. Defaults to False.
        dropout (float): Dropout between stacked layers and on the pooled
            feature. Defaults to 0.
        pooling (str): ``'last'`` or ``'mean'``. Defaults to ``'last'``.
        mask_padding (bool): Whether all-zero input rows are left out.
            Defaults to True.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: int = 64,
                 num_layers: int = 1,
                 bidirectional: bool = False,
                 dropout: float = 0.0,
                 pooling: str = 'last',
                 mask_padding: bool = True,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        num_directions = 2 if bidirectional else 1
        super().__init__(
            in_channels=in_channels,
            feat_dim=hidden_channels * num_directions,
            mask_padding=mask_padding,
            init_cfg=init_cfg)
        if pooling not in ('last', 'mean'):
            raise ValueError(f"pooling must be 'last' or 'mean', got "
                             f'{pooling!r}')
        self.num_directions = num_directions
        self.pooling = pooling
        # nn.LSTM warns about dropout with a single layer: nothing to drop.
        self.lstm = nn.LSTM(
            in_channels,
            hidden_channels,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def reset_parameters(self) -> None:
        """Xavier input weights, orthogonal recurrent weights (per gate),
        zero biases with a forget-gate bias of 1."""
        hidden = self.lstm.hidden_size
        for name, param in self.lstm.named_parameters():
            if name.startswith('weight_ih'):
                for gate in param.data.split(hidden):
                    nn.init.xavier_uniform_(gate)
            elif name.startswith('weight_hh'):
                for gate in param.data.split(hidden):
                    nn.init.orthogonal_(gate)
            elif name.startswith('bias_ih'):
                param.data.zero_()
                param.data[hidden:2 * hidden] = 1.0  # gates: i, f, g, o
            elif name.startswith('bias_hh'):
                param.data.zero_()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch of sequences.

        Args:
            x (torch.Tensor): Shape (N, L, in_channels).

        Returns:
            torch.Tensor: Shape (N, feat_dim).
        """
        x = self.check_input(x)
        num_steps = x.shape[1]
        valid = self.valid_mask(x)
        lengths = valid.sum(dim=1)
        # Valid rows first, in their order (a stable sort of the flags).
        order = torch.argsort((~valid).int(), dim=1, stable=True)
        x = x.gather(1, order[..., None].expand_as(x))
        # Packing needs lengths >= 1: an empty sequence runs one zero step,
        # and its feature is zeroed below.
        packed = pack_padded_sequence(
            x,
            lengths.clamp(min=1).cpu(),
            batch_first=True,
            enforce_sorted=False)
        outputs, (h_n, _) = self.lstm(packed)
        if self.pooling == 'last':
            # h_n: (num_layers * directions, N, H), back in batch order.
            feats = h_n[-self.num_directions:].transpose(0, 1).flatten(1)
        else:
            outputs, _ = pad_packed_sequence(
                outputs, batch_first=True, total_length=num_steps)
            # Steps past each length are zero in the padded output.
            feats = outputs.sum(dim=1) / lengths.clamp(min=1)[:, None]
        feats = feats * (lengths > 0)[:, None].to(feats.dtype)
        return self.dropout(feats)
