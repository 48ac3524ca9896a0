import threading

import numpy as np
import pytest

from mmdr.diagnosis import clustering_purities, clustering_purity
from mmdr.diagnosis import kmeans as kmeans_module


def _matrices():
    """Four matrices of overlapping classes, as one diagnosis of two
    modalities clusters them (training and validation features)."""
    matrices = {}
    for i, key in enumerate([('audio', 'train'), ('audio', 'val'),
                             ('visual', 'train'), ('visual', 'val')]):
        rng = np.random.default_rng(i)
        labels = rng.integers(0, 5, 300)
        centres = 0.4 * rng.standard_normal((5, 24))
        matrices[key] = (centres[labels] + rng.standard_normal(
            (300, 24)), labels)
    return matrices


@pytest.mark.parametrize('backend', ['sklearn', 'faiss'])
def test_side_by_side_equals_one_at_a_time(backend):
    if backend == 'faiss':
        pytest.importorskip('faiss')
    matrices = _matrices()
    alone = {
        key: clustering_purity(f, y, 5, seed=3, n_init=4, backend=backend)
        for key, (f, y) in matrices.items()
    }
    together = clustering_purities(
        matrices, 5, seed=3, n_init=4, backend=backend, num_threads=4)
    sequential = clustering_purities(
        matrices, 5, seed=3, n_init=4, backend=backend, side_by_side=False)
    assert list(together) == list(matrices)
    assert together == alone == sequential
    # Not trivially equal: the classes overlap.
    assert all(0.4 < p < 0.95 for p in together.values())


def test_clusterings_share_the_threads(monkeypatch):
    seen = []
    real = kmeans_module._sklearn_labels

    def recording(features, num_clusters, seed, n_init, num_threads):
        seen.append((threading.get_ident(), num_threads))
        return real(features, num_clusters, seed, n_init, num_threads)

    monkeypatch.setattr(kmeans_module, '_sklearn_labels', recording)
    clustering_purities(_matrices(), 5, n_init=1, num_threads=4)
    # Four clusterings at once, one thread each, from the pool's threads.
    assert sorted(n for _, n in seen) == [1, 1, 1, 1]
    assert threading.get_ident() not in {t for t, _ in seen}
    seen.clear()
    clustering_purities(_matrices(), 5, n_init=1, num_threads=2)
    assert sorted(n for _, n in seen) == [1, 1, 1, 1]
    seen.clear()
    clustering_purities(_matrices(), 5, n_init=1, side_by_side=False)
    # One at a time, in the caller's thread, the library's own default.
    assert seen == [(threading.get_ident(), None)] * 4


def test_an_error_in_one_clustering_is_raised():
    matrices = _matrices()
    features, labels = matrices[('visual', 'val')]
    matrices[('visual', 'val')] = (features[:3], labels[:3])
    with pytest.raises(ValueError, match='at least num_clusters samples'):
        clustering_purities(matrices, 5, num_threads=4)
