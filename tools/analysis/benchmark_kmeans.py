"""Time the k-means backends of the diagnosis and compare their purities.

CREMA-D-shaped features (5,954 train and 744 val rows, 512-d, k = 6):
six unit-variance Gaussian classes whose centres are drawn with standard
deviation ``separation`` (from well separated to overlapping). Each
(backend, n_init) clusters one matrix per data seed; the time is the median
of ``--repeats`` runs of the first data seed. Purities are compared with
scikit-learn's at the same n_init, and with scikit-learn's own spread over
k-means seeds (seed 0 against seed 1), the yardstick of what a different
local optimum costs.

Then one diagnosis: ``--modalities`` modalities, each with a training and a
validation matrix of ``--sizes`` rows at separation ``--diagnosis-
separation``, clustered one after the other and side by side
(:func:`mmdr.diagnosis.clustering_purities`), per backend and n_init.

OpenMP threads are set to ``--threads`` (default 2) before numpy, scikit-
learn and faiss load. ``--after-torch`` runs a torch matrix product right
before every clustering, as a diagnosis clusters right after the feature
extraction: torch's idle OpenMP threads may then still spin while the
k-means library's threads start.

Example:
    python tools/analysis/benchmark_kmeans.py --data-seeds 0 1 2
"""
import argparse
import os
import time
from typing import Dict, List, Tuple


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark k-means backends')
    parser.add_argument('--sizes', type=int, nargs='+', default=[5954, 744])
    parser.add_argument('--dim', type=int, default=512)
    parser.add_argument('--classes', type=int, default=6)
    parser.add_argument(
        '--separations', type=float, nargs='+', default=[1.0, 0.2, 0.1, 0.07])
    parser.add_argument('--data-seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--modalities', type=int, default=2)
    parser.add_argument('--diagnosis-separation', type=float, default=0.1)
    parser.add_argument(
        '--after-torch',
        action='store_true',
        help='run a torch matrix product before every clustering')
    return parser.parse_args()


ARGS = parse_args()
# Before numpy/torch/faiss load their OpenMP runtimes.
os.environ['OMP_NUM_THREADS'] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from mmdr.diagnosis import clustering_purities  # noqa: E402
from mmdr.diagnosis import clustering_purity  # noqa: E402

RUNS = (('sklearn', 10), ('sklearn', 1), ('faiss', 10), ('faiss', 1))


def gaussians(num_samples: int, num_classes: int, dim: int, separation: float,
              seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Unit-variance classes around centres drawn N(0, separation^2)."""
    rng = np.random.default_rng(seed)
    centres = separation * rng.standard_normal((num_classes, dim))
    labels = rng.integers(0, num_classes, num_samples)
    feats = centres[labels] + rng.standard_normal((num_samples, dim))
    return feats.astype(np.float32), labels


def timed_purity(feats, labels, k, backend, n_init, seed=0):
    torch_work()
    start = time.perf_counter()
    purity = clustering_purity(
        feats, labels, k, seed=seed, n_init=n_init, backend=backend)
    return purity, time.perf_counter() - start


def torch_work() -> None:
    """A torch matrix product, as the extraction before a clustering."""
    if ARGS.after_torch:
        square = torch.ones(512, 512)
        for _ in range(8):
            square = square @ square / 512


def diagnosis_table() -> List[str]:
    """Time one diagnosis's clusterings, one at a time and side by side."""
    matrices = {}
    for m in range(ARGS.modalities):
        for side, size in zip(('train', 'val'), ARGS.sizes):
            matrices[(m, side)] = gaussians(size, ARGS.classes, ARGS.dim,
                                            ARGS.diagnosis_separation,
                                            100 * m + size)
    lines = [
        '| backend | n_init | one at a time (s) | side by side (s) | '
        'same purities |', '|---|---|---|---|---|'
    ]
    for backend, n_init in RUNS:
        times, results = {}, {}
        for side_by_side in (False, True):
            runs = []
            for _ in range(ARGS.repeats):
                torch_work()
                start = time.perf_counter()
                results[side_by_side] = clustering_purities(
                    matrices,
                    ARGS.classes,
                    n_init=n_init,
                    backend=backend,
                    side_by_side=side_by_side)
                runs.append(time.perf_counter() - start)
            times[side_by_side] = float(np.median(runs))
        lines.append(f'| {backend} | {n_init} | {times[False]:.3f} | '
                     f'{times[True]:.3f} | '
                     f'{"yes" if results[False] == results[True] else "no"}'
                     ' |')
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    header = ('| N x D | separation | sklearn P (n_init 10) | ' +
              ' | '.join(f'{b} n_init {n} (s)' for b, n in RUNS) +
              ' | faiss-sklearn n_init 10: mean / max abs diff | '
              'n_init 1: mean / max | sklearn seed 0-1: mean / max |')
    lines = [header, '|---' * (3 + len(RUNS) + 3) + '|']
    for size in ARGS.sizes:
        for sep in ARGS.separations:
            times: Dict[tuple, float] = {}
            purity: Dict[tuple, List[float]] = {r: [] for r in RUNS}
            other_seed: List[float] = []
            for i, data_seed in enumerate(ARGS.data_seeds):
                feats, labels = gaussians(size, ARGS.classes, ARGS.dim, sep,
                                          data_seed)
                for run in RUNS:
                    reps = ARGS.repeats if i == 0 else 1
                    results = [
                        timed_purity(feats, labels, ARGS.classes, *run)
                        for _ in range(reps)
                    ]
                    purity[run].append(results[0][0])
                    if i == 0:
                        times[run] = float(np.median([t for _, t in results]))
                other_seed.append(
                    timed_purity(feats, labels, ARGS.classes, 'sklearn', 10,
                                 1)[0])

            def diff(a, b):
                d = np.abs(np.asarray(a) - np.asarray(b))
                return f'{d.mean():.4f} / {d.max():.4f}'

            ref = purity[('sklearn', 10)]
            lines.append(
                f'| {size} x {ARGS.dim} | {sep} | {np.mean(ref):.4f} | ' +
                ' | '.join(f'{times[r]:.3f}' for r in RUNS) +
                f' | {diff(purity[("faiss", 10)], ref)}'
                f' | {diff(purity[("faiss", 1)], purity[("sklearn", 1)])}'
                f' | {diff(other_seed, ref)} |')
            print(lines[-1], flush=True)
    print(f'\nOMP_NUM_THREADS={ARGS.threads}, torch threads '
          f'{torch.get_num_threads()}; after torch: {ARGS.after_torch}; '
          f'{ARGS.classes} classes; data seeds '
          f'{ARGS.data_seeds}; time: median of {ARGS.repeats} (data seed '
          f'{ARGS.data_seeds[0]}), scaling and purity included.\n')
    print('\n'.join(lines))
    rows = ' + '.join(f'{ARGS.modalities} x {n}' for n in ARGS.sizes)
    print(f'\nOne diagnosis: {rows} rows, separation '
          f'{ARGS.diagnosis_separation}, {ARGS.threads} threads; median of '
          f'{ARGS.repeats}.\n')
    print('\n'.join(diagnosis_table()))


if __name__ == '__main__':
    main()
