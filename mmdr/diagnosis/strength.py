"""Purity gap and re-learning (re-initialisation) strength."""
import math


def purity_gap(train_purity: float, val_purity: float) -> float:
    """Gap between training-set and validation-set purity.

    A large gap means the encoder fits the training data much better than
    it generalises (well-learnt or over-fitting); a small gap means it is
    still under-fitting.

    Args:
        train_purity (float): Clustering purity on the training set.
        val_purity (float): Clustering purity on the validation set.

    Returns:
        float: ``|train_purity - val_purity|``.
    """
    for name, value in (('train_purity', train_purity), ('val_purity',
                                                         val_purity)):
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise ValueError(f'{name} must be a purity in [0, 1], got '
                             f'{value!r}')
    return abs(float(train_purity) - float(val_purity))


def relearn_strength(gap: float, lam: float = 3.0) -> float:
    """Re-initialisation strength of an encoder from its purity gap.

    ``tanh`` maps the unbounded ``lam * gap`` into ``[0, 1)``, so an encoder
    is never fully reset and a larger gap always means a stronger reset.

    Args:
        gap (float): Purity gap, finite and ``>= 0``.
        lam (float): Sharpness ``lambda`` of the mapping, ``>= 0``.
            Defaults to 3.0 (the reference value).

    Returns:
        float: ``tanh(lam * gap)`` in ``[0, 1)``.
    """
    if not math.isfinite(lam) or lam < 0:
        raise ValueError(f'lam must be a finite number >= 0, got {lam!r}')
    if not math.isfinite(gap) or gap < 0:
        raise ValueError(f'gap must be a finite number >= 0, got {gap!r}')
    return math.tanh(float(lam) * float(gap))
