"""Install mmdr.

torch is limited to the releases verified with mmengine 0.10.7 and mmaction2
1.1.0 (2.11 to 2.13); install your torch build first (the CPU or CUDA one),
as OpenMMLab's installation guides say. mmcv: full ``mmcv`` is used where it
is already installed (e.g. with compiled ops from ``mim``); otherwise the
pure-Python ``mmcv-lite`` is installed. Both provide the ``mmcv`` module, so
never both.

As mmaction2's, the package carries what OpenMMLab's ``mim`` needs to run
``mim train mmdr CONFIG`` and ``mim test mmdr ...``: ``tools/``,
``configs/`` and ``model-index.yml`` in ``mmdr/.mim`` (linked by
``setup.py develop``, copied for a wheel or a source distribution).
"""
import os
import os.path as osp
import shutil
import sys
from importlib import metadata
from typing import Optional, Sequence

from setuptools import find_packages, setup


def mmcv_requirement() -> str:
    """Require the mmcv distribution that is installed, else mmcv-lite."""
    try:
        metadata.version('mmcv')
    except metadata.PackageNotFoundError:
        return 'mmcv-lite>=2.0.1,<2.1.0'
    # mmaction2 1.1.0 asserts 2.0.0rc4 <= mmcv < 2.1.0.
    return 'mmcv>=2.0.0rc4,<2.1.0'


def readme() -> str:
    with open('README.md', encoding='utf-8') as f:
        return f.read()


#: What ``mim`` looks for in ``mmdr/.mim``: the tools it runs, the configs it
#: finds by name and the model index that ``mim search`` reads.
MIM_FILES = ('tools', 'configs', 'model-index.yml')


def add_mim_extension(repo_path: Optional[str] = None,
                      argv: Optional[Sequence[str]] = None) -> None:
    """Put the files ``mim`` needs into ``mmdr/.mim``, as mmaction2 does.

    Symbolic links to the originals for ``setup.py develop``; copies for a
    wheel or a source distribution; nothing for any other command (a
    PEP 660 editable install included: ``mim`` looks for the package in
    site-packages, where such an install has no folder).

    Args:
        repo_path (str, optional): The repository root. Defaults to this
            file's folder.
        argv (Sequence[str], optional): The setup command line. Defaults to
            ``sys.argv``.
    """
    argv = sys.argv if argv is None else argv
    if 'develop' in argv:
        mode = 'symlink'
    elif 'sdist' in argv or 'bdist_wheel' in argv:
        mode = 'copy'
    else:
        return
    repo_path = repo_path or osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(repo_path, 'mmdr', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for filename in MIM_FILES:
        src_path = osp.join(repo_path, filename)
        tar_path = osp.join(mim_path, filename)
        if not osp.exists(src_path):
            # An unpacked source distribution: its mmdr/.mim is complete.
            continue
        if osp.isfile(tar_path) or osp.islink(tar_path):
            os.remove(tar_path)
        elif osp.isdir(tar_path):
            shutil.rmtree(tar_path)
        if mode == 'symlink':
            os.symlink(osp.relpath(src_path, mim_path), tar_path)
        elif osp.isdir(src_path):
            # Caches of the tools' own runs are no package data.
            shutil.copytree(
                src_path,
                tar_path,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src_path, tar_path)


def version() -> str:
    scope: dict = {}
    with open('mmdr/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmdr',
        version=version(),
        description='Diagnosing & Re-learning for balanced multimodal '
        'learning, as an OpenMMLab 2.x plugin',
        long_description=readme(),
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'data')),
        # mmdr/.mim, as MANIFEST.in lists it.
        include_package_data=True,
        python_requires='>=3.9',
        install_requires=[
            # Verified: 2.13 (CPU, full test suite) and 2.11 (CUDA 13, GPU
            # runs).
            'torch>=2.11,<2.14',
            'mmengine>=0.10.7,<0.11',
            # 1.2.0's wheel lacks mmaction/models/localizers/drn/__init__.py.
            'mmaction2==1.1.0',
            mmcv_requirement(),
            'numpy>=2.0,<3',
            'scikit-learn>=1.9,<2',
            # Per-thread OpenMP limits of k-means run side by side (a
            # scikit-learn dependency, imported by mmdr.diagnosis directly).
            'threadpoolctl>=3.8,<4',
            # DRHook(kmeans_backend='faiss'): the alternative k-means backend.
            'faiss-cpu>=1.15,<2',
            'tensorboard>=2.21,<3',
            # tools/analysis/tsne.py and plot_curves.py (verified: 3.11.2).
            'matplotlib>=3.11,<4',
            # AV-Digits: WAV reading, and eSpeak NG for generating the set.
            'soundfile>=0.14,<0.15',
            # Video decoding for mmaction2's Decord* transforms and UCF-101
            # preparation.
            'decord>=0.6,<0.7',
            'espeakng-loader==0.2.4',
            # CREMA-D / Kinetics-Sounds: FLV (VP6) and MP4 decoding, resampling
            # as librosa.load does (soxr HQ), Kaldi filterbanks as
            # torchaudio.compliance.kaldi.fbank (torchaudio has no build for
            # torch 2.13).
            'av>=18.1,<19',
            'soxr>=1.0,<2',
            'kaldi-native-fbank>=1.23,<2',
        ],
        extras_require=dict(
            tests=[
                'pytest>=8,<10', 'pytest-xdist>=3.8,<4', 'filelock>=3.12,<5'
            ],
            # mim train / mim test / mim search (verified: openmim 0.3.9,
            # which imports pkg_resources, gone from setuptools 82 on).
            mim=['openmim>=0.3.9,<0.4', 'setuptools<82'],
            # HFTextEncoder, HFTokenize: the *_bert.py configs (verified:
            # transformers 5.25).
            text=['transformers>=5.25,<6']),
        license='Apache License 2.0',
        zip_safe=False)
