"""Uni-modal linear probes of a trained multimodal model (the paper's
Figure 1b/c): how well each frozen encoder separates the classes alone.

The encoders of CONFIG's model get CHECKPOINT's weights and stay frozen; the
pooled features of each modality on the training split (read with the
validation pipeline, no augmentation) fit a logistic regression on
standardised features, which is scored on the validation and test splits.
Comparing an encoder's probe under joint training with the same encoder
trained alone measures how far joint training left it behind.

Example:
    python tools/analysis/probe.py configs/dr_avdigits.py \\
        work_dirs/dr_avdigits/best_acc_top1_epoch_*.pth --out probe.json
"""
import argparse
import sys

from mmengine.config import Config, DictAction
from mmengine.fileio import dump

from mmdr.analysis import unimodal_probes
from mmdr.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Uni-modal linear probes of a checkpoint')
    parser.add_argument(
        'config', help='the config the model was trained '
        'with')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='also write the accuracies to this JSON file')
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
        results = unimodal_probes(cfg, args.checkpoint)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'probe.py: {err}')
    print(f'Uni-modal linear probes of {args.checkpoint} ({args.config}):')
    print('| modality | val acc (%) | test acc (%) |')
    print('|---|---|---|')
    for m, acc in results.items():
        print(f'| {m} | {100 * acc["val"]:.2f} | {100 * acc["test"]:.2f} |')
    if args.out:
        dump(
            dict(
                config=args.config, checkpoint=args.checkpoint,
                probes=results),
            args.out,
            file_format='json',
            indent=2)


if __name__ == '__main__':
    main()
