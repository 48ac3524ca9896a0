"""The package carries what ``mim`` runs: setup.py's mmdr/.mim (links for
``setup.py develop``, copies for a wheel) and MANIFEST.in's package data."""
import fnmatch
import glob
import importlib.util
import os
import os.path as osp

import pytest
from conftest import REPO


@pytest.fixture(scope='module')
def setup_module():
    """setup.py as a module; its ``setup()`` runs only as a script."""
    spec = importlib.util.spec_from_file_location('mmdr_setup',
                                                  osp.join(REPO, 'setup.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def repo_tree(tmp_path):
    """A repository with a config, a base, a tool, its cache and the index."""
    for path, text in {
            'configs/a.py': "_base_ = ['_base_/b.py']\n",
            'configs/_base_/b.py': 'x = 1\n',
            'configs/dr/metafile.yml': 'Models: []\n',
            'tools/train.py': 'print(1)\n',
            'tools/dist_train.sh': 'echo\n',
            'tools/__pycache__/train.cpython-311.pyc': 'cache',
            'model-index.yml': 'Import: []\n',
            'mmdr/__init__.py': '',
    }.items():
        path = tmp_path / path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def files_under(root) -> set:
    return {
        osp.relpath(osp.join(d, f), root)
        for d, _, names in os.walk(root)
        for f in names
    }


def test_mim_needs_tools_configs_and_the_model_index(setup_module):
    assert set(
        setup_module.MIM_FILES) == {'tools', 'configs', 'model-index.yml'}


@pytest.mark.parametrize('command', ['bdist_wheel', 'sdist'])
def test_a_wheel_or_sdist_gets_copies(setup_module, repo_tree, command):
    stale = repo_tree / 'mmdr/.mim/configs/removed.py'
    stale.parent.mkdir(parents=True)
    stale.write_text('old\n')

    setup_module.add_mim_extension(str(repo_tree), ['setup.py', command])

    mim = repo_tree / 'mmdr/.mim'
    assert files_under(mim) == {
        'configs/a.py', 'configs/_base_/b.py', 'configs/dr/metafile.yml',
        'tools/train.py', 'tools/dist_train.sh', 'model-index.yml'
    }
    assert not (mim / 'configs').is_symlink()
    assert (mim / 'configs/a.py').read_text() == "_base_ = ['_base_/b.py']\n"
    assert (mim / 'model-index.yml').read_text() == 'Import: []\n'


def test_setup_py_develop_gets_links(setup_module, repo_tree):
    setup_module.add_mim_extension(str(repo_tree), ['setup.py', 'develop'])

    for name in ('tools', 'configs', 'model-index.yml'):
        link = repo_tree / 'mmdr/.mim' / name
        assert link.is_symlink()
        assert not osp.isabs(os.readlink(link))
        assert link.resolve() == (repo_tree / name).resolve()


@pytest.mark.parametrize('command', ['editable_wheel', 'egg_info', 'test'])
def test_other_commands_leave_the_tree_alone(setup_module, repo_tree, command):
    setup_module.add_mim_extension(str(repo_tree), ['setup.py', command])

    assert not (repo_tree / 'mmdr/.mim').exists()


def test_an_unpacked_sdist_keeps_its_copies(setup_module, tmp_path):
    """A source distribution has mmdr/.mim but no tools/ or configs/."""
    kept = tmp_path / 'mmdr/.mim/tools/train.py'
    kept.parent.mkdir(parents=True)
    kept.write_text('print(1)\n')

    setup_module.add_mim_extension(str(tmp_path), ['setup.py', 'bdist_wheel'])

    assert kept.read_text() == 'print(1)\n'


def manifest_patterns() -> dict:
    """MANIFEST.in as ``{folder or file: [patterns]}``."""
    patterns = {}
    with open(osp.join(REPO, 'MANIFEST.in')) as f:
        for line in f:
            words = line.split()
            if words and words[0] == 'recursive-include':
                patterns[words[1]] = words[2:]
            elif words and words[0] == 'include':
                patterns.update({word: ['*'] for word in words[1:]})
    return patterns


@pytest.mark.parametrize('folder', ['configs', 'tools'])
def test_manifest_packs_every_file_mim_runs(folder):
    patterns = manifest_patterns()[f'mmdr/.mim/{folder}']
    unpacked = [
        osp.relpath(path, REPO) for path in glob.glob(
            osp.join(REPO, folder, '**', '*'), recursive=True)
        if osp.isfile(path) and '__pycache__' not in path and not any(
            fnmatch.fnmatch(osp.basename(path), p) for p in patterns)
    ]
    assert unpacked == []


def test_manifest_packs_the_model_index():
    assert 'mmdr/.mim/model-index.yml' in manifest_patterns()
