"""Soft re-initialisation of encoder weights (the "re-learning" step)."""
import math
import numbers
from typing import Mapping

import torch


def blend_toward_init(current: Mapping[str, torch.Tensor],
                      init: Mapping[str, torch.Tensor], alpha: float) -> None:
    """Blend tensors in place toward their initial values.

    For every floating-point tensor::

        theta <- (1 - a) * theta_current + a * theta_init

    with ``a = alpha``. Non-floating tensors (e.g. BatchNorm's integer
    ``num_batches_tracked``) are counters, not weights, and are left as they
    are. All keys and shapes are checked before anything is modified, so a
    failing call leaves ``current`` untouched. ``alpha == 0`` leaves the
    tensors bit-identical and ``alpha == 1`` copies ``init`` exactly.

    Args:
        current (Mapping[str, torch.Tensor]): Tensors to modify in place,
            e.g. ``dict(encoder.named_parameters())`` or a state dict whose
            tensors share storage with the module.
        init (Mapping[str, torch.Tensor]): Initial values with the same
            keys and shapes. They are cast to the dtype and device of the
            matching ``current`` tensor.
        alpha (float): Blending weight ``a`` in ``[0, 1]``.

    Returns:
        None: ``current`` is modified in place.
    """
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool) \
            or not math.isfinite(alpha) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be a number in [0, 1], got {alpha!r}')
    missing = sorted(set(current) - set(init))
    unexpected = sorted(set(init) - set(current))
    if missing or unexpected:
        raise KeyError('current and init must have the same keys; missing '
                       f'in init: {missing}, unexpected in init: '
                       f'{unexpected}')
    for key, tensor in current.items():
        if tuple(tensor.shape) != tuple(init[key].shape):
            raise ValueError(f'shape mismatch for {key!r}: current has '
                             f'{tuple(tensor.shape)}, init has '
                             f'{tuple(init[key].shape)}')

    alpha = float(alpha)
    if alpha == 0.0:
        # Nothing to do; skipping keeps -0.0 and inf/NaN bit-identical,
        # which `x * 1 + y * 0` would not guarantee.
        return
    with torch.no_grad():
        for key, tensor in current.items():
            if not tensor.is_floating_point():
                continue
            target = init[key].to(tensor)
            if alpha == 1.0:
                # Exact copy, even where the current value is inf/NaN
                # (0 * inf would give NaN).
                tensor.copy_(target)
            else:
                tensor.mul_(1.0 - alpha).add_(target, alpha=alpha)
