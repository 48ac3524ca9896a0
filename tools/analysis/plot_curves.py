"""Curves over training (the paper's Figure 4) of one or more runs: train
and validation clustering purity and their gap per modality, validation
accuracy, and the re-learning epochs.

Purities come from WORK_DIR/dr_history.json: a D&R run with
``DRHook(monitor_interval=1)`` diagnoses after every epoch (re-learning
only on its schedule); joint training is monitored by the same hook with
``max_times=0``. The validation metric comes from mmengine's
WORK_DIR/<timestamp>/vis_data/scalars.json, merged over the folders of a
resumed run (the later one wins). Give several work dirs to overlay them.

Example:
    python tools/train.py configs/dr_avdigits.py --work-dir work_dirs/dr \\
        --cfg-options custom_hooks.0.monitor_interval=1
    python tools/train.py configs/dr_avdigits.py --work-dir work_dirs/jt \\
        --cfg-options custom_hooks.0.monitor_interval=1 \\
        custom_hooks.0.max_times=0
    python tools/analysis/plot_curves.py work_dirs/jt work_dirs/dr \\
        --labels 'joint training' 'D&R' --out curves.png
"""
import argparse
import dataclasses
import sys

from mmengine.fileio import dump

from mmdr.analysis import load_training_curves
from mmdr.visualization import plot_training_curves


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Purity, gap and validation curves of training runs')
    parser.add_argument(
        'work_dirs', nargs='+', metavar='WORK_DIR', help='work dir(s)')
    parser.add_argument(
        '--out',
        default='curves.png',
        help='the PNG to write (default: curves.png)')
    parser.add_argument(
        '--labels',
        nargs='+',
        help='legend name of each work dir (default: their base names)')
    parser.add_argument(
        '--metric',
        default='acc/top1',
        help='validation metric of scalars.json (default: acc/top1)')
    parser.add_argument('--title', default='', help='figure title')
    parser.add_argument(
        '--data-out', help='also write the plotted series (.json)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    labels = args.labels or [None] * len(args.work_dirs)
    if len(labels) != len(args.work_dirs):
        sys.exit(f'plot_curves.py: {len(labels)} --labels for '
                 f'{len(args.work_dirs)} work dirs')
    try:
        runs = [
            load_training_curves(work_dir, args.metric, label)
            for work_dir, label in zip(args.work_dirs, labels)
        ]
    except (FileNotFoundError, ValueError, KeyError) as err:
        sys.exit(f'plot_curves.py: {err}')
    width, height = plot_training_curves(runs, args.out, args.title)
    for run in runs:
        epochs = sorted({e for s in run.purities.values() for e in s['epoch']})
        print(f'{run.label}: purities after {len(epochs)} epochs, '
              f're-learning after epochs {run.relearn_epochs}, '
              f'{len(run.val_metric["epoch"])} validations ({run.metric})')
    if args.data_out:
        dump([dataclasses.asdict(run) for run in runs],
             args.data_out,
             file_format='json',
             indent=2)
    print(f'Wrote {args.out} ({width} x {height} pixels)')


if __name__ == '__main__':
    main()
