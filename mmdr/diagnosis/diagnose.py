"""One D&R diagnosis of several modalities: purities, gaps and strengths
from the features of the training and the validation side."""
from typing import Dict, Mapping, Sequence

import numpy as np

from .side_by_side import clustering_purities
from .strength import purity_gap, relearn_strength


def diagnose_modalities(features: Mapping[str, Mapping[str, np.ndarray]],
                        labels: Mapping[str, np.ndarray],
                        modalities: Sequence[str],
                        num_clusters: int,
                        lam: float = 3.0,
                        seed: int = 0,
                        n_init: int = 10,
                        backend: str = 'sklearn',
                        side_by_side: bool = True) -> Dict[str, dict]:
    """Purities, gap and re-learning strength of every modality.

    Args:
        features (Mapping): ``{'train': {m: (N, D) array}, 'val': {...}}``.
        labels (Mapping): ``{'train': (N, ) array, 'val': (M, ) array}``.
        modalities (Sequence[str]): The modalities to diagnose.
        num_clusters (int): k of k-means.
        lam (float): lambda of :func:`relearn_strength`. Defaults to 3.
        seed (int): k-means seed. Defaults to 0.
        n_init (int): k-means restarts. Defaults to 10.
        backend (str): k-means backend. Defaults to ``'sklearn'``.
        side_by_side (bool): Run the clusterings at once
            (:func:`clustering_purities`). Defaults to True.

    Returns:
        dict: Per modality ``train_purity``, ``val_purity``, ``gap`` and
        ``strength``.

    Raises:
        FloatingPointError: If features are not finite, before any
            clustering.
    """
    matrices = {}
    for m in modalities:
        for side in ('train', 'val'):
            feats = features[side][m]
            if not np.isfinite(feats).all():
                raise FloatingPointError(
                    f'DRHook: {int((~np.isfinite(feats)).sum())} non-finite '
                    f'values in the {side} features of modality {m!r}; no '
                    'weight was changed.')
            matrices[(m, side)] = (feats, labels[side])
    purities = clustering_purities(
        matrices,
        num_clusters=num_clusters,
        seed=seed,
        n_init=n_init,
        backend=backend,
        side_by_side=side_by_side)
    result = {}
    for m in modalities:
        gap = purity_gap(purities[(m, 'train')], purities[(m, 'val')])
        result[m] = dict(
            train_purity=purities[(m, 'train')],
            val_purity=purities[(m, 'val')],
            gap=gap,
            strength=relearn_strength(gap, lam))
    return result
