"""Train, test, probe and measure the runs that
:mod:`mmdr.analysis.benchmark_runs` plans: each run's ``tools/train.py
--test-best`` in its own process, its metrics read from the work dir
(mmengine's test log, the selected checkpoint), the frozen encoders probed,
the modalities' Shapley contributions and the model's complexity measured;
finished runs reused and interrupted ones resumed."""
import glob
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from typing import Tuple

import torch
from mmengine.config import Config
from mmengine.fileio import dump, load

from mmdr.analysis import unimodal_probes
from mmdr.analysis.complexity import model_complexity
from mmdr.analysis.epoch_time import train_epoch_seconds
from mmdr.analysis.modality_shapley import (NotAClassifierError,
                                            modality_shapley)
from mmdr.analysis.benchmark_runs import (BenchmarkError, Run, changed_config,
                                          selection_metric)
from mmdr.analysis.training_curves import read_test_metrics
from mmdr.utils import earlier_checkpoints
from mmdr.utils.atomic_write import open_atomic, write_text_atomic

#: What :meth:`RunExecutor.measure` adds to a run's result.
MEASURES = ('shapley', 'params', 'flops', 'epoch_s', 'measures_wall_s')


def write_json(path: str, data: dict) -> None:
    """Write JSON atomically: a reader never sees half a file.

    Args:
        path (str): The file.
        data (dict): Its content.
    """
    with open_atomic(path) as f:
        dump(data, f, file_format='json', indent=2)
        f.write('\n')


def best_checkpoint(work_dir: str, metric: str) -> str:
    """The checkpoint that mmengine's ``CheckpointHook`` kept as best.

    Args:
        work_dir (str): The run's work dir.
        metric (str): Its ``save_best`` metric, e.g. ``'acc/top1'``.

    Returns:
        str: ``best_<metric>_epoch_<N>.pth`` (``/`` written as ``_``), the
        only one: the hook removes the earlier best when it saves one.
    """
    pattern = f'best_{metric.replace("/", "_")}_epoch_*.pth'
    found = glob.glob(osp.join(glob.escape(work_dir), pattern))
    if len(found) != 1:
        raise RuntimeError(f'{work_dir} holds {len(found)} files {pattern}; '
                           'expected the one best checkpoint')
    return found[0]


class RunExecutor:
    """Trains, tests and probes runs; reuses and continues earlier ones.

    Args:
        train_script (str): ``tools/train.py``.
        threads (int): Torch/OpenMP threads of every training process and
            of the probes.
        cwd (str): Working directory of the training processes (relative
            data roots are read from there).
    """

    def __init__(self,
                 train_script: str,
                 threads: int = 1,
                 cwd: str = None) -> None:
        self.train_script = train_script
        self.threads = threads
        self.cwd = cwd or os.getcwd()
        # Probes run in this process, one at a time.
        self._probe_lock = threading.Lock()

    def __call__(self, run: Run) -> Tuple[dict, str]:
        """Reuse, continue or start a run.

        Args:
            run (Run): The run.

        Returns:
            tuple[dict, str]: Its result and how it was obtained:
            ``'reused'``, ``'resumed'``, ``'probed'`` (training had
            finished) or ``'trained'``.
        """
        problem = changed_config(run)
        if problem:
            raise BenchmarkError(problem)
        os.makedirs(run.work_dir, exist_ok=True)
        config_file = run.config_file
        if osp.isfile(run.result_file):
            result = load(run.result_file)
            if not all(key in result for key in MEASURES):
                # A run finished before the measures were: measured once,
                # its result.json extended (the training is kept). It is
                # reported without them where that fails.
                try:
                    result.update(self.measure(run, result['best_ckpt']))
                except Exception as err:
                    print(
                        f'{run.name}: reused without the measures '
                        f'({type(err).__name__}: {err})',
                        flush=True)
                else:
                    write_json(run.result_file, result)
            return result, 'reused'
        os.makedirs(osp.dirname(config_file), exist_ok=True)
        write_text_atomic(config_file, run.cfg.dump())
        how = 'probed'
        train_file = osp.join(run.work_dir, 'train.json')
        if not osp.isfile(train_file):
            how = 'resumed' if earlier_checkpoints(run.work_dir) else 'trained'
            write_json(train_file,
                       self._train(run, config_file, how == 'resumed'))
        trained = load(train_file)
        start = time.perf_counter()
        best = osp.join(run.work_dir, trained['best_ckpt'])
        with self._probe_lock:
            torch.set_num_threads(self.threads)
            probes = unimodal_probes(Config.fromfile(config_file), best)
        result = dict(
            setting=run.setting,
            method=run.method,
            seed=run.seed,
            **trained,
            probe=probes,
            probe_wall_s=time.perf_counter() - start,
            strengths=self._strengths(run.work_dir),
            **self.measure(run, trained['best_ckpt']))
        result['wall_s'] = (
            result['train_wall_s'] + result['probe_wall_s'] +
            result['measures_wall_s'])
        write_json(run.result_file, result)
        return result, how

    def measure(self, run: Run, best_ckpt: str) -> dict:
        """The measures of a trained run.

        Args:
            run (Run): The run (trained, its composed config written).
            best_ckpt (str): Its selected checkpoint, relative to its folder.

        Returns:
            dict: ``shapley`` (data-set level on the test split, features
            of a missing modality zero: ``dataset`` and the samples'
            ``most_share`` per modality, ``tie_share``; None for a model
            that does not classify), ``params``, ``flops`` (per test
            sample), ``epoch_s`` (training seconds per epoch from
            ``train.log``, None if under two epochs per process) and
            ``measures_wall_s``.
        """
        start = time.perf_counter()
        cfg = Config.fromfile(run.config_file)
        with self._probe_lock:
            torch.set_num_threads(self.threads)
            try:
                contributions = modality_shapley(
                    cfg, osp.join(run.work_dir, best_ckpt), 'test')
                shapley = dict(
                    split=contributions['split'],
                    replace=contributions['replace'],
                    dataset=contributions['dataset'],
                    most_share={
                        m: s['most_share']
                        for m, s in contributions['samples'].items()
                    },
                    tie_share=contributions['tie_share'])
            except NotAClassifierError:
                shapley = None
            complexity = model_complexity(cfg)
        log = osp.join(run.work_dir, 'train.log')
        epoch_s = None
        if osp.isfile(log):
            with open(log) as f:
                epoch_s = train_epoch_seconds(f.read())
        return dict(
            shapley=shapley,
            **complexity,
            epoch_s=epoch_s,
            measures_wall_s=time.perf_counter() - start)

    def _train(self, run: Run, config_file: str, resume: bool) -> dict:
        """tools/train.py --seed N --test-best [--resume] on the run."""
        cmd = [
            sys.executable, self.train_script, config_file, '--work-dir',
            run.work_dir, '--seed',
            str(run.seed), '--test-best'
        ]
        if resume:
            cmd.append('--resume')
        env = dict(
            os.environ,
            OMP_NUM_THREADS=str(self.threads),
            MKL_NUM_THREADS=str(self.threads))
        log = osp.join(run.work_dir, 'train.log')
        # The timestamp folders of earlier processes: this one's test log
        # is in a new one.
        earlier = set(os.listdir(run.work_dir))
        start = time.perf_counter()
        with open(log, 'a') as f:
            f.write(f'$ {" ".join(cmd)}\n')
            f.flush()
            offset = f.tell()
            process = subprocess.run(
                cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=self.cwd)
        wall = time.perf_counter() - start
        if process.returncode != 0:
            with open(log) as f:
                f.seek(offset)
                last = [line for line in f.read().splitlines() if line.strip()]
            raise RuntimeError(f'training failed (exit {process.returncode}'
                               f', log {log}): {" | ".join(last[-1:])}')
        test = read_test_metrics(run.work_dir, exclude=earlier)
        if test is None:
            raise RuntimeError(f'tools/train.py --test-best wrote no test log '
                               f'in {run.work_dir} (see {log})')
        metric = selection_metric(run.cfg)
        best = best_checkpoint(run.work_dir, metric)
        checkpoint = torch.load(best, map_location='cpu', weights_only=False)
        info = checkpoint['message_hub']['runtime_info']
        val = info.get('best_score', info.get(f'best_score_{metric}'))
        return dict(
            metric=metric,
            best_ckpt=osp.relpath(best, run.work_dir),
            best_epoch=int(checkpoint['meta']['epoch']),
            val=None if val is None else float(val),
            test=test,
            train_wall_s=wall,
            resumed=resume)

    @staticmethod
    def _strengths(work_dir: str) -> list:
        """D&R's re-learning strength per diagnosis and modality, if any."""
        path = osp.join(work_dir, 'dr_history.json')
        if not osp.isfile(path):
            return []
        return [{
            m: s['strength']
            for m, s in record['modalities'].items()
        } for record in load(path)]
