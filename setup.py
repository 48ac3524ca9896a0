"""Install mmdr.

torch is limited to the releases verified with mmengine 0.10.7 and mmaction2
1.1.0 (2.11 to 2.13); install your torch build first (the CPU or CUDA one),
as OpenMMLab's installation guides say. mmcv: full ``mmcv`` is used where it
is already installed (e.g. with compiled ops from ``mim``); otherwise the
pure-Python ``mmcv-lite`` is installed. Both provide the ``mmcv`` module, so
never both.
"""
from importlib import metadata

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


def version() -> str:
    scope: dict = {}
    with open('mmdr/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmdr',
    version=version(),
    description='Diagnosing & Re-learning for balanced multimodal learning, '
    'as an OpenMMLab 2.x plugin',
    long_description=readme(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'data')),
    python_requires='>=3.9',
    install_requires=[
        # Verified: 2.13 (CPU, full test suite) and 2.11 (CUDA 13, GPU runs).
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
        tests=['pytest>=8,<10', 'pytest-xdist>=3.8,<4', 'filelock>=3.12,<5']),
    license='Apache License 2.0',
    zip_safe=False)
