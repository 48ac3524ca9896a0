"""Modality contributions of a trained multimodal model by Shapley values,
at the data-set and at the sample level.

The model of CONFIG with CHECKPOINT's weights is evaluated on a split with
every coalition (subset) of its modalities, each missing modality replaced
by zero (``--replace features``: its pooled encoder features before the
fusion, the default; ``--replace inputs``: its input, as BalanceBenchmark's
toolkit). A modality's data-set contribution is its exact Shapley value of
the top-1 accuracy; its sample contribution the Shapley value of a sample's
correctness (1 or 0), summarised by the mean (equal to the data-set value)
and the share of samples where it contributes most. The values add up to
the accuracy with every modality minus the accuracy with none.

Example:
    python tools/analysis/shapley.py configs/dr_avdigits.py \\
        work_dirs/dr_avdigits/best_acc_top1_epoch_*.pth --out shapley.json
"""
import argparse
import csv
import sys

from mmengine.config import Config, DictAction
from mmengine.fileio import dump

from mmdr.analysis.modality_shapley import REPLACEMENTS, modality_shapley
from mmdr.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Shapley contributions of the modalities of a '
        'checkpoint')
    parser.add_argument(
        'config', help='the config the model was trained '
        'with')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--split',
        choices=('val', 'test'),
        default='test',
        help='the split evaluated (default: test)')
    parser.add_argument(
        '--replace',
        choices=REPLACEMENTS,
        default='features',
        help='what is zero for a missing modality: its encoder features '
        'before the fusion (default) or its input')
    parser.add_argument(
        '--out',
        help='also write the results to this file: .json (everything, '
        'per-sample values included) or .csv (a row per sample)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. data roots')
    args = parser.parse_args()
    if args.out and not args.out.endswith(('.json', '.csv')):
        parser.error(f'--out {args.out}: give a .json or .csv file')
    return args


def write_sample_csv(path: str, result: dict) -> None:
    """A row per sample: its index, label and Shapley value per modality.

    Args:
        path (str): The file.
        result (dict): What :func:`modality_shapley` returned.
    """
    modalities = result['modalities']
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['index', 'label', *modalities])
        for i, label in enumerate(result['labels']):
            writer.writerow([
                i, label, *(result['sample_values'][m][i] for m in modalities)
            ])


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        result = modality_shapley(cfg, args.checkpoint, args.split,
                                  args.replace)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'shapley.py: {err}')
    print(f'Shapley contributions of {args.checkpoint} ({args.config}), '
          f'{args.split} split, missing modalities: zero {args.replace}:')
    print('| modalities | top-1 acc (%) |')
    print('|---|---|')
    for coalition in result['coalitions']:
        names = ' + '.join(coalition['modalities']) or '(none)'
        print(f'| {names} | {100 * coalition["accuracy"]:.2f} |')
    print()
    print('| modality | data set (pp) | samples: mean (pp) | '
          'samples: contributes most (%) |')
    print('|---|---|---|---|')
    for m in result['modalities']:
        sample = result['samples'][m]
        print(f'| {m} | {100 * result["dataset"][m]:+.2f} | '
              f'{100 * sample["mean"]:+.2f} | '
              f'{100 * sample["most_share"]:.2f} |')
    print(f'Samples where no single modality contributes most: '
          f'{100 * result["tie_share"]:.2f} %')
    if args.out and args.out.endswith('.csv'):
        write_sample_csv(args.out, result)
    elif args.out:
        dump(
            dict(config=args.config, checkpoint=args.checkpoint, **result),
            args.out,
            file_format='json',
            indent=2)


if __name__ == '__main__':
    main()
