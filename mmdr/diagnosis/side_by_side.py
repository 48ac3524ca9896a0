"""The clusterings of one diagnosis (every modality, training and validation
features) run side by side, the cores shared among them."""
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Hashable, Optional, Tuple

import numpy as np
import torch

from .purity import clustering_purity


def clustering_purities(
        matrices: Dict[Hashable, Tuple[np.ndarray, np.ndarray]],
        num_clusters: int,
        seed: int = 0,
        n_init: int = 10,
        backend: str = 'sklearn',
        side_by_side: bool = True,
        num_threads: Optional[int] = None) -> Dict[Hashable, float]:
    """Clustering purity of several feature matrices.

    Side by side, up to ``num_threads`` clusterings run at once from a pool
    of Python threads (scikit-learn and faiss release the GIL), each with an
    equal share of the OpenMP threads; k-means on a few thousand rows does
    not keep many cores busy on its own. One at a time, each clustering
    uses the library's default thread count, as :func:`clustering_purity`.
    A clustering's result does not depend on which other ones run with it.

    Args:
        matrices (dict): Key to ``(features, labels)``, as
            :func:`clustering_purity` takes them.
        num_clusters (int): k of k-means.
        seed (int): k-means seed. Defaults to 0.
        n_init (int): k-means restarts. Defaults to 10.
        backend (str): ``'sklearn'`` or ``'faiss'``. Defaults to
            ``'sklearn'``.
        side_by_side (bool): Run the clusterings at once. Defaults to True.
        num_threads (int, optional): Threads shared among the clusterings.
            Defaults to torch's intra-op thread count.

    Returns:
        dict: Key to purity, in the order of ``matrices``.
    """
    threads = num_threads or torch.get_num_threads()
    workers = min(len(matrices), threads) if side_by_side else 1

    def purity(key: Hashable, share: Optional[int]) -> float:
        features, labels = matrices[key]
        return clustering_purity(
            features,
            labels,
            num_clusters,
            seed=seed,
            n_init=n_init,
            backend=backend,
            num_threads=share)

    if workers <= 1:
        return {key: purity(key, num_threads) for key in matrices}
    share = max(1, threads // workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {key: pool.submit(purity, key, share) for key in matrices}
        return {key: future.result() for key, future in futures.items()}
