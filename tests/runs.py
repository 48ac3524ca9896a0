"""Helpers that start real training runs the way users do: the Runner from
a config file, or tools/train.py in a subprocess (also under torchrun)."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys
from typing import Iterable, Optional

from conftest import REPO
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

# Importing mmdr allow-lists mmengine checkpoints for torch.load.
import mmdr  # noqa: F401,E402

TESTS = osp.dirname(osp.abspath(__file__))
_RUNS = 0


def parse_options(options: Iterable[str]) -> dict:
    """Parse ``key=value`` strings as ``--cfg-options`` does."""
    return {
        key: DictAction._parse_iterable(value)
        for key, value in (o.split('=', 1) for o in options)
    }


def build_runner(config: str,
                 work_dir,
                 options: Iterable[str] = (),
                 **overrides) -> Runner:
    """A Runner built from a config file plus ``--cfg-options`` strings.

    Args:
        config (str): Config file.
        work_dir: Work dir of the run.
        options (Iterable[str]): ``key=value`` strings.
        **overrides: Config keys set after the options (Python values).
    """
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parse_options(options))
    for hook in cfg.get('custom_hooks') or []:
        if hook.get('type') == 'DRHook':
            hook['progress'] = False
    cfg.merge_from_dict(overrides)
    cfg.work_dir = str(work_dir)
    # A fresh name per Runner: mmengine keeps one logger, message hub and
    # visualizer per name in the process, and a resumed run must not
    # inherit the interrupted one's.
    global _RUNS
    _RUNS += 1
    cfg.experiment_name = f'{osp.basename(str(work_dir))}_{_RUNS}'
    return Runner.from_cfg(cfg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def train_tool(
    work,
    options: Iterable[str],
    nproc: int = 1,
    config: str = osp.join(REPO, 'configs/dr_mfeat.py'),
    extra_args: Iterable[str] = ()
) -> subprocess.CompletedProcess:
    """Run tools/train.py (under torchrun when ``nproc > 1``); must pass.

    Args:
        work: Work dir.
        options (Iterable[str]): ``--cfg-options`` strings.
        nproc (int): Processes (gloo on a CPU).
        config (str): Config file.
        extra_args (Iterable[str]): More arguments of tools/train.py.

    Returns:
        subprocess.CompletedProcess: The finished process.
    """
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join(
            [REPO, TESTS, os.environ.get('PYTHONPATH', '')]))
    launcher = [sys.executable]
    if nproc > 1:
        launcher += [
            '-m', 'torch.distributed.run', f'--nproc_per_node={nproc}',
            f'--master_port={free_port()}'
        ]
    cmd = [
        *launcher,
        osp.join(REPO, 'tools/train.py'),
        str(config), '--work-dir',
        str(work), *extra_args
    ]
    if nproc > 1:
        cmd += ['--launcher', 'pytorch']
    cmd += ['--cfg-options', *options]
    result = subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result


def history(work) -> list:
    """The D&R history of a run."""
    return json.load(open(osp.join(str(work), 'dr_history.json')))


def without_timings(records: list) -> list:
    """History records without their wall times (which always differ)."""
    return [{
        k: v
        for k, v in r.items() if not k.endswith('_s')
    } for r in records]


def read_history_or_none(work) -> Optional[list]:
    path = osp.join(str(work), 'dr_history.json')
    return json.load(open(path)) if osp.exists(path) else None
