import sys

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from mmdr.diagnosis import clustering_purity, kmeans_labels

pytest.importorskip('faiss')


def _gaussians(num_samples, num_classes, dim, separation, seed):
    """Gaussian classes of unit variance around centres N(0, separation^2)."""
    rng = np.random.default_rng(seed)
    centres = separation * rng.standard_normal((num_classes, dim))
    labels = rng.integers(0, num_classes, num_samples)
    return centres[labels] + rng.standard_normal((num_samples, dim)), labels


@pytest.mark.parametrize('backend', ['sklearn', 'faiss'])
def test_separated_clusters_are_found_by_both_backends(backend):
    feats, labels = _gaussians(300, 6, 32, separation=5.0, seed=0)
    assert clustering_purity(
        feats, labels, num_clusters=6, backend=backend) == 1.0
    reference = kmeans_labels(feats, 6, backend='sklearn')
    ids = kmeans_labels(feats, 6, backend=backend)
    # The same partition up to relabelling.
    assert adjusted_rand_score(reference, ids) == 1.0
    assert ids.shape == (300, ) and set(ids.tolist()) == set(range(6))


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_purities_agree_on_overlapping_classes(seed):
    # Purity about 0.83. Over data seeds 0-19 the backends differed by at
    # most 0.020 (mean 0.007): float32 against float64 and another
    # initialisation can end in another local optimum.
    feats, labels = _gaussians(400, 4, 16, separation=0.6, seed=seed)
    sklearn = clustering_purity(feats, labels, num_clusters=4)
    faiss = clustering_purity(feats, labels, num_clusters=4, backend='faiss')
    assert 0.7 < sklearn < 0.95
    assert faiss == pytest.approx(sklearn, abs=0.03)


def test_faiss_is_deterministic_and_restores_its_threads():
    import faiss
    feats, _ = _gaussians(300, 4, 16, separation=0.5, seed=3)
    threads = faiss.omp_get_max_threads()
    first = kmeans_labels(feats, 4, seed=7, n_init=3, backend='faiss')
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # faiss follows torch's thread count; the result does not.
        single = kmeans_labels(feats, 4, seed=7, n_init=3, backend='faiss')
    finally:
        torch.set_num_threads(previous)
    again = kmeans_labels(feats, 4, seed=7, n_init=3, backend='faiss')
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, single)
    assert faiss.omp_get_max_threads() == threads


def test_small_sets_cluster_every_sample_without_warnings(capfd):
    feats, labels = _gaussians(12, 3, 4, separation=20.0, seed=4)
    assert clustering_purity(
        feats, labels, num_clusters=3, backend='faiss') == 1.0
    assert 'WARNING' not in capfd.readouterr().err


def test_bad_backend_and_seed():
    feats = np.zeros((10, 2))
    with pytest.raises(ValueError, match="unknown k-means backend 'cuml'"):
        kmeans_labels(feats, 2, backend='cuml')
    with pytest.raises(ValueError, match="unknown k-means backend 'Faiss'"):
        clustering_purity(feats, np.zeros(10), 2, backend='Faiss')
    with pytest.raises(ValueError, match='integer seed'):
        kmeans_labels(feats, 2, seed=-1, backend='faiss')


def test_missing_faiss_names_the_requirement(monkeypatch):
    monkeypatch.setitem(sys.modules, 'faiss', None)
    with pytest.raises(ImportError, match='pip install "faiss-cpu>=1.15,<2"'):
        kmeans_labels(np.zeros((10, 2)), 2, backend='faiss')
