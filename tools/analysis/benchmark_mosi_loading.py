"""Measure the memory and time of converting and loading a MOSEI-sized
aligned pickle.

Writes a pickle in the format of the Multimodal Transformer's
``mosei_senti_data.pkl`` (:mod:`mmdr.testing.cmu_mosi`) at MOSEI's size:
22,856 utterances (16,326 / 1,871 / 4,659), 50 steps, text 300, audio 74,
vision 35, features float64 (``--dtype``; the released files' dtype
varies, float64 is the larger case) or float32, labels float32. Then, each
in a fresh Python process, measures the wall time of the step (imports not
counted) and the peak resident memory (``ru_maxrss``, imports included;
the first row is the imports alone):

- ``imports``: Python with torch, mmengine and mmdr imported;
- ``pickle.load``: reading the file alone, as a loader keeping it does;
- ``convert``: ``tools/data/cmu_mosi/convert_mult_pickle.py``'s conversion
  into memory-mapped arrays, done once per file;
- ``train + valid + test``: the three ``CMUMOSEIDataset`` of a run, on the
  converted arrays;
- ``+ 2 D&R sets``: plus the diagnosis sets D&R builds (the training split
  without augmentation, capped to the validation size, and the validation
  split), as ``DRHook`` builds them.

Also reports the resident memory after the step (mapped pages that were
read count as resident) and how fast samples are packed.

Example:
    python tools/analysis/benchmark_mosi_loading.py
    python tools/analysis/benchmark_mosi_loading.py --dtype float32
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import tempfile
import time
from typing import Dict

MOSEI_SIZES = (16326, 1871, 4659)
WIDTHS = dict(text=300, audio=74, vision=35)
PACK = [
    dict(type='PackMultiModalInputs', meta_keys=('sample_idx', 'sentiment'))
]
CASES = {
    'imports': 'imports',
    'pickle': 'pickle.load',
    'convert': 'convert',
    'three': 'train + valid + test',
    'five': 'train + valid + test + 2 D&R sets',
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Memory and time of converting and loading a '
        'MOSEI-sized pickle')
    parser.add_argument(
        '--dtype',
        choices=('float64', 'float32'),
        nargs='+',
        default=['float64', 'float32'],
        help='feature dtype(s) of the generated file')
    parser.add_argument(
        '--scale',
        type=float,
        default=1.0,
        help='fraction of MOSEI\'s utterances (for a quick try)')
    parser.add_argument('--measure', choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument('--write', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--path', help=argparse.SUPPRESS)
    return parser.parse_args()


def rss_mib() -> Dict[str, float]:
    """Peak and current resident memory of this process, MiB."""
    with open('/proc/self/statm') as f:
        pages = int(f.read().split()[1])
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(
        peak=peak_kib / 1024, now=pages * os.sysconf('SC_PAGE_SIZE') / 2**20)


def measure(case: str, path: str) -> dict:
    """One case, in this (fresh) process."""
    import pickle

    from mmdr.datasets.cmu_mosi_conversion import convert_mult_pickle
    from mmdr.datasets.cmu_mosi_dataset import CMUMOSEIDataset
    from mmdr.utils import register_all_modules
    register_all_modules()

    def build(split, **kwargs):
        return CMUMOSEIDataset(
            ann_file=path,
            data_root=osp.dirname(path),
            split=split,
            pipeline=PACK,
            **kwargs)

    start = time.perf_counter()
    kept = []
    if case == 'pickle':
        with open(path, 'rb') as f:
            kept.append(pickle.load(f))
    elif case == 'convert':
        convert_mult_pickle(path)
    elif case in ('three', 'five'):
        kept += [build('train'), build('valid'), build('test', test_mode=True)]
    if case == 'five':
        val_set = build('valid', test_mode=True)
        train_set = build('train', test_mode=True)
        kept += [val_set, train_set.get_subset(list(range(len(val_set))))]
    result = dict(seconds=time.perf_counter() - start, **rss_mib())
    if case in ('three', 'five'):
        train = kept[0]
        start = time.perf_counter()
        count = min(2000, len(train))
        for idx in range(count):
            train[idx]
        result['samples_per_s'] = count / (time.perf_counter() - start)
    return result


def run_case(case: str, path: str) -> dict:
    """Run one case in a fresh Python process."""
    out = subprocess.run(
        [sys.executable, __file__, '--measure', case, '--path', path],
        check=True,
        capture_output=True,
        text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    args = parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.path)))
        return
    if args.write:
        import numpy as np

        from mmdr.testing.cmu_mosi import write_mosi_pickle
        dtype, scale = args.dtype[0], args.scale
        write_mosi_pickle(
            args.path,
            sizes=[max(2, round(n * scale)) for n in MOSEI_SIZES],
            widths=WIDTHS,
            dtype=getattr(np, dtype))
        return
    sizes = [max(2, round(n * args.scale)) for n in MOSEI_SIZES]
    print(f'{sum(sizes):,} utterances ({" / ".join(map(str, sizes))}), '
          '50 steps, text/audio/vision 300/74/35; fresh process per row\n')
    print('| features | step | wall s | peak RSS MiB | RSS after MiB '
          '| packed samples/s |\n|---|---|---|---|---|---|')
    for dtype in args.dtype:
        with tempfile.TemporaryDirectory() as folder:
            path = osp.join(folder, 'mosei_senti_data.pkl')
            subprocess.run([
                sys.executable, __file__, '--write', '--path', path, '--dtype',
                dtype, '--scale',
                str(args.scale)
            ],
                           check=True)
            size = osp.getsize(path) / 2**20
            for case, title in CASES.items():
                r = run_case(case, path)
                rate = r.get('samples_per_s')
                print(
                    f'| {dtype} ({size:,.0f} MiB file) | {title} | '
                    f'{r["seconds"]:.1f} | {r["peak"]:,.0f} | '
                    f'{r["now"]:,.0f} | '
                    f'{"" if rate is None else f"{rate:,.0f}"} |',
                    flush=True)


if __name__ == '__main__':
    main()
