"""Decode every file of a config's data sets; write the failures as a skip list.

A corrupt frame, video or audio file stops training when a batch first
draws it, which may be hours in (a D&R diagnosis reads frames that training
never drew). This tool decodes every file of every sample once, as training
would (images with OpenCV, audio with soundfile, videos with decord,
features with numpy or torch: :mod:`mmdr.datasets.file_checks`), in
parallel, and writes the samples that hold an unusable file in the skip-list
format of mmdr's data sets (one clip per line, ``# reason``), like
mmaction2's ``tools/analysis_tools/check_videos.py``. It writes
``<data root>/unreadable.txt`` unless told otherwise, which mmdr's data sets
read by default (``skip_list=None``) and leave out with a warning that
counts and names the clips; a config that sets ``skip_list`` must name it
too (``skip_list=['skipped.txt', 'unreadable.txt']``).

Data sets are built without their start-up file checks and without skip
lists, so that missing and empty files, and samples an earlier check left
out, are all checked.

Exit status: 0 when every file decodes, 1 when some do not (the skip list
is written either way), 2 for bad arguments or an existing ``--out``
(``--overwrite`` replaces it).

Examples:
    python tools/analysis/check_data.py configs/dr_cremad.py \
        --data-root data/cremad --workers 8
    python tools/analysis/check_data.py configs/dr_ucf101.py --splits train \
        --out data/ucf101/unreadable_train.txt
"""
import argparse
import inspect
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config, DictAction
from mmengine.utils import track_parallel_progress, track_progress

from mmdr.datasets import BaseMultiModalDataset
from mmdr.datasets.file_checks import (FILE_KEYS, FOLDER_KEYS, describe_files,
                                       sample_files, unreadable_files)
from mmdr.registry import DATASETS
from mmdr.utils import register_all_modules, set_data_root
from mmdr.utils.atomic_write import write_text_atomic

SPLITS = ('train', 'val', 'test')
TOOL = 'tools/analysis/check_data.py'
#: One sample to check: (name, the info keys that name its files).
Task = Tuple[str, Dict[str, str]]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Decode every file of a config\'s data sets and write '
        'the samples with unusable files as a skip list')
    parser.add_argument('config', help='the training config')
    parser.add_argument(
        '--splits',
        nargs='+',
        choices=SPLITS,
        default=list(SPLITS),
        help='the loaders whose data sets to check (default: all)')
    parser.add_argument(
        '--data-root', help='the data sets\' folder (as tools/train.py)')
    parser.add_argument(
        '--out',
        help='the skip list to write (default: <data root>/unreadable.txt)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace an existing --out file')
    parser.add_argument(
        '--workers',
        type=int,
        default=os.cpu_count() or 1,
        help='processes decoding (default: all cores)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings')
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f'--workers {args.workers}: must be at least 1')
    return args


def build_dataset(cfg: Config, split: str):
    """The data set of one loader, without start-up checks or skip lists."""
    dataset_cfg = cfg.get(f'{split}_dataloader', {}).get('dataset')
    if dataset_cfg is None:
        return None
    dataset_cfg = dataset_cfg.copy()
    dataset_cls = DATASETS.get(dataset_cfg['type'])
    if isinstance(dataset_cls, type) and issubclass(dataset_cls,
                                                    BaseMultiModalDataset):
        dataset_cfg['check_files'] = False
        if 'skip_list' in inspect.signature(dataset_cls).parameters:
            dataset_cfg['skip_list'] = []
    return DATASETS.build(dataset_cfg)


def sample_tasks(dataset) -> List[Tuple[Task, bool]]:
    """One task per sample, and whether a skip list can name the sample.

    Skip lists name clips (``clip`` in the sample's info); a sample without
    one is named by its annotation line.
    """
    tasks = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        files = {
            key: value
            for key, value in info.items()
            if key in FILE_KEYS + FOLDER_KEYS and isinstance(value, str)
        }
        name = (
            info.get('clip') or info.get('ann_line')
            or f'{dataset.ann_file}, sample {index}')
        tasks.append(((name, files), 'clip' in info))
    return tasks


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.data_root:
        set_data_root(cfg, args.data_root)

    tasks: Dict[str, Task] = {}
    clips = set()
    data_root = None
    for split in args.splits:
        dataset = build_dataset(cfg, split)
        if dataset is None:
            print(f'{split}: the config has no {split}_dataloader; skipped')
            continue
        data_root = data_root or getattr(dataset, 'data_root', None)
        split_tasks = sample_tasks(dataset)
        num_files = sum(
            len(sample_files(files)) for (_, files), _ in split_tasks)
        print(f'{split}: {len(split_tasks)} samples, {num_files} files '
              f'({type(dataset).__name__}, {dataset.ann_file})')
        for task, skippable in split_tasks:
            tasks.setdefault(task[0], task)
            if skippable:
                clips.add(task[0])
    out = args.out or osp.join(data_root or '.', 'unreadable.txt')
    if osp.exists(out) and not args.overwrite:
        print(
            f'{out} exists; choose another --out or pass --overwrite',
            file=sys.stderr)
        return 2

    jobs = list(tasks.values())
    files = [sample for _, sample in jobs]
    if args.workers > 1 and len(jobs) > 1:
        # A library function, so that the pool's workers can import it.
        results = track_parallel_progress(unreadable_files, files,
                                          args.workers)
    else:
        results = track_progress(unreadable_files, files)
    failing = [(name, found) for (name, _), found in zip(jobs, results)
               if found]

    lines = [
        f'# Samples with unusable files, written by {TOOL} {args.config}'
        f' ({", ".join(args.splits)}): {len(failing)} of {len(jobs)}.'
    ]
    # A sample that no skip list can name is written as a comment.
    lines += [
        f'{"" if name in clips else "# "}{name}  # {describe_files(found)}'
        for name, found in failing
    ]
    write_text_atomic(out, '\n'.join(lines) + '\n')

    if not failing:
        print(f'Every file of the {len(jobs)} samples decodes; wrote the '
              f'empty skip list {out}.')
        return 0
    print(f'{len(failing)} of {len(jobs)} samples hold an unusable file; '
          f'wrote them to {out}:')
    for name, found in failing[:10]:
        print(f'  {name}: {describe_files(found, limit=2)}')
    if len(failing) > 10:
        print(f'  ... and {len(failing) - 10} more')
    if any(name in clips for name, _ in failing):
        if osp.basename(out) == 'unreadable.txt' and data_root and \
                osp.samefile(osp.dirname(osp.abspath(out)), data_root):
            print('The data sets leave them out by default (skip_list=None '
                  'reads unreadable.txt); a config that sets skip_list must '
                  "name 'unreadable.txt' too.")
        else:
            print(f'Leave them out with skip_list={out!r} in the data sets '
                  "(with 'skipped.txt' where the preparation wrote one).")
    if any(name not in clips for name, _ in failing):
        print('Samples named by their annotation line belong to a data set '
              'without skip lists: replace or regenerate their files.')
    return 1


if __name__ == '__main__':
    sys.exit(main())
