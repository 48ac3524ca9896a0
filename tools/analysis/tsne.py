"""t-SNE of every modality's pooled features of a checkpoint (the paper's
Figure 3): how well each encoder separates the classes on its own.

The encoders of CONFIG's model get CHECKPOINT's weights; the pooled features
of every modality on a split (read without augmentation; the training split
with the validation pipeline) are embedded in 2-D by scikit-learn's t-SNE
(PCA initialisation, fixed seed), one panel per modality, points coloured by
class.

Example:
    python tools/analysis/tsne.py configs/dr_avdigits.py \\
        work_dirs/dr_avdigits/epoch_27.pth --split test --out tsne.png
"""
import argparse
import os.path as osp
import sys

import numpy as np
from mmengine.config import Config, DictAction

from mmdr.analysis import checkpoint_tsne
from mmdr.utils import register_all_modules
from mmdr.visualization import plot_feature_embeddings


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='t-SNE of the per-modality features of a checkpoint')
    parser.add_argument('config', help='the config the model was trained with')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--split',
        choices=('val', 'test', 'train'),
        default='val',
        help='the split whose samples are embedded (default: val)')
    parser.add_argument(
        '--out',
        default='tsne.png',
        help='the PNG to write (default: tsne.png)')
    parser.add_argument(
        '--max-samples',
        type=int,
        help='embed a seeded random subset of at most this many samples')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seed of t-SNE and of the subset (default: 0)')
    parser.add_argument(
        '--perplexity',
        type=float,
        default=30.0,
        help='t-SNE perplexity, lowered to (N - 1) / 3 for small N '
        '(default: 30)')
    parser.add_argument(
        '--data-out',
        help='also save the embedded points, labels and class names (.npz)')
    parser.add_argument(
        '--name',
        help='what the figure calls the run (default: the config file name)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. data roots')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        result = checkpoint_tsne(cfg, args.checkpoint, args.split,
                                 args.max_samples, args.seed, args.perplexity)
    except (ValueError, FileNotFoundError, KeyError) as err:
        sys.exit(f'tsne.py: {err}')
    epoch = '?' if result.epoch is None else result.epoch
    name = args.name or osp.basename(args.config)
    # Two lines, so a long run name is not cut off at the figure's edges.
    title = (f't-SNE of pooled features: {name}\n'
             f'epoch {epoch} ({osp.basename(args.checkpoint)}), '
             f'{args.split} split, {len(result.labels)} samples')
    width, height = plot_feature_embeddings(result.embeddings, result.labels,
                                            args.out, result.class_names,
                                            title)
    if args.data_out:
        np.savez(
            args.data_out,
            labels=result.labels,
            indices=result.indices,
            class_names=np.array(result.class_names),
            **{
                f'embedding_{m}': e
                for m, e in result.embeddings.items()
            })
    one_line = title.replace('\n', ', ')
    print(f'{one_line}; perplexity {result.perplexity:g}, '
          f'seed {args.seed}; modalities {list(result.embeddings)}')
    print(f'Wrote {args.out} ({width} x {height} pixels)')


if __name__ == '__main__':
    main()
