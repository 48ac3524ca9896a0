"""What one D&R diagnosis costs, in forward passes, model only.

The reference figure of the diagnosis cost (issue: "a diagnosis that costs
one forward pass at paper scale") is measured on the model alone, with the
inputs already on the device: no data set, no loading. This tool builds a
config's model, fills the device with random inputs of the shapes its
pipeline packs (by default CREMA-D's: 2 frames of 3 x 224 x 224 and a
1 x 257 x 188 spectrogram, 5,954 training and 744 validation samples) and
times, as medians of ``--repeats`` after one warm-up pass:

- the eval forward pass over all those samples, as validation runs it
  (``model.val_step``: data preprocessor, encoders, fusion, head);
- the diagnosis's feature extraction over the same samples, as ``DRHook``
  runs it (``extract_modality_features`` per batch, the features gathered
  on the CPU in float32);
- the diagnosis's clusterings (every modality, training and validation
  side), side by side as ``DRHook`` runs them by default
  (:func:`mmdr.diagnosis.clustering_purities`), per k-means backend and
  ``n_init``, on two kinds of features: those just extracted, and Gaussian
  classes of separation ``--separation`` with the same shapes. A model of
  random weights on random inputs has features without class structure;
  a trained one's are clustered, and k-means' iterations depend on that.

One diagnosis is the extraction plus the clusterings; the tool prints it
in seconds and in forward passes. ``tools/analysis/benchmark_dr_overhead.py``
measures the same through a real training run, data loading and
re-learning included, where the data set is at hand.

OpenMP threads are set to ``--threads`` (default: every core) before numpy,
scikit-learn and faiss load.

Example (one GPU machine, its 16 cores for k-means):
    python tools/analysis/benchmark_diagnosis_cost.py configs/dr_cremad.py \
        --device cuda --threads 16
"""
import argparse
import os
from typing import Dict, Tuple


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='D&R diagnosis cost in forward passes, model only')
    parser.add_argument('config', help='a config whose model to build')
    parser.add_argument(
        '--device', help='cuda if available, else cpu (default)')
    parser.add_argument(
        '--sizes',
        type=int,
        nargs=2,
        default=[5954, 744],
        metavar=('TRAIN', 'VAL'),
        help='samples diagnosed per side (default: CREMA-D\'s)')
    parser.add_argument(
        '--shapes',
        nargs='+',
        metavar='MODALITY=D,D,...',
        help='per-sample input shape of every modality, as the pipeline '
        "packs it (default: CREMA-D's, visual=2,3,224,224 audio=1,257,188)")
    parser.add_argument(
        '--batch-size',
        type=int,
        help="DRHook's batch_size, else val_dataloader.batch_size")
    parser.add_argument(
        '--threads',
        type=int,
        default=os.cpu_count(),
        help='CPU threads (default: every core)')
    parser.add_argument(
        '--backends',
        nargs='+',
        default=['sklearn', 'faiss'],
        help='k-means backends (default: sklearn faiss)')
    parser.add_argument('--n-init', type=int, nargs='+', default=[10, 1])
    parser.add_argument(
        '--separation',
        type=float,
        default=0.1,
        help='class separation of the Gaussian features (default 0.1)')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--out', help='also write the figures to this JSON')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    return parser.parse_args()


ARGS = parse_args()
# Before numpy, torch, scikit-learn and faiss load their OpenMP runtimes.
os.environ['OMP_NUM_THREADS'] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.fileio import dump  # noqa: E402

from mmdr.analysis.synthetic_batches import CREMAD_SHAPES  # noqa: E402
from mmdr.analysis.synthetic_batches import iter_batches  # noqa: E402
from mmdr.analysis.synthetic_batches import median_wall_time  # noqa: E402
from mmdr.analysis.synthetic_batches import parse_input_shapes  # noqa: E402
from mmdr.analysis.synthetic_batches import \
    random_modality_inputs  # noqa: E402
from mmdr.diagnosis import clustering_purities  # noqa: E402
from mmdr.diagnosis.kmeans import check_kmeans_backend  # noqa: E402
from mmdr.registry import MODELS  # noqa: E402
from mmdr.utils import register_all_modules  # noqa: E402
from mmdr.utils.feature_pass import modality_feature_batches  # noqa: E402

SIDES = ('train', 'val')


def gaussian_matrices(sizes: Dict[str, int], modalities: Tuple[str, ...],
                      dims: Dict[str, int], num_classes: int,
                      separation: float) -> dict:
    """Unit-variance classes around centres drawn N(0, separation^2)."""
    matrices = {}
    for i, m in enumerate(modalities):
        for j, side in enumerate(SIDES):
            rng = np.random.default_rng(1000 * i + j)
            centres = separation * rng.standard_normal((num_classes, dims[m]))
            labels = rng.integers(0, num_classes, sizes[side])
            feats = centres[labels] + rng.standard_normal(
                (sizes[side], dims[m]))
            matrices[(m, side)] = (feats.astype(np.float32), labels)
    return matrices


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    register_all_modules()
    cfg = Config.fromfile(ARGS.config)
    if ARGS.cfg_options:
        cfg.merge_from_dict({
            k: DictAction._parse_iterable(v)
            for k, v in (o.split('=', 1) for o in ARGS.cfg_options)
        })
    for backend in ARGS.backends:
        check_kmeans_backend(backend)
    device = torch.device(
        ARGS.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    torch.backends.cudnn.benchmark = bool(
        cfg.get('env_cfg', {}).get('cudnn_benchmark', False))

    dr_cfgs = [
        h for h in cfg.get('custom_hooks') or [] if h.get('type') == 'DRHook'
    ]
    dr_cfg = dr_cfgs[0] if dr_cfgs else {}
    batch_size = (
        ARGS.batch_size or dr_cfg.get('batch_size')
        or (cfg.get('val_dataloader') or {}).get('batch_size', 32))
    model = MODELS.build(cfg.model).to(device).eval()
    modalities = tuple(model.modalities)
    num_classes = dr_cfg.get('num_clusters') or model.cls_head.num_classes
    try:
        shapes = parse_input_shapes(ARGS.shapes or CREMAD_SHAPES, modalities,
                                    '--shapes')
    except ValueError as err:
        raise SystemExit(str(err))
    sizes = dict(zip(SIDES, ARGS.sizes))
    data = {
        side:
        random_modality_inputs(model, shapes, sizes[side], num_classes, i,
                               device)
        for i, side in enumerate(SIDES)
    }

    @torch.no_grad()
    def forward_pass() -> None:
        for side in SIDES:
            for batch in iter_batches(data[side], batch_size):
                model.val_step(batch)

    def extraction() -> dict:
        feats = {}
        for side in SIDES:
            parts = {m: [] for m in modalities}
            for batch_feats, _ in modality_feature_batches(
                    model, iter_batches(data[side], batch_size)):
                for m, f in batch_feats.items():
                    parts[m].append(f)
            for m in modalities:
                feats[(m, side)] = (torch.cat(parts[m]).cpu().numpy(),
                                    data[side]['labels'])
        # In the order of the Gaussian matrices, so the tables line up.
        return {
            (m, side): feats[(m, side)]
            for m in modalities
            for side in SIDES
        }

    forward_s, _ = median_wall_time(forward_pass, device, ARGS.repeats)
    extract_s, extracted = median_wall_time(extraction, device, ARGS.repeats)
    dims = {m: extracted[(m, 'train')][0].shape[1] for m in modalities}
    features = dict(
        extracted=extracted,
        gaussian=gaussian_matrices(sizes, modalities, dims, num_classes,
                                   ARGS.separation))

    rows = []
    for backend in ARGS.backends:
        for n_init in ARGS.n_init:
            for kind, matrices in features.items():
                kmeans_s, purities = median_wall_time(
                    lambda: clustering_purities(
                        matrices,
                        num_classes,
                        n_init=n_init,
                        backend=backend,
                        num_threads=ARGS.threads), device, ARGS.repeats)
                rows.append(
                    dict(
                        backend=backend,
                        n_init=n_init,
                        features=kind,
                        kmeans_s=kmeans_s,
                        diagnosis_s=extract_s + kmeans_s,
                        forward_passes=(extract_s + kmeans_s) / forward_s,
                        purities={
                            f'{m}/{side}': p
                            for (m, side), p in purities.items()
                        }))

    name = torch.cuda.get_device_name(device) if device.type == 'cuda' \
        else 'CPU'
    shape_text = ', '.join(f'{m} {"x".join(map(str, s))}'
                           for m, s in shapes.items())
    print(f'{ARGS.config} on {device} ({name}), {ARGS.threads} CPU threads; '
          f'{sizes["train"]} train + {sizes["val"]} val samples ({shape_text}'
          f'), batch {batch_size}, k = {num_classes}; feature widths {dims}; '
          f'median of {ARGS.repeats} after a warm-up\n')
    print('| step | s | forward passes |\n|---|---|---|')
    print(f'| forward pass (val_step) | {forward_s:.3f} | 1.00 |')
    print(f'| feature extraction | {extract_s:.3f} | '
          f'{extract_s / forward_s:.2f} |\n')
    print(f'k-means of all {2 * len(modalities)} matrices side by side, and '
          'the diagnosis (extraction + k-means):\n')
    print('| backend | n_init | features | k-means (s) | diagnosis (s) | '
          'diagnosis (forward passes) | purities |\n|---|---|---|---|---|---|'
          '---|')
    for row in rows:
        purities = ' '.join(f'{k} {p:.4f}' for k, p in row['purities'].items())
        print(f'| {row["backend"]} | {row["n_init"]} | {row["features"]} | '
              f'{row["kmeans_s"]:.3f} | {row["diagnosis_s"]:.3f} | '
              f'{row["forward_passes"]:.2f} | {purities} |')
    if ARGS.out:
        result = dict(
            config=ARGS.config,
            device=str(device),
            device_name=name,
            threads=ARGS.threads,
            sizes=sizes,
            shapes={
                m: list(s)
                for m, s in shapes.items()
            },
            batch_size=batch_size,
            num_clusters=num_classes,
            repeats=ARGS.repeats,
            separation=ARGS.separation,
            forward_s=forward_s,
            extract_s=extract_s,
            rows=rows)
        dump(result, ARGS.out, file_format='json', indent=1)


if __name__ == '__main__':
    main()
