"""How many samples a k-means purity needs to mean something.

k-means with k clusters on a handful of samples per cluster finds nearly
pure clusters whatever the features are (with n = k every sample is its
own cluster: purity 1). D&R's gap compares such a purity with the other
side's, so a tiny split alone makes the re-learning strength large.
"""
from typing import Optional

from .strength import relearn_strength

#: Fewest samples per k-means cluster, on average, for which D&R's purity
#: is taken as meaningful; below it :func:`small_split_warning` warns.
MIN_SAMPLES_PER_CLUSTER = 5

#: Each side's name and the purity of the other side in the gap.
_OTHER_SIDE = dict(validation='P_train', training='P_val')


def largest_strength(num_clusters: int, lam: float) -> float:
    """The strength a purity of 1 on one side can cause at most.

    A clustering's purity is at least the largest class share, so at least
    ``1 / k``: the gap is at most ``1 - 1 / k`` and the strength
    ``tanh(lam * (1 - 1 / k))``.

    Args:
        num_clusters (int): k.
        lam (float): D&R's lambda.

    Returns:
        float: The bound.
    """
    return relearn_strength(1 - 1 / num_clusters, lam)


def small_split_warning(side: str, num_samples: int, num_clusters: int,
                        lam: float, remedy: str) -> Optional[str]:
    """A warning for a side too small for a meaningful purity.

    Args:
        side (str): ``'validation'`` or ``'training'``.
        num_samples (int): Samples diagnosed on that side.
        num_clusters (int): k.
        lam (float): D&R's lambda.
        remedy (str): What makes the side larger (one or more sentences).

    Returns:
        str, optional: The warning; None when the side has at least
        :data:`MIN_SAMPLES_PER_CLUSTER` samples per cluster.
    """
    per_cluster = num_samples / num_clusters
    if per_cluster >= MIN_SAMPLES_PER_CLUSTER:
        return None
    other = _OTHER_SIDE[side]
    return (
        f'DRHook: the {side} side has {num_samples} samples for k = '
        f'{num_clusters} clusters ({per_cluster:.1f} per cluster, fewer than '
        f'{MIN_SAMPLES_PER_CLUSTER}). k-means on so few samples finds nearly '
        f'pure clusters whatever the features: the {side} purity will be '
        f'near 1, the gap up to 1 - {other} and the re-learning strength up '
        f'to tanh(lam * gap) = tanh({lam:g} * (1 - 1/{num_clusters})) = '
        f'{largest_strength(num_clusters, lam):.2f}, from the split\'s size '
        f'alone. {remedy}')
