import numpy as np
import pytest

from mmdr.diagnosis import clustering_purity


def _blobs(centers, per_cluster, noise=0.01, seed=0):
    """Tight, well separated blobs: k-means clusters are unambiguous."""
    rng = np.random.default_rng(seed)
    centers = np.asarray(centers, dtype=np.float64)
    feats = np.concatenate([
        c + noise * rng.standard_normal((per_cluster, centers.shape[1]))
        for c in centers
    ])
    return feats


def test_features_are_scaled_per_column_as_the_reference_does():
    # The reference fits MinMaxScaler(feature_range=(-1, 1)) per matrix:
    # purity is invariant to any per-column affine map with positive scale.
    rng = np.random.default_rng(2)
    feats = _blobs([[0, 0, 0], [2, 2, 0], [0, 2, 2]],
                   per_cluster=15,
                   noise=0.7,
                   seed=2)
    labels = np.repeat([0, 1, 2], 15)
    base = clustering_purity(feats, labels, num_clusters=3)
    moved = feats * rng.uniform(0.5, 50, size=3) + rng.normal(0, 100, 3)
    assert clustering_purity(moved, labels, num_clusters=3) == base


def test_purity_perfect_separation():
    feats = _blobs([[0, 0], [10, 0], [0, 10]], per_cluster=10)
    labels = np.repeat([2, 0, 1], 10)
    assert clustering_purity(feats, labels, num_clusters=3) == 1.0


def test_purity_hand_computed_075():
    feats = _blobs([[0, 0], [10, 10]], per_cluster=4)
    # Cluster A majority 0 (3 of 4), cluster B majority 1 (3 of 4): 6 / 8.
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    assert clustering_purity(feats, labels, num_clusters=2) == 0.75


def test_purity_shared_majority_label():
    # Both clusters have majority label 'a'; purity counts each cluster's
    # own majority (not a one-to-one matching): (2 + 2) / 6.
    feats = _blobs([[0, 0], [10, 10]], per_cluster=3)
    labels = np.array(['a', 'a', 'b', 'a', 'a', 'b'])
    assert clustering_purity(feats, labels, num_clusters=2) == \
        pytest.approx(4 / 6)


def test_purity_scale_invariance():
    rng = np.random.default_rng(1)
    feats = _blobs([[0, 0, 0], [3, 3, 0], [0, 3, 3]],
                   per_cluster=20,
                   noise=0.8,
                   seed=1)
    labels = np.repeat([0, 1, 2], 20)
    labels[rng.choice(60, size=10, replace=False)] = 0
    base = clustering_purity(feats, labels, num_clusters=3)
    scaled = feats.copy()
    scaled[:, 1] *= 1000.0
    assert clustering_purity(scaled, labels, num_clusters=3) == base


def test_purity_constant_columns():
    feats = _blobs([[0, 0], [10, 10]], per_cluster=5)
    feats = np.concatenate([feats, np.full((10, 2), 3.0)], axis=1)
    labels = np.repeat([1, 0], 5)
    assert clustering_purity(feats, labels, num_clusters=2) == 1.0


def test_purity_deterministic_with_seed():
    rng = np.random.default_rng(3)
    feats = rng.normal(size=(40, 5))
    labels = rng.integers(0, 4, size=40)
    a = clustering_purity(feats, labels, num_clusters=4, seed=5)
    b = clustering_purity(feats, labels, num_clusters=4, seed=5)
    assert a == b
    assert 0.0 <= a <= 1.0


def test_purity_too_few_samples():
    with pytest.raises(
            ValueError,
            match='k-means needs at least num_clusters samples: '
            'got 3 samples for 5 clusters'):
        clustering_purity(np.zeros((3, 2)), np.zeros(3), num_clusters=5)


def test_purity_non_finite():
    feats = _blobs([[0, 0], [10, 10]], per_cluster=5)
    feats[0, 0] = np.nan
    feats[3, 1] = np.inf
    with pytest.raises(ValueError, match='2 non-finite entries'):
        clustering_purity(feats, np.zeros(10), num_clusters=2)


def test_purity_bad_shapes():
    with pytest.raises(ValueError, match='same length'):
        clustering_purity(np.zeros((10, 2)), np.zeros(9), num_clusters=2)
    with pytest.raises(ValueError, match='2-D'):
        clustering_purity(np.zeros(10), np.zeros(10), num_clusters=2)
    with pytest.raises(ValueError, match='1-D'):
        clustering_purity(np.zeros((10, 2)), np.zeros((10, 1)), num_clusters=2)
