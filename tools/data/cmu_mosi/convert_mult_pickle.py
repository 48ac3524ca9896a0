"""Convert MulT's word-aligned CMU-MOSI/MOSEI pickle once into the arrays
that ``CMUMOSIDataset`` and ``CMUMOSEIDataset`` memory-map.

Writes the folder named as the pickle without ``.pkl`` beside it (or
``--out-dir``): one ``.npy`` per split and modality (float32), labels and
ids, and ``meta.json`` last (see :mod:`mmdr.datasets.cmu_mosi_conversion`).
Non-finite feature values are replaced with 0 and counted here, once; the
data set refuses them unless ``nonfinite='zero'``.

Example:
    python tools/data/cmu_mosi/convert_mult_pickle.py data/mosi/mosi_data.pkl
    python tools/data/cmu_mosi/convert_mult_pickle.py \\
        data/mosei/mosei_senti_data.pkl
"""
import argparse
import os.path as osp
import sys

from mmdr.datasets.cmu_mosi_conversion import (convert_mult_pickle,
                                               converted_folder)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a word-aligned MOSI/MOSEI pickle (MulT, '
        'MultiBench) into memory-mapped arrays')
    parser.add_argument('pickle', help='e.g. data/mosi/mosi_data.pkl')
    parser.add_argument(
        '--out-dir',
        help='the folder to write (default: the pickle\'s path without '
        '.pkl, where the data set looks)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.pickle):
        sys.exit(f'convert_mult_pickle.py: {args.pickle} not found')
    out_dir = args.out_dir or converted_folder(args.pickle)
    try:
        meta = convert_mult_pickle(args.pickle, out_dir)
    except ValueError as err:
        sys.exit(f'convert_mult_pickle.py: {err}')
    for split, entry in meta['splits'].items():
        files = [
            item['key'] for item in entry.get('keys', []) if 'file' in item
        ]
        nonfinite = {m: n for m, n in entry.get('nonfinite', {}).items() if n}
        print(f'{split}: {", ".join(files) or "nothing converted"}' +
              (f'; non-finite values replaced with 0: {nonfinite}'
               if nonfinite else ''))
    print(f'Wrote {out_dir}')


if __name__ == '__main__':
    main()
