"""tools/slurm_train.sh and tools/slurm_test.sh.

On a real single-node Slurm cluster (tools/slurm/start_local_cluster.sh,
which .ci/run calls first), 2 CPU tasks train ``configs/dr_mfeat.py`` with
D&R and test it: the D&R history, the final weights and the test metrics
equal those of the same run under torchrun. Without such a cluster that test
is skipped with the reason. The resource options, GPU and CPU, are checked
against a stand-in ``srun`` that prints what it is given.
"""
import os
import os.path as osp
import shutil
import subprocess

import pytest
import torch
from conftest import REPO, data_root_cfg_options
from runs import (free_port, history, read_tested_metrics, tool_env,
                  without_timings)

CONFIG = osp.join(REPO, 'configs/dr_mfeat.py')
PARTITION = 'local'
STATUS_FILE = os.environ.get('SLURM_STATUS_FILE', '/tmp/mmdr_slurm_status')


def _options(data_root):
    return [
        *data_root_cfg_options(data_root), 'train_cfg.max_epochs=4',
        'custom_hooks.0.begin=2', 'custom_hooks.0.interval=1',
        'custom_hooks.0.max_times=2', 'custom_hooks.0.progress=False'
    ]


def _cluster_or_skip() -> None:
    """Skip, with the reason, unless partition ``local`` takes jobs."""
    hint = 'run: bash tools/slurm/start_local_cluster.sh'
    if osp.exists(STATUS_FILE):
        status = open(STATUS_FILE).read().strip()
        if status != 'ok':
            hint = f'start_local_cluster.sh said: {status}'
    if shutil.which('sinfo') is None or shutil.which('srun') is None:
        pytest.skip(f'Slurm is not installed ({hint})')
    state = subprocess.run(['sinfo', '-h', '-p', PARTITION, '-o', '%t'],
                           capture_output=True,
                           text=True,
                           timeout=30)
    if not state.stdout.strip().startswith(('idle', 'mix', 'alloc')):
        pytest.skip(f'Slurm partition {PARTITION!r} does not take jobs '
                    f'(sinfo: {(state.stdout + state.stderr).strip()!r}; '
                    f'{hint})')


def _script(name, *args, env=None):
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', name), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env or tool_env(),
        timeout=900)
    return result


def _cpu_env(**extra):
    return dict(
        tool_env(), GPUS='0', TASKS='2', MASTER_PORT=str(free_port()), **extra)


@pytest.mark.slow
def test_slurm_scripts_train_and_test_like_torchrun(mfeat_root, tmp_path):
    _cluster_or_skip()
    options = _options(mfeat_root)
    slurm = _script(
        'slurm_train.sh',
        PARTITION,
        'mmdr-test',
        CONFIG,
        '--work-dir',
        str(tmp_path / 'slurm'),
        '--test-best',
        '--cfg-options',
        *options,
        env=_cpu_env())
    assert slurm.returncode == 0, (slurm.stdout + slurm.stderr)[-4000:]
    assert 'Distributed launcher: slurm' in slurm.stdout + slurm.stderr
    torchrun = _script('dist_train.sh', CONFIG, '2', '--work-dir',
                       str(tmp_path / 'torchrun'), '--test-best',
                       '--cfg-options', *options)
    assert torchrun.returncode == 0, (torchrun.stdout +
                                      torchrun.stderr)[-4000:]

    got, want = history(tmp_path / 'slurm'), history(tmp_path / 'torchrun')
    assert [r['epoch'] for r in want] == [2, 3]
    assert all(r['world_size'] == 2 for r in got)
    assert without_timings(got) == without_timings(want)
    final = torch.load(tmp_path / 'slurm' / 'epoch_4.pth')['state_dict']
    reference = torch.load(tmp_path / 'torchrun' / 'epoch_4.pth')['state_dict']
    assert final.keys() == reference.keys()
    for key, value in reference.items():
        assert torch.equal(final[key], value), key
    best, slurm_metrics = read_tested_metrics(slurm.stdout)
    _, torchrun_metrics = read_tested_metrics(torchrun.stdout)
    assert slurm_metrics == torchrun_metrics

    tested = _script(
        'slurm_test.sh',
        PARTITION,
        'mmdr-test',
        CONFIG,
        best,
        '--work-dir',
        str(tmp_path / 'slurm_test'),
        '--cfg-options',
        *options,
        env=_cpu_env())
    assert tested.returncode == 0, (tested.stdout + tested.stderr)[-4000:]
    _, test_metrics = read_tested_metrics(tested.stdout)
    assert test_metrics == slurm_metrics


@pytest.fixture
def recording_srun(tmp_path):
    """A stand-in ``srun`` first on PATH that prints its arguments."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    srun.chmod(0o755)
    return dict(tool_env(), PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')


@pytest.mark.parametrize('script, args', [
    ('slurm_train.sh', ['p', 'job', 'c.py', '--seed', '1']),
    ('slurm_test.sh', ['p', 'job', 'c.py', 'ckpt.pth', '--dump', 'x.pkl']),
])
@pytest.mark.parametrize('resources, want, unwanted', [
    (dict(GPUS='16'), [
        '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8',
        '--cpus-per-task=5'
    ], []),
    (dict(GPUS='2'), ['--gres=gpu:2', '--ntasks=2', '--ntasks-per-node=2'
                      ], []),
    (dict(GPUS='0', TASKS='2'), ['--ntasks=2', '--cpus-per-task=1'
                                 ], ['--gres', '--ntasks-per-node']),
    (dict(GPUS='0', TASKS='4', TASKS_PER_NODE='2', CPUS_PER_TASK='3'),
     ['--ntasks=4', '--ntasks-per-node=2', '--cpus-per-task=3'], ['--gres']),
])
def test_srun_resources_for_gpu_and_cpu_partitions(recording_srun, script,
                                                   args, resources, want,
                                                   unwanted):
    result = _script(script, *args, env=dict(recording_srun, **resources))
    assert result.returncode == 0, result.stderr
    given = result.stdout.splitlines()
    for option in want:
        assert option in given, (option, given)
    for prefix in unwanted:
        assert not any(g.startswith(prefix) for g in given), (prefix, given)
    assert given[:2] == ['-p', 'p']
    # The tool gets its files, the launcher, then the extra arguments
    # unchanged and in order.
    launcher = given.index('--launcher=slurm')
    files = args[2:-2]
    assert given[launcher - len(files):launcher] == files
    assert given[launcher + 1:] == args[-2:]


@pytest.mark.parametrize('resources, message', [
    (dict(GPUS='0'), 'TASKS=0 must be at least 1'),
    (dict(GPUS='two'), 'GPUS=two is not a number'),
    (dict(GPUS='2', GPUS_PER_NODE='0'), 'GPUS_PER_NODE=0 must be at least 1'),
])
def test_bad_resources_are_refused_before_srun(recording_srun, resources,
                                               message):
    result = _script(
        'slurm_train.sh',
        'p',
        'job',
        'c.py',
        env=dict(recording_srun, **resources))
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ''
