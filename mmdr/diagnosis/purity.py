"""Clustering purity of uni-modal features (the "diagnosing" measurement)."""
from typing import Optional

import numpy as np
from sklearn.metrics.cluster import contingency_matrix
from sklearn.preprocessing import minmax_scale

from .kmeans import check_kmeans_backend, kmeans_labels


def clustering_purity(features: np.ndarray,
                      labels: np.ndarray,
                      num_clusters: int,
                      seed: int = 0,
                      n_init: int = 10,
                      backend: str = 'sklearn',
                      num_threads: Optional[int] = None) -> float:
    """Clustering purity of a feature matrix with respect to its labels.

    As in the reference code, every feature dimension (column) is min-max
    scaled to ``[-1, 1]`` (scikit-learn's ``minmax_scale``, which is what its
    ``MinMaxScaler(feature_range=(-1, 1))`` computes; a constant column
    becomes -1), so that k-means is not dominated by the dimensions with the
    largest range. The scaled features are clustered by k-means with
    ``k = num_clusters`` and a fixed seed (:func:`kmeans_labels`). Every
    cluster is assigned its majority ground-truth label; the purity is the
    fraction of samples whose label equals the majority label of their
    cluster. Several clusters may share the same majority label.

    Args:
        features (np.ndarray): Uni-modal features of shape ``(N, C)``.
        labels (np.ndarray): Ground-truth labels of shape ``(N, )``. Any
            hashable, sortable values (ints, strings) are accepted.
        num_clusters (int): Number of k-means clusters, usually the number
            of classes.
        seed (int): ``random_state`` of k-means, so that the diagnosis is
            reproducible. Defaults to 0 (the reference code's).
        n_init (int): Number of k-means restarts; the best one (lowest
            inertia) is kept. Defaults to 10 (the reference code's
            ``KMeans(n_clusters, random_state=0)`` on scikit-learn < 1.4;
            since 1.4 that call means 1).
        backend (str): k-means implementation: ``'sklearn'`` (the
            reference) or ``'faiss'`` (faster; see
            :mod:`mmdr.diagnosis.kmeans`). Scaling and purity are the same
            for both. Defaults to ``'sklearn'``.
        num_threads (int, optional): OpenMP threads of the k-means call (see
            :func:`kmeans_labels`). Defaults to None.

    Returns:
        float: Purity in ``[0, 1]``.
    """
    check_kmeans_backend(backend)
    features = np.asarray(features)
    labels = np.asarray(labels)
    if features.ndim != 2:
        raise ValueError('features must be a 2-D array of shape (N, C), got '
                         f'an array with shape {features.shape}')
    if labels.ndim != 1:
        raise ValueError('labels must be a 1-D array of shape (N, ), got an '
                         f'array with shape {labels.shape}')
    num_samples = features.shape[0]
    if labels.shape[0] != num_samples:
        raise ValueError('features and labels must have the same length: got '
                         f'{num_samples} feature rows and {labels.shape[0]} '
                         'labels')
    if isinstance(
            num_clusters,
            bool) or not isinstance(num_clusters,
                                    (int, np.integer)) or num_clusters < 1:
        raise ValueError('num_clusters must be a positive integer, got '
                         f'{num_clusters!r}')
    if num_samples < num_clusters:
        raise ValueError('k-means needs at least num_clusters samples: got '
                         f'{num_samples} samples for {num_clusters} clusters')
    features = features.astype(np.float64, copy=False)
    num_bad = int(np.count_nonzero(~np.isfinite(features)))
    if num_bad:
        raise ValueError(f'features contain {num_bad} non-finite entries '
                         '(NaN or inf) out of '
                         f'{features.size}; cannot cluster them')

    scaled = minmax_scale(features, feature_range=(-1, 1), axis=0)
    cluster_ids = kmeans_labels(scaled, num_clusters, seed, n_init, backend,
                                num_threads)
    # Rows: true labels, columns: clusters. A cluster's majority label
    # counts as correct for all its members carrying it: the column maxima.
    table = contingency_matrix(labels, cluster_ids)
    return float(table.max(axis=0).sum() / num_samples)
