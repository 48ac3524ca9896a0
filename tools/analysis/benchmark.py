"""Benchmark balancing methods on settings over seeds: one command.

Every run (setting x method x seed) is composed from a joint-training
config (see :mod:`mmdr.analysis.benchmark_runs`: ``jt`` as it is, ``dr``
its D&R twin, ``alone`` one run per modality, any other name the fragment
``configs/_base_/methods/<name>.py``), dumped into
``WORK_DIR/<setting>/<method>/seed<N>/composed/config.py``, trained with
``tools/train.py --seed N --test-best`` in its own process (selected on the
validation split, tested once), its selected checkpoint's frozen
encoders are probed (a linear probe per modality, validation and test
splits) and measured: the modalities' Shapley contributions to the test
accuracy, the model's parameters and FLOPs per sample, the training time
per epoch from the run's log. ``result.json`` marks a finished run, which
is reused (and measured once if an earlier version finished it); a run with
checkpoints but no result is continued with ``--resume``. Everything is
checked before the first run trains: unknown methods and configs, missing
D&R twins, methods whose model cannot be built on a setting.

LIST is a Python file (an mmengine config) with ``settings`` (a list of
``dict(config=..., name=..., methods=[...], exclude_methods=[...],
cfg_options=dict(...), note='...')``, all but ``config`` optional),
``methods`` and ``seeds``; ``--configs``, ``--methods`` and ``--seeds``
override them (a config named in ``--configs`` keeps its list entry's
restrictions).

Writes to --out-dir (default: WORK_DIR) ``results.md`` (a table per
setting: test metric, paired difference to jt with its 95 % t-interval,
probes, imbalance and Shapley contributions per modality, parameters,
FLOPs, time per epoch and its ratio to joint training) and ``runs.csv`` (a
row per run).

Examples:
    python tools/analysis/benchmark.py     # the list configs/benchmark/cpu.py
    python tools/analysis/benchmark.py configs/benchmark/cpu.py \\
        --configs jt_mfeat_fou_mor --methods jt dr alone --seeds 0 1 2 3 4
    python tools/analysis/benchmark.py configs/benchmark/paper.py --jobs 1 \\
        --threads 8
"""
import argparse
import os
import os.path as osp
import shlex
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Callable, Dict, List, Optional

from benchmark_executor import RunExecutor
from mmengine.config import Config, DictAction

from mmdr.analysis import benchmark_runs as br
from mmdr.analysis.benchmark_report import markdown, write_csv
from mmdr.utils import register_all_modules
from mmdr.utils.atomic_write import write_text_atomic

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CONFIGS = osp.join(REPO, 'configs')
METHODS = osp.join(CONFIGS, '_base_', 'methods')
DEFAULT_LIST = osp.join(CONFIGS, 'benchmark', 'cpu.py')
SETTING_KEYS = ('config', 'name', 'methods', 'exclude_methods', 'cfg_options',
                'note')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark balancing methods on settings over seeds')
    parser.add_argument(
        'list',
        nargs='?',
        default=DEFAULT_LIST,
        help='list file naming settings, methods and seeds (default: '
        'configs/benchmark/cpu.py)')
    parser.add_argument(
        '--configs',
        nargs='+',
        help='only these settings: list entries by name or config, or any '
        'joint-training config (path or name, e.g. jt_mfeat)')
    parser.add_argument(
        '--methods',
        nargs='+',
        help='jt, dr, alone or a fragment of configs/_base_/methods')
    parser.add_argument('--seeds', type=int, nargs='+')
    parser.add_argument(
        '--work-dir',
        default='work_dirs/benchmark',
        help='runs go to WORK_DIR/<setting>/<method>/seed<N>')
    parser.add_argument(
        '--out-dir', help='where results.md and runs.csv go (WORK_DIR)')
    parser.add_argument(
        '--jobs', type=int, default=2, help='training processes at once')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch/OpenMP threads of each training process and the probes')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of every run, e.g. data roots or '
        'train_cfg.max_epochs=2')
    args = parser.parse_args()
    if args.jobs < 1 or args.threads < 1:
        parser.error('--jobs and --threads must be at least 1')
    return args


def load_settings(list_file: str, configs: Optional[List[str]]) -> tuple:
    """The settings, methods and seeds of the list file, and problems.

    Returns:
        tuple: ``(settings, methods, seeds, problems)``.
    """
    problems = []
    if not osp.isfile(list_file):
        raise br.BenchmarkError(f'list file {list_file} not found')
    listed = Config.fromfile(list_file)
    settings = []
    for i, entry in enumerate(listed.get('settings', [])):
        where = f'{list_file}, settings[{i}]'
        unknown = sorted(set(entry) - set(SETTING_KEYS))
        if unknown or 'config' not in entry:
            problems.append(f'{where}: needs config= and takes only '
                            f'{", ".join(SETTING_KEYS)} (found {unknown})')
            continue
        path = br.resolve_config(entry['config'], CONFIGS)
        if path is None:
            problems.append(f'{where}: unknown config {entry["config"]!r}; '
                            'joint-training configs: '
                            f'{", ".join(br.joint_training_configs(CONFIGS))}')
            continue
        settings.append(
            br.Setting(
                name=entry.get('name') or br.setting_name(path),
                config=path,
                methods=(list(entry['methods'])
                         if entry.get('methods') is not None else None),
                exclude_methods=list(entry.get('exclude_methods') or []),
                cfg_options=dict(entry.get('cfg_options') or {}),
                note=entry.get('note', '')))
    if configs:
        chosen = []
        for config in configs:
            path = br.resolve_config(config, CONFIGS)
            match = [
                s for s in settings if s.name == config or s.config == path
            ]
            if match:
                chosen += match
            elif path is not None:
                chosen.append(br.Setting(br.setting_name(path), path))
            else:
                problems.append(
                    f'unknown config {config!r} (--configs): neither a '
                    f'setting of {list_file} nor a config file; settings: '
                    f'{", ".join(s.name for s in settings)}; joint-training '
                    f'configs: {", ".join(br.joint_training_configs(CONFIGS))}'
                )
        settings = chosen
    methods = list(listed.get('methods', []))
    seeds = list(listed.get('seeds', []))
    return settings, methods, seeds, problems


def run_after(executor: Callable, needed: Dict[str, Future]) -> Callable:
    """The executor of a run, once the runs it needs (a UMT run's teachers,
    the alone runs) have finished; it fails if one of them failed.

    Args:
        executor (Callable): What trains, tests and probes a run.
        needed (dict[str, Future]): Run name to its future.

    Returns:
        Callable: The executor that waits first.
    """

    def execute(run: br.Run):
        for name, future in needed.items():
            if future.exception() is not None:  # waits for it
                raise RuntimeError(f'it needs {name}, which failed')
        return executor(run)

    return execute


def main() -> None:
    start = time.perf_counter()
    args = parse_args()
    register_all_modules()
    try:
        settings, methods, seeds, problems = load_settings(
            args.list, args.configs)
        methods = args.methods or methods
        seeds = args.seeds if args.seeds is not None else seeds
        if not settings or not methods or not seeds:
            problems.append('nothing to run: the list file and the options '
                            'name no settings, methods or seeds')
        runs, skipped = [], {}
        if settings and methods and seeds:
            # Also with problems of the list: report every one at once.
            try:
                runs, skipped = br.plan(settings, methods, seeds,
                                        args.work_dir, METHODS,
                                        args.cfg_options)
            except br.BenchmarkError as err:
                problems.append(str(err))
        problems += [p for p in map(br.changed_config, runs) if p]
        if problems:
            raise br.BenchmarkError('\n'.join(problems))
    except br.BenchmarkError as err:
        sys.exit(f'benchmark.py: nothing was run:\n{err}')

    executor = RunExecutor(
        osp.join(REPO, 'tools', 'train.py'), threads=args.threads)
    results, failures, how = {}, {}, {}
    print(f'{len(runs)} runs in {args.work_dir}', flush=True)
    # Threads, not mmengine's track_parallel_progress: each job waits on its
    # own training process, a failed run must not end the others (a Pool
    # re-raises the first error) and the probes share this process's lock.
    pool = ThreadPoolExecutor(max_workers=args.jobs)
    futures, by_name = {}, {}
    for run in runs:  # a run's needs come before it (plan's order)
        needed = {name: by_name[name] for name in run.needs}
        by_name[run.name] = pool.submit(run_after(executor, needed), run)
        futures[by_name[run.name]] = run
    try:
        for done, future in enumerate(as_completed(futures), 1):
            run = futures[future]
            try:
                results[run.name], how[run.name] = future.result()
            except Exception as err:  # reported, the other runs go on
                failures[run.name] = f'{type(err).__name__}: {err}'
                print(
                    f'[{done}/{len(runs)}] {run.name} FAILED: '
                    f'{failures[run.name]}',
                    flush=True)
                continue
            r = results[run.name]
            shapley = (r.get('shapley') or {}).get('dataset', {})
            print(
                f'[{done}/{len(runs)}] {run.name} ({how[run.name]}): test '
                f'{r["metric"]} {r["test"][r["metric"]]:.4f}, best epoch '
                f'{r["best_epoch"]}, probes ' +
                ', '.join(f'{m} {p["test"]:.4f}'
                          for m, p in r['probe'].items()) +
                (', Shapley ' +
                 ', '.join(f'{m} {v:+.4f}'
                           for m, v in shapley.items()) if shapley else '') +
                f' ({r["wall_s"]:.1f} s)',
                flush=True)
    except KeyboardInterrupt:
        # Start no further run; the training processes got the signal too.
        pool.shutdown(wait=False, cancel_futures=True)
        sys.exit('benchmark.py: interrupted; finished runs are kept, the '
                 'same command continues the others')
    pool.shutdown()

    ordered = [results[run.name] for run in runs if run.name in results]
    counts = {
        k: list(how.values()).count(k)
        for k in sorted(set(how.values()))
    }
    header = [
        f'Command: `{shlex.join(["python", *sys.argv])}`', '',
        f'Seeds: {" ".join(map(str, seeds))}; methods: {" ".join(methods)}; '
        f'runs in {args.work_dir}.', '',
        f'Runs: {len(ordered)} of {len(runs)} finished (' +
        ', '.join(f'{n} {k}'
                  for k, n in counts.items()) + f'); wall time of this '
        f'command {time.perf_counter() - start:.1f} s, of all runs (summed, '
        f'reused runs as first measured) '
        f'{sum(r["wall_s"] for r in ordered):.1f} s.'
    ]
    notes = {}
    for setting in settings:
        lines = [setting.note] if setting.note else []
        if skipped.get(setting.name):
            lines.append('Not run (excluded in the list file): ' +
                         ', '.join(skipped[setting.name]) + '.')
        lines += [
            f'FAILED {name}: {failures[name].splitlines()[0]}'
            for name in failures if name.startswith(setting.name + '/')
        ]
        if lines:
            notes[setting.name] = lines
    out_dir = args.out_dir or args.work_dir
    os.makedirs(out_dir, exist_ok=True)
    text = markdown(ordered, header, notes) if ordered else '\n'.join(
        ['# Benchmark', '', *header, '', 'No finished run.']) + '\n'
    write_text_atomic(osp.join(out_dir, 'results.md'), text)
    print(text)
    print(f'Wrote {osp.join(out_dir, "results.md")}')
    if ordered:
        write_csv(osp.join(out_dir, 'runs.csv'), ordered)
        print(f'Wrote {osp.join(out_dir, "runs.csv")}')
    if failures:
        sys.exit(f'benchmark.py: {len(failures)} of {len(runs)} runs failed: '
                 f'{", ".join(failures)} (see train.log in their folders)')


if __name__ == '__main__':
    main()
