"""Compare configs (joint training and their D&R twins) over seeds.

Every (config, seed) run trains with ``tools/train.py --test-best``: the
checkpoint is selected on the validation split and only then tested. For
each run the tool also fits a uni-modal probe per encoder (logistic
regression on the frozen, pooled training features of the selected
checkpoint, scored on the test split) and reads the D&R strengths from
``dr_history.json``. Finished runs are reused (``result.json`` in their work
dir), so an interrupted benchmark continues where it stopped.

Example:
    python tools/analysis/benchmark_dr.py configs/jt_mfeat.py \
        configs/dr_mfeat.py --seeds 0 1 2 3 4
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
from typing import Dict, List

import numpy as np
import torch
from mmengine.config import Config

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from mmdr.analysis import unimodal_probes  # noqa: E402
from mmdr.utils import register_all_modules  # noqa: E402

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark joint training against D&R over seeds')
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument(
        '--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    parser.add_argument(
        '--work-dir',
        default='work_dirs/benchmark',
        help='runs go to WORK_DIR/<config>/seed<N>')
    parser.add_argument(
        '--out', help='also write the markdown table to this file')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch/OpenMP threads of each training run (small models '
        'train fastest with one)')
    return parser.parse_args()


def train(config: str, seed: int, work_dir: str, threads: int) -> dict:
    """Train and test one run in a fresh process.

    Returns:
        dict: ``best_ckpt`` and the ``test`` metrics.
    """
    cmd = [
        sys.executable,
        osp.join(REPO, 'tools/train.py'), config, '--seed',
        str(seed), '--work-dir', work_dir, '--test-best'
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n'
                           f'{(result.stdout + result.stderr)[-3000:]}')
    match = re.search(r'Test metrics of (\S+) \(.*\):\n(\{.*?\n\})',
                      result.stdout, re.S)
    return dict(best_ckpt=match.group(1), test=json.loads(match.group(2)))


def run(config: str, seed: int, root: str, threads: int) -> dict:
    """One (config, seed) result, reused when it exists."""
    name = osp.splitext(osp.basename(config))[0]
    work_dir = osp.join(root, name, f'seed{seed}')
    result_file = osp.join(work_dir, 'result.json')
    if osp.isfile(result_file):
        with open(result_file) as f:
            return json.load(f)
    if osp.isdir(work_dir):
        raise SystemExit(f'{work_dir} holds an unfinished run (no '
                         'result.json); remove it to run it again.')
    result = dict(
        config=name, seed=seed, **train(config, seed, work_dir, threads))
    # Test accuracy of a linear probe on each frozen encoder
    # (tools/analysis/probe.py also scores the validation split).
    probes = unimodal_probes(
        Config.fromfile(config), result['best_ckpt'], splits=('test', ))
    result['probe'] = {m: acc['test'] for m, acc in probes.items()}
    history_file = osp.join(work_dir, 'dr_history.json')
    result['strengths'] = []
    if osp.isfile(history_file):
        with open(history_file) as f:
            result['strengths'] = [{
                m: s['strength']
                for m, s in record['modalities'].items()
            } for record in json.load(f)]
    with open(result_file, 'w') as f:
        json.dump(result, f, indent=2)
    return result


def mean_std(values: List[float]) -> str:
    """Mean and sample standard deviation, in percent."""
    values = 100 * np.asarray(values)
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return f'{values.mean():.2f} ± {std:.2f}'


def table(results: Dict[str, List[dict]]) -> str:
    """Markdown table: test accuracy, probes and strengths per config."""
    modalities = sorted(
        {m
         for rs in results.values()
         for r in rs
         for m in r['probe']})
    lines = [
        '| config | seeds | test acc (%) | test mean class acc (%) | ' +
        ' | '.join(f'probe {m} (%)' for m in modalities) +
        ' | D&R strengths per diagnosis (mean over seeds) |',
        '|---' * (4 + len(modalities) + 1) + '|'
    ]
    for name, rs in results.items():
        probes = [
            mean_std([r['probe'][m]
                      for r in rs]) if m in rs[0]['probe'] else ''
            for m in modalities
        ]
        strengths = '-'
        if rs[0]['strengths']:
            per_modality = {
                m: [
                    np.mean([r['strengths'][i][m] for r in rs])
                    for i in range(len(rs[0]['strengths']))
                ]
                for m in rs[0]['strengths'][0]
            }
            strengths = '; '.join(f'{m}: ' + '/'.join(f'{v:.2f}' for v in vs)
                                  for m, vs in per_modality.items())
        lines.append(f'| {name} | {len(rs)} | '
                     f'{mean_std([r["test"]["acc/top1"] for r in rs])} | '
                     f'{mean_std([r["test"]["acc/mean1"] for r in rs])} | ' +
                     ' | '.join(probes) + f' | {strengths} |')
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    register_all_modules()
    torch.set_num_threads(args.threads)
    results = {}
    for config in args.configs:
        name = osp.splitext(osp.basename(config))[0]
        results[name] = []
        for seed in args.seeds:
            result = run(config, seed, args.work_dir, args.threads)
            results[name].append(result)
            print(
                f'{name} seed {seed}: test acc/top1 '
                f'{result["test"]["acc/top1"]:.4f}, probes '
                f'{result["probe"]}',
                flush=True)
    text = table(results)
    print(text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
