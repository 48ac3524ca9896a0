"""k-means cluster assignments of the diagnosis, one small function per
backend.

``'sklearn'`` (scikit-learn's ``KMeans``) is the reference; ``'faiss'``
(faiss-cpu's ``Kmeans``) is the candidate fast backend, configured to solve
the same problem: every sample is clustered (no subsampling), Lloyd
iterations run to convergence (at most scikit-learn's ``max_iter=300``),
k-means++ seeding, ``n_init`` restarts keeping the lowest inertia, a fixed
seed. It computes in float32, scikit-learn in float64, so the two may end in
different local optima on overlapping data
(``tools/analysis/benchmark_kmeans.py`` measures by how much).
"""
import contextlib
from typing import Iterator, Optional

import numpy as np
import torch
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

#: Names accepted by :func:`kmeans_labels`.
KMEANS_BACKENDS = ('sklearn', 'faiss')

#: The pip requirement of the faiss backend (as in setup.py).
FAISS_REQUIREMENT = 'faiss-cpu>=1.15,<2'

#: scikit-learn's default ``max_iter``; faiss stops earlier on convergence.
MAX_ITER = 300


def import_faiss():
    """Import faiss, or explain how to install it.

    Returns:
        module: The ``faiss`` module.

    Raises:
        ImportError: If faiss is not installed.
    """
    try:
        import faiss
    except ImportError as err:
        raise ImportError("k-means backend 'faiss' needs faiss: "
                          f'pip install "{FAISS_REQUIREMENT}"') from err
    # Convergence stopping and k-means++ seeding came with 1.15.
    if not hasattr(faiss, 'ClusteringInitMethod_KMEANS_PLUS_PLUS'):
        raise ImportError(
            f'faiss {faiss.__version__} is too old for k-means '
            f'backend \'faiss\': pip install "{FAISS_REQUIREMENT}"')
    return faiss


def check_kmeans_backend(backend: str) -> None:
    """Check that a backend name is known and its library importable.

    Args:
        backend (str): One of :data:`KMEANS_BACKENDS`.

    Raises:
        ValueError: If the name is unknown.
        ImportError: If the backend's library is not installed.
    """
    if not isinstance(backend, str) or backend not in KMEANS_BACKENDS:
        raise ValueError(f'unknown k-means backend {backend!r}; choose one '
                         f'of {list(KMEANS_BACKENDS)}')
    if backend == 'faiss':
        import_faiss()


def kmeans_labels(features: np.ndarray,
                  num_clusters: int,
                  seed: int = 0,
                  n_init: int = 10,
                  backend: str = 'sklearn',
                  num_threads: Optional[int] = None) -> np.ndarray:
    """Cluster ids of every row of ``features`` by k-means.

    Args:
        features (np.ndarray): Finite features of shape ``(N, C)``, with
            ``N >= num_clusters``.
        num_clusters (int): k.
        seed (int): Seed of the initialisation; the same seed gives the
            same labels. faiss needs ``0 <= seed < 2**31``.
        n_init (int): Restarts; the one with the lowest inertia is kept.
        backend (str): ``'sklearn'`` or ``'faiss'``. Defaults to
            ``'sklearn'``.
        num_threads (int, optional): OpenMP threads of this call, set for
            the calling thread only (so that clusterings run side by side
            from several threads can share the cores). Defaults to None:
            torch's intra-op thread count for faiss, the library's own
            default for scikit-learn.

    Returns:
        np.ndarray: Cluster ids of shape ``(N, )`` in ``[0, num_clusters)``.
    """
    check_kmeans_backend(backend)
    if backend == 'faiss':
        return _faiss_labels(features, num_clusters, seed, n_init, num_threads)
    return _sklearn_labels(features, num_clusters, seed, n_init, num_threads)


def _sklearn_labels(features: np.ndarray, num_clusters: int, seed: int,
                    n_init: int, num_threads: Optional[int]) -> np.ndarray:
    kmeans = KMeans(
        n_clusters=int(num_clusters), random_state=seed, n_init=n_init)
    if num_threads is None:
        return kmeans.fit_predict(features)
    # scikit-learn sizes its OpenMP loops by omp_get_max_threads(), which
    # omp_set_num_threads sets for the calling thread.
    with threadpool_limits(limits=int(num_threads), user_api='openmp'):
        return kmeans.fit_predict(features)


@contextlib.contextmanager
def _faiss_threads(faiss, num_threads: Optional[int]) -> Iterator[None]:
    """Run faiss with ``num_threads`` or torch's intra-op thread count.

    faiss-cpu ships its own OpenMP runtime, which reads ``OMP_NUM_THREADS``
    but not ``torch.set_num_threads``; following torch keeps the diagnosis
    within the threads a run was given (torch's default honours
    ``OMP_NUM_THREADS`` too). The setting is the calling thread's; the
    previous one is restored.
    """
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(num_threads or torch.get_num_threads())
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _faiss_labels(features: np.ndarray, num_clusters: int, seed: int,
                  n_init: int, num_threads: Optional[int]) -> np.ndarray:
    faiss = import_faiss()
    if isinstance(seed, bool) or not isinstance(
            seed, (int, np.integer)) or not 0 <= seed < 2**31:
        # A negative faiss seed means "seed from the clock".
        raise ValueError('k-means backend faiss needs an integer seed in '
                         f'[0, 2**31), got {seed!r}')
    points = np.ascontiguousarray(features, dtype=np.float32)
    num_samples, dim = points.shape
    kmeans = faiss.Kmeans(
        dim,
        int(num_clusters),
        niter=MAX_ITER,
        # Stop when the objective no longer changes (a Lloyd fixed point).
        early_stop_threshold=0.0,
        nredo=int(n_init),
        seed=int(seed),
        init_method=faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS,
        # Cluster every sample (faiss subsamples to 256 per centroid by
        # default) and do not warn about small sets.
        max_points_per_centroid=num_samples,
        min_points_per_centroid=1,
        verbose=False)
    with _faiss_threads(faiss, num_threads):
        kmeans.train(points)
        _, ids = kmeans.index.search(points, 1)
    return ids.ravel().astype(np.int64)
