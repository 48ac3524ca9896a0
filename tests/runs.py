"""Helpers that start real training runs the way users do: the Runner from
a config file, or tools/train.py in a subprocess (also under torchrun)."""
import json
import os
import os.path as osp
import re
import runpy
import socket
import subprocess
import sys
from typing import Iterable, Optional, Tuple

import torch
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


def run_tool(tool: str, *args, cwd: str = REPO) -> subprocess.CompletedProcess:
    """Run ``tools/<tool>`` with this interpreter, as a user would.

    Args:
        tool (str): Path under ``tools/``, e.g. ``'train.py'`` or
            ``'analysis/probe.py'``.
        *args: Its arguments (converted with ``str``).
        cwd (str): Working directory. Defaults to the repository.

    Returns:
        subprocess.CompletedProcess: The finished process, output captured.
    """
    cmd = [sys.executable, osp.join(REPO, 'tools', tool), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)


def run_tool_main(tool: str, args: Iterable, monkeypatch,
                  capsys) -> Tuple[int, str]:
    """Run ``tools/<tool>``'s ``main`` in this process, as its command line.

    In-process runs spare a second interpreter's start and imports (about
    3 s each); pass ``experiment_name=...`` in ``--cfg-options`` so that
    each run gets loggers of its own. As for a script, the tool's folder is
    first on ``sys.path`` and ``sys.argv`` is set before its module runs
    (some tools read their arguments on import); the thread settings a tool
    makes are undone afterwards.

    Args:
        tool (str): Path under ``tools/``, e.g. ``'train.py'``.
        args (Iterable): Its arguments (converted with ``str``).
        monkeypatch: pytest's fixture (for ``sys.argv``).
        capsys: pytest's fixture (the output is read and returned).

    Returns:
        tuple[int, str]: What ``main`` returned, and stdout plus stderr.
    """
    path = osp.join(REPO, 'tools', tool)
    monkeypatch.syspath_prepend(osp.dirname(path))
    monkeypatch.setattr(sys, 'argv', [tool, *map(str, args)])
    for key in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        # Recorded now, restored at teardown, whatever the tool sets.
        monkeypatch.setenv(key, os.environ.get(key, ''))
        if not os.environ[key]:
            monkeypatch.delenv(key)
    threads = torch.get_num_threads()
    try:
        status = runpy.run_path(path)['main']()
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr()
    return status, out.out + out.err


#: Sockets that hold the ports :func:`free_port` handed out.
_RESERVED_PORTS = []


def free_port() -> int:
    """A TCP port for a launcher's master port that no other process takes.

    A port found free and released could be taken (by another test's
    launcher, or as the local end of any connection) before the launcher
    binds it. This process keeps it bound instead, with ``SO_REUSEADDR``
    and without listening, until it exits: other binds and outgoing
    connections leave it alone, while the launcher's store, which also
    binds with ``SO_REUSEADDR`` (libuv, gloo), can still listen on it.

    Returns:
        int: The port, never handed out twice.
    """
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(('', 0))
    _RESERVED_PORTS.append(holder)
    return holder.getsockname()[1]


def tool_env() -> dict:
    """Environment of a tool run by a test: one OpenMP thread per process,
    a free port for tools/dist_train.sh, this interpreter."""
    return dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PORT=str(free_port()),
        PYTHON=sys.executable)


def read_tested_metrics(stdout: str) -> Tuple[str, dict]:
    """The checkpoint and metrics that tools/train.py --test-best or
    tools/test.py print.

    Args:
        stdout (str): The tool's standard output.

    Returns:
        tuple[str, dict]: Checkpoint path and metrics.
    """
    match = re.search(r'Test metrics of (\S+?)( \(.*\))?:\n(\{.*?\n\})',
                      stdout, re.S)
    assert match, stdout[-3000:]
    return match.group(1), json.loads(match.group(3))


def dist_train_and_test(
        config: str,
        options: Iterable[str],
        tmp_path,
        test_config: Optional[str] = None,
        test_options: Optional[Iterable[str]] = None
) -> Tuple[str, dict, dict]:
    """Train with tools/dist_train.sh on 2 CPU processes (--test-best), then
    test the selected checkpoint with tools/test.py, as a user would; both
    must pass.

    Args:
        config (str): The config's file name under ``configs/``, or a path.
        options (Iterable[str]): ``--cfg-options`` of both tools.
        tmp_path: Test folder; the work dir is ``tmp_path / 'work'``.
        test_config (str, optional): The config tools/test.py runs with
            (e.g. a ``*_tsn-test`` twin's other test protocol). Defaults to
            ``config``.
        test_options (Iterable[str], optional): ``--cfg-options`` of
            tools/test.py. Defaults to ``options``.

    Returns:
        tuple[str, dict, dict]: The training log (stdout and stderr), the
        metrics of --test-best and those of tools/test.py.
    """
    options = list(options)
    config = osp.join(REPO, 'configs', config)
    train = subprocess.run([
        'bash',
        osp.join(REPO, 'tools/dist_train.sh'), config, '2', '--work-dir',
        str(tmp_path / 'work'), '--test-best', '--cfg-options', *options
    ],
                           capture_output=True,
                           text=True,
                           cwd=REPO,
                           env=tool_env())
    assert train.returncode == 0, (
        train.stdout[-2500:] + '\n[stderr]\n' + train.stderr[-2500:])
    log = train.stdout + train.stderr
    assert 'Distributed training: True' in log
    best, metrics = read_tested_metrics(train.stdout)
    test_config = config if test_config is None else osp.join(
        REPO, 'configs', test_config)
    test_options = options if test_options is None else list(test_options)
    tested = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools/test.py'), test_config, best, '--work-dir',
        str(tmp_path / 'test'), '--cfg-options', *test_options
    ],
                            capture_output=True,
                            text=True,
                            cwd=REPO,
                            env=tool_env())
    assert tested.returncode == 0, (tested.stdout + tested.stderr)[-4000:]
    _, test_metrics = read_tested_metrics(tested.stdout)
    return log, metrics, test_metrics


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
