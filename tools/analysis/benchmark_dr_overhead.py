"""Measure what one D&R diagnosis costs.

Trains a config with its ``DRHook`` set to diagnose after every epoch but
the last (each diagnosis runs when the next epoch starts), and reports, as
medians over the diagnoses:

- the wall time of one diagnosis (feature extraction, k-means and purity,
  re-learning), with its parts;
- the wall time of one forward-only pass of the whole model (data loading,
  preprocessing, encoders, fusion, head; eval mode, no gradient) over the
  same samples the diagnosis reads (its training subset and the validation
  split);
- the wall time of one training epoch (without validation).

Example:
    python tools/analysis/benchmark_dr_overhead.py configs/dr_avdigits.py
"""
import argparse
import copy
import statistics
import tempfile
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmdr.engine.hooks import DRHook
from mmdr.utils import register_all_modules


class EpochTimer(Hook):
    """Times the training part of every epoch, without D&R and validation.

    D&R runs in ``before_train_epoch`` (HIGH; BalancerHook ABOVE_NORMAL),
    checkpoints and random states are saved in ``after_train_epoch`` (LOW
    and below): this hook's priority lies between them.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self):
        self.times = []

    def before_train_epoch(self, runner):
        self._start = time.perf_counter()

    def after_train_epoch(self, runner):
        self.times.append(time.perf_counter() - self._start)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='D&R diagnosis overhead')
    parser.add_argument('config', help='a config with a DRHook')
    parser.add_argument(
        '--repeats', type=int, default=3, help='diagnoses to time')
    parser.add_argument('--work-dir', help='defaults to a temporary folder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def forward_pass_time(model, loaders) -> float:
    """Wall time of one forward-only pass over the given dataloaders."""
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        for loader in loaders:
            for batch in loader:
                data = model.data_preprocessor(batch, training=False)
                model(**data, mode='tensor')
    return time.perf_counter() - start


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    dr_cfgs = [h for h in cfg.get('custom_hooks', []) if h.type == 'DRHook']
    if len(dr_cfgs) != 1:
        raise SystemExit(f'{args.config} has {len(dr_cfgs)} DRHook entries; '
                         'the benchmark needs exactly one')
    dr_cfgs[0].update(
        interval=1, begin=1, max_times=args.repeats, progress=False)
    cfg.train_cfg.max_epochs = args.repeats + 1
    cfg.work_dir = args.work_dir or tempfile.mkdtemp(prefix='dr_overhead_')
    cfg.experiment_name = 'dr_overhead'

    runner = Runner.from_cfg(copy.deepcopy(cfg))
    timer = EpochTimer()
    runner.register_hook(timer)
    runner.train()
    (hook, ) = [h for h in runner.hooks if isinstance(h, DRHook)]
    model = runner.model.module if hasattr(runner.model,
                                           'module') else runner.model
    loaders = [hook.data.loaders['train'], hook.data.loaders['val']]
    forward = [forward_pass_time(model, loaders) for _ in range(args.repeats)]

    def median(key):
        return statistics.median(r[key] for r in hook.history)

    diagnosis = median('time_s')
    epoch = statistics.median(timer.times[1:] or timer.times)
    fwd = statistics.median(forward)
    record = hook.history[0]
    print(f'config: {args.config} (torch threads: {torch.get_num_threads()})')
    print(f'samples diagnosed: {record["num_train_samples"]} train + '
          f'{record["num_val_samples"]} val; modalities: '
          f'{list(record["modalities"])}; k-means n_init: '
          f'{hook.kmeans_n_init}')
    print('| measure (median of '
          f'{args.repeats}) | seconds |\n|---|---|')
    print(f'| one diagnosis | {diagnosis:.3f} |')
    print(f'| - feature extraction | {median("extract_s"):.3f} |')
    print(f'| - k-means and purity | {median("cluster_s"):.3f} |')
    print(f'| - re-learning | {median("relearn_s"):.3f} |')
    print(f'| forward-only pass over the same samples | {fwd:.3f} |')
    print(f'| training epoch | {epoch:.3f} |')
    print(f'diagnosis / forward-only pass: {diagnosis / fwd:.2f}')
    print(f'diagnosis / training epoch: {diagnosis / epoch:.2f}')


if __name__ == '__main__':
    main()
