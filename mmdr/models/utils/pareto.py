"""MMPareto's gradient integration for one encoder: pure tensor math.

Wei & Hu, "MMPareto: Boosting Multimodal Learning with Innocent Unimodal
Assistance", ICML 2024. Code: https://github.com/GeWu-Lab/MMPareto_ICML2024
(``code/MMPareto.py``, ``train_epoch``; ``code/min_norm_solvers.py``,
``MinNormSolver._min_norm_element_from2``).

An encoder is trained by two objectives, the multimodal (fused) loss and its
own uni-modal loss, with gradients ``g_mm`` and ``g_uni`` (lists of tensors,
one per parameter). :func:`mmpareto_weights` picks the weights of the two:
equal when they agree in direction (cosine > 0), else the minimum-norm point
of their convex hull; :func:`pareto_direction` combines them and
:func:`rescale_to_total` gives every tensor at least the norm of the
summed-loss gradient, times ``gamma``. :mod:`mmdr.models.balancers.mmpareto`
is the framework glue (no mmengine here).
"""
import math
from typing import NamedTuple, Sequence, Tuple

import torch

#: The clipped ends of the authors' 2-vector solver (it never returns
#: exactly 0 or 1).
MIN_NORM_CLIP = (0.001, 0.999)


class ParetoWeights(NamedTuple):
    """The weights of one encoder's two gradients.

    Attributes:
        mm (float): Weight of the multimodal (fused-loss) gradient.
        uni (float): Weight of the uni-modal gradient; ``mm + uni == 1``.
        cos (float): Cosine similarity of the two gradients (0 when either
            is zero).
        conflict (bool): Whether the cosine was not positive, i.e. the
            min-norm solver chose the weights.
    """
    mm: float
    uni: float
    cos: float
    conflict: bool


def dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """The inner product of two gradients given as lists of tensors.

    Accumulated in float64, so the sign of a near-orthogonal pair and the
    solver's weights do not depend on the gradients' precision.

    Args:
        a (Sequence[torch.Tensor]): One tensor per parameter.
        b (Sequence[torch.Tensor]): The same shapes as ``a``.

    Returns:
        float: ``sum_i <a_i, b_i>``.
    """
    if len(a) != len(b):
        raise ValueError(f'dot: {len(a)} tensors against {len(b)}')
    # Summed on the gradients' device, read once (one synchronisation).
    total = None
    for x, y in zip(a, b):
        if x.shape != y.shape:
            raise ValueError(f'dot: shapes {tuple(x.shape)} and '
                             f'{tuple(y.shape)} differ')
        part = torch.sum(x.double() * y.double())
        total = part if total is None else total + part
    return 0.0 if total is None else float(total)


def min_norm_2(v1v1: float, v1v2: float, v2v2: float) -> Tuple[float, float]:
    """The minimum-norm point ``c * x1 + (1 - c) * x2`` of two vectors.

    ``MinNormSolver._min_norm_element_from2`` of the authors' code: the
    closed form ``c = <x2 - x1, x2> / ||x1 - x2||^2``, clipped to 0.999 when
    ``<x1, x2> >= ||x1||^2`` and to 0.001 when ``<x1, x2> >= ||x2||^2`` (in
    that order, so two zero vectors give 0.999).

    Args:
        v1v1 (float): ``<x1, x1>``.
        v1v2 (float): ``<x1, x2>``.
        v2v2 (float): ``<x2, x2>``.

    Returns:
        tuple[float, float]: ``c`` (the weight of ``x1``) and the squared
        norm of the point.
    """
    if v1v2 >= v1v1:
        return MIN_NORM_CLIP[1], v1v1
    if v1v2 >= v2v2:
        return MIN_NORM_CLIP[0], v2v2
    c = -1.0 * ((v1v2 - v2v2) / (v1v1 + v2v2 - 2 * v1v2))
    return c, v2v2 + c * (v1v2 - v2v2)


def mmpareto_weights(g_mm: Sequence[torch.Tensor],
                     g_uni: Sequence[torch.Tensor]) -> ParetoWeights:
    """MMPareto's weights of an encoder's multimodal and uni-modal gradient.

    As the authors' ``train_epoch``: if the cosine of the two (all the
    encoder's tensors flattened and concatenated) is positive, both weigh
    0.5; otherwise :func:`min_norm_2` decides. (Their solver receives each
    gradient's tensors plus their concatenation, i.e. every inner product
    twice; the solution is invariant to that scale.)

    Args:
        g_mm (Sequence[torch.Tensor]): The fused loss's gradient, one
            tensor per encoder parameter.
        g_uni (Sequence[torch.Tensor]): The uni-modal loss's gradient, the
            same shapes.

    Returns:
        ParetoWeights: The weights, the cosine and whether they conflicted.
    """
    v1v1, v1v2, v2v2 = dot(g_mm, g_mm), dot(g_mm, g_uni), dot(g_uni, g_uni)
    # torch.nn.functional.cosine_similarity's form (eps 1e-8); only its
    # sign decides, which is the sign of <g_mm, g_uni>.
    cos = v1v2 / max(math.sqrt(v1v1) * math.sqrt(v2v2), 1e-8)
    if cos > 0:
        return ParetoWeights(0.5, 0.5, cos, False)
    c, _ = min_norm_2(v1v1, v1v2, v2v2)
    return ParetoWeights(c, 1.0 - c, cos, True)


def pareto_direction(g_mm: torch.Tensor, g_uni: torch.Tensor,
                     weights: ParetoWeights) -> torch.Tensor:
    """The combined gradient of one tensor, before rescaling.

    ``2 * k_mm * g_mm + 2 * k_uni * g_uni``: the factor 2 makes equal
    weights give the summed-loss gradient ``g_mm + g_uni``.

    Args:
        g_mm (torch.Tensor): The fused loss's gradient of the tensor.
        g_uni (torch.Tensor): The uni-modal loss's gradient of the tensor.
        weights (ParetoWeights): The encoder's weights.

    Returns:
        torch.Tensor: The direction, shaped as the tensor.
    """
    return 2 * weights.mm * g_mm + 2 * weights.uni * g_uni


def rescale_to_total(direction: torch.Tensor, total: torch.Tensor,
                     gamma: float) -> torch.Tensor:
    """MMPareto's magnitude for one tensor.

    As the authors' code: ``diff = ||total|| / ||direction||``; the result is
    ``diff * direction * gamma`` when ``diff > 1``, else
    ``direction * gamma``, so its norm is at least ``gamma`` times that of
    the summed-loss gradient. One departure: a zero direction stays zero
    (the authors' code would divide by zero and write NaN whenever the
    summed gradient is not zero as well).

    Args:
        direction (torch.Tensor): :func:`pareto_direction` of the tensor.
        total (torch.Tensor): The summed-loss gradient of the tensor.
        gamma (float): The magnitude factor (1.5 in the authors' code).

    Returns:
        torch.Tensor: The tensor's new gradient.
    """
    if direction.shape != total.shape:
        raise ValueError(
            f'rescale_to_total: direction {tuple(direction.shape)}'
            f' and gradient {tuple(total.shape)} differ')
    new_norm = torch.linalg.vector_norm(direction)
    if new_norm == 0:
        return direction * gamma
    diff = torch.linalg.vector_norm(total) / new_norm
    if diff > 1:
        return diff * direction * gamma
    return direction * gamma
