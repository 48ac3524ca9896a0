"""Greedy's mid-level connection and conditional learning speed.

Wu, Jastrzebski, Cho & Geras, "Characterizing and Overcoming the Greedy
Nature of Learning in Multi-modal Deep Neural Networks", ICML 2022. Code:
https://github.com/nyukat/greedy_multimodal_learning (``src/balanced_mmtm.py``,
``MMTM_mitigate``; ``src/callbacks.py``, ``Bias_Mitigation_Strong``).

:class:`MMTMConnection` is the authors' multimodal transfer module (MMTM)
between two uni-modal branches, on their pooled features;
:func:`squared_norm_ratio` and :func:`speed_difference` are the conditional
learning speed their callback computes from the gradients, and
:func:`next_rebalancing_state` its choice of re-balancing steps.
:mod:`mmdr.models.balancers.greedy` is the framework glue.
"""
from typing import Dict, Iterable, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.dist import all_reduce, get_world_size


class MMTMConnection(nn.Module):
    """The authors' MMTM on two pooled features, with the running means of
    its gates.

    Squeeze: the features concatenated (the mean over a feature map's
    positions is the pooled feature itself); excitation: a linear layer of
    width ``int(2 * (D_0 + D_1) / reduction)`` and a ReLU, then one linear
    layer and a sigmoid per modality, whose output (the gate) scales that
    modality's feature channel-wise. A channel-wise gate commutes with
    average pooling, so on the pooled features of an average-pooling
    encoder this is exactly an MMTM on its last feature map (the authors'
    ``mmtm4``, after ResNet's ``layer4``).

    Every training forward updates each modality's running mean of its gate
    over all forwards so far (the batch mean of the gate, averaged over the
    ranks under DDP, as one process sees the whole batch). In a re-balancing
    step, one modality's gate is that running mean instead (a constant), so
    its feature no longer depends on the other modality.

    Args:
        in_dims (dict[str, int]): Feature width per modality, two of them.
        reduction (float): The squeeze's reduction ratio. Defaults to 4.
    """

    def __init__(self, in_dims: Dict[str, int], reduction: float = 4) -> None:
        super().__init__()
        if len(in_dims) != 2:
            raise ValueError(f'MMTMConnection joins two modalities, got '
                             f'{list(in_dims)}')
        self.modalities = tuple(in_dims)
        total = sum(in_dims.values())
        hidden = int(2 * total / reduction)
        if hidden < 1:
            raise ValueError(
                f'MMTMConnection: reduction={reduction} leaves no hidden '
                f'unit for features of widths {dict(in_dims)} '
                f'(int(2 * {total} / {reduction}) = {hidden})')
        self.hidden_dim = hidden
        self.squeeze = nn.Linear(total, hidden)
        self.excite = nn.ModuleDict({
            m: nn.Linear(hidden, dim)
            for m, dim in in_dims.items()
        })
        for m, dim in in_dims.items():
            self.register_buffer(f'average_gate_{m}', torch.zeros(dim))
        # How many forwards the running means average.
        self.register_buffer('num_averaged', torch.zeros((), dtype=torch.long))

    def average_gate(self, modality: str) -> torch.Tensor:
        """torch.Tensor: The running mean of ``modality``'s gate, (D_m, )."""
        return getattr(self, f'average_gate_{modality}')

    def gates(self, feats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """The gate of every modality, with gradients.

        Args:
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            dict[str, torch.Tensor]: (N, D_m) gates in (0, 1).
        """
        squeezed = torch.cat([feats[m] for m in self.modalities], 1)
        excitation = torch.relu(self.squeeze(squeezed))
        return {
            m: torch.sigmoid(self.excite[m](excitation))
            for m in self.modalities
        }

    @torch.no_grad()
    def update_averages(self, gates: Dict[str, torch.Tensor]) -> None:
        """Add a batch's gates to the running means (the authors' order:
        ``(batch_mean + average * count) / (count + 1)``).

        Args:
            gates (dict[str, torch.Tensor]): (N, D_m) gates per modality.
        """
        means = [gates[m].mean(0).float() for m in self.modalities]
        if get_world_size() > 1:
            # One process would see the whole batch: average the ranks'
            # batch means (equal batch sizes), in one collective.
            flat = torch.cat(means)
            all_reduce(flat, op='mean')
            means = list(flat.split([len(x) for x in means]))
        count = int(self.num_averaged)
        for m, mean in zip(self.modalities, means):
            average = self.average_gate(m)
            average.copy_(
                (mean.to(average.dtype) + average * count) / (count + 1))
        self.num_averaged += 1

    def forward(
        self,
        feats: Dict[str, torch.Tensor],
        fixed: Optional[str] = None,
        update_averages: bool = False
    ) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
        """Gate the features.

        Args:
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            fixed (str, optional): The modality whose gate is its running
                mean (a re-balancing step), or None (every gate from the
                batch).
            update_averages (bool): Whether the batch's gates enter the
                running means first (training forwards). Defaults to False.

        Returns:
            tuple[dict, dict]: The gated (N, D_m) features, and the gates
            computed from the batch (also the fixed modality's, which the
            gated feature does not use).
        """
        if fixed is not None and fixed not in self.modalities:
            raise KeyError(f'no modality {fixed!r} in {self.modalities}')
        gates = self.gates(feats)
        if update_averages:
            self.update_averages(gates)
        gated = {}
        for m in self.modalities:
            gate = self.average_gate(m) if m == fixed else gates[m]
            gated[m] = feats[m] * gate.to(feats[m].dtype)
        return gated, gates


def squared_norm_ratio(params: Iterable[torch.Tensor]) -> Tuple[float, float]:
    """The summed squared norms of some parameters' gradients and values.

    As the authors' ``compute_BDR``: per tensor a float32 sum read as a
    Python float, summed in float64 in the order given. A parameter without
    a gradient counts as a zero gradient (the authors' zeroed ``.grad``).

    Args:
        params (Iterable[torch.Tensor]): The parameters.

    Returns:
        tuple[float, float]: (sum of squared gradients, sum of squared
        weights).
    """
    grad_sum, weight_sum = 0.0, 0.0
    for param in params:
        weight_sum += (param.detach()**2).sum().item()
        if param.grad is not None:
            grad_sum += (param.grad.detach()**2).sum().item()
    return grad_sum, weight_sum


def speed_difference(bypass: Sequence[float], main: Sequence[float]) -> float:
    """The conditional learning speed of modality 0 minus modality 1.

    ``log10(bypass_m / main_m)``: the accumulated relative gradient size of
    the connection's parameters that carry modality ``m``'s branch over that
    of the branch itself (the authors' BDR); a positive difference means
    modality 0 relies more on the other modality than modality 1 does.
    numpy's ``log10``, as theirs (``log10(0)`` is ``-inf``).

    Args:
        bypass (Sequence[float]): Accumulated ratios of the connection, per
            modality.
        main (Sequence[float]): Accumulated ratios of the branches.

    Returns:
        float: ``BDR_0 - BDR_1``.
    """
    with np.errstate(divide='ignore', invalid='ignore'):
        bdr = [np.log10(float(b) / float(m)) for b, m in zip(bypass, main)]
    return float(bdr[0] - bdr[1])


class RebalancingState(NamedTuple):
    """Which step comes next.

    Attributes:
        rebalancing (bool): Whether the next step is a re-balancing step.
        modality (int): The index of the modality whose gate is fixed in
            re-balancing steps (the authors' ``caring_modality``).
        step (int): Re-balancing steps done in the current window.
    """
    rebalancing: bool
    modality: int
    step: int


def next_rebalancing_state(state: RebalancingState,
                           difference: Optional[float], epsilon: float,
                           window_size: int) -> RebalancingState:
    """The authors' ``on_backward_end``: the state for the next step.

    Outside a window (``difference`` was measured on this step): a
    difference larger than ``epsilon`` in magnitude starts a window of
    ``window_size`` re-balancing steps that fix modality 0's gate when the
    difference is positive and modality 1's when negative. Inside a window
    (``difference`` is None), count the step and end the window after
    ``window_size`` of them.

    Args:
        state (RebalancingState): The state of the step just taken.
        difference (float, optional): Its :func:`speed_difference`, or None
            in a re-balancing step (not measured).
        epsilon (float): The threshold.
        window_size (int): Re-balancing steps per window.

    Returns:
        RebalancingState: The state of the next step.
    """
    if state.rebalancing:
        step = state.step + 1
        return RebalancingState(step != window_size, state.modality, step)
    if abs(difference) > epsilon:
        return RebalancingState(True, 0 if difference > 0 else 1, 0)
    return RebalancingState(False, 0, state.step)
