"""``mim train mmdr CONFIG`` and ``mim test mmdr ...`` run mmdr's tools
from an installed wheel, as they run mmaction2's (slow: builds the wheel,
trains and tests; skipped where openmim is not installed)."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

#: What a wheel is built from.
SOURCES = ('mmdr', 'configs', 'tools', 'setup.py', 'setup.cfg', 'MANIFEST.in',
           'model-index.yml', 'README.md', 'CHANGELOG.md')


@pytest.fixture(scope='module')
def installed_wheel(tmp_path_factory):
    """mmdr built as a wheel from a copy of the repository and installed
    into its own folder (no dependencies: they are this environment's)."""
    pytest.importorskip(
        'mim', reason='openmim is not installed (pip install ".[mim]")')
    base = tmp_path_factory.mktemp('mim')
    source = base / 'source'
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '.mim')
    for name in SOURCES:
        path = osp.join(REPO, name)
        if osp.isdir(path):
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copyfile(path, source / name)
    site = base / 'site'
    result = subprocess.run([
        sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
        '--target',
        str(site),
        str(source)
    ],
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return site


def run_mim(site, cwd, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, '-m', 'mim', *args],
                          cwd=cwd,
                          env=env,
                          capture_output=True,
                          text=True)


def test_mim_trains_and_tests_a_config_of_the_package(installed_wheel,
                                                      mfeat_root, tmp_path):
    package = osp.join(installed_wheel, 'mmdr', '.mim')
    assert osp.isfile(osp.join(package, 'tools', 'train.py'))
    assert osp.isfile(osp.join(package, 'model-index.yml'))

    # No configs/ where mim runs: it finds the config in the package.
    trained = run_mim(installed_wheel, tmp_path, 'train', 'mmdr',
                      'configs/jt_mfeat.py', '--work-dir', 'work_dirs/mim',
                      '--data-root', mfeat_root, '--cfg-options',
                      'train_cfg.max_epochs=1')

    assert trained.returncode == 0, trained.stderr[-3000:]
    command = next(line for line in trained.stdout.splitlines()
                   if line.startswith('Training command is'))
    assert osp.join(package, 'tools', 'train.py') in command
    assert osp.join(package, 'configs', 'jt_mfeat.py') in command
    checkpoint = tmp_path / 'work_dirs/mim/epoch_1.pth'
    assert checkpoint.is_file()

    tested = run_mim(installed_wheel, tmp_path, 'test',
                     'mmdr', 'configs/jt_mfeat.py', '--checkpoint',
                     str(checkpoint), '--work-dir', 'work_dirs/mim_test',
                     '--data-root', mfeat_root)

    assert tested.returncode == 0, tested.stderr[-3000:]
    assert 'Testing finished successfully' in tested.stdout
    assert '"acc/top1":' in tested.stdout + tested.stderr
