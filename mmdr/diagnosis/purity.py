"""Clustering purity of uni-modal features (the "diagnosing" measurement)."""
import numpy as np
from sklearn.cluster import KMeans


def minmax_scale(features: np.ndarray) -> np.ndarray:
    """Min-max scale every feature dimension (column) to ``[-1, 1]``.

    Scaling per dimension keeps k-means from being dominated by the few
    dimensions with the largest range. Constant columns carry no cluster
    information and are mapped to 0 instead of dividing by zero.

    Args:
        features (np.ndarray): Feature matrix of shape ``(N, C)``.

    Returns:
        np.ndarray: Scaled copy of ``features`` as float64, shape ``(N, C)``,
        every value in ``[-1, 1]``.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError('features must be a 2-D array of shape (N, C), got '
                         f'an array with shape {features.shape}')
    if features.shape[0] == 0:
        return features.copy()
    col_min = features.min(axis=0)
    col_max = features.max(axis=0)
    col_range = col_max - col_min
    constant = col_range == 0
    # Divide by 1 for constant columns; their numerator is 0 anyway and
    # they are set to the centre of the range below.
    safe_range = np.where(constant, 1.0, col_range)
    scaled = 2.0 * (features - col_min) / safe_range - 1.0
    scaled[:, constant] = 0.0
    # Guard against rounding pushing values a hair outside [-1, 1].
    return np.clip(scaled, -1.0, 1.0)


def clustering_purity(features: np.ndarray,
                      labels: np.ndarray,
                      num_clusters: int,
                      seed: int = 0,
                      n_init: int = 10) -> float:
    """Clustering purity of a feature matrix with respect to its labels.

    The features are min-max scaled to ``[-1, 1]`` per dimension and
    clustered with k-means (``k = num_clusters``, fixed seed). Every cluster
    is assigned its majority ground-truth label; the purity is the fraction
    of samples whose label equals the majority label of their cluster.
    Several clusters may share the same majority label.

    Args:
        features (np.ndarray): Uni-modal features of shape ``(N, C)``.
        labels (np.ndarray): Ground-truth labels of shape ``(N, )``. Any
            hashable, sortable values (ints, strings) are accepted.
        num_clusters (int): Number of k-means clusters, usually the number
            of classes.
        seed (int): ``random_state`` of k-means, so that the diagnosis is
            reproducible. Defaults to 0.
        n_init (int): Number of k-means restarts; the best one (lowest
            inertia) is kept. Defaults to 10.

    Returns:
        float: Purity in ``[0, 1]``.
    """
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

    scaled = minmax_scale(features)
    kmeans = KMeans(
        n_clusters=int(num_clusters), random_state=seed, n_init=n_init)
    cluster_ids = kmeans.fit_predict(scaled)

    # Map labels to 0..L-1 so that a (cluster, label) contingency table can
    # be counted with integer indexing, whatever the label type.
    _, label_ids = np.unique(labels, return_inverse=True)
    label_ids = label_ids.reshape(-1)
    table = np.zeros((int(num_clusters), int(label_ids.max()) + 1),
                     dtype=np.int64)
    np.add.at(table, (cluster_ids, label_ids), 1)
    # The majority label of a cluster is counted correct for all its
    # members that carry it, i.e. the row maximum of the table.
    return float(table.max(axis=1).sum() / num_samples)
