"""Which shipped configs a config-level test must run itself, and the data
each config runs on in the tests.

A ``jt_`` config is its ``dr_`` twin less the D&R hook, and a
``*_tsn-test`` config is its base with another test protocol; both are
proven in test_configs/test_all_configs.py. A test of training (resume,
distributed training) therefore covers a ``jt_`` config through its twin,
and a test of training alone covers a ``*_tsn-test`` config through its base.
"""
import glob
import os.path as osp
from typing import List, Tuple

import pytest
from av_options import av_shrink_options
from conftest import REPO
from food101_fixtures import bert_options, food101_options, write_tiny_bert
from mosi_fixtures import NONFINITE_ZERO_OPTIONS
from ucf101_options import checkpoint_options, shrink_options
from umt_teachers import teacher_options

#: Every shipped config.
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '*.py')))


def is_joint_training_twin(config: str) -> bool:
    """Whether the config is a ``dr_`` config less the D&R hook.

    Args:
        config (str): Config path or file name.

    Returns:
        bool: True for a ``jt_`` config.
    """
    return osp.basename(config).startswith('jt_')


def is_method_config(config: str) -> bool:
    """Whether the config is a balancing method's: ``jt_avdigits.py`` plus
    the method's fragment of ``configs/_base_/methods``.

    Args:
        config (str): Config path or file name.

    Returns:
        bool: True for ``<method>_avdigits.py`` with ``<method>`` a
        fragment.
    """
    prefix, _, setting = osp.basename(config).partition('_')
    fragment = osp.join(REPO, 'configs', '_base_', 'methods',
                        prefix.replace('-', '_') + '.py')
    return setting == 'avdigits.py' and osp.isfile(fragment)


def trains_like_another(config: str) -> bool:
    """Whether the config's training is another shipped config's.

    Args:
        config (str): Config path or file name.

    Returns:
        bool: True for a ``jt_`` or a ``*_tsn-test`` config.
    """
    return is_joint_training_twin(config) or config.endswith('_tsn-test.py')


def model_options(config: str, request) -> List[str]:
    """The ``--cfg-options`` a shipped config's model needs to initialise in
    the tests: test teachers for a UMT config, whose teachers are runs the
    user makes first (made once per test session).

    Args:
        config (str): Config path.
        request: pytest's ``request``.

    Returns:
        list[str]: The options; none for most configs. A ``*_bert.py``
        config gets a tiny local BERT, and is skipped without
        transformers.
    """
    base = request.getfixturevalue('tmp_path_factory').getbasetemp()
    if config.endswith('_bert.py'):
        # transformers is optional: its configs run where it is installed.
        pytest.importorskip('transformers')
        folder = base / 'tiny_bert'
        if not folder.exists():
            write_tiny_bert(str(folder))
        return bert_options(str(folder))
    return teacher_options(config, base / 'umt_teachers')


def resumes_like_another(config: str) -> bool:
    """Whether a resume of the config is another shipped config's.

    Besides :func:`trains_like_another`: at test size a ``*_tsn-r50-k400``
    config has ResNet-18 backbones (``ucf101_options.checkpoint_options``),
    so it trains as its base, only from a pretrained checkpoint in
    mmaction2's format, which a resume does not read (its distributed run
    in test_ucf101_configs.py loads it). VGGSound's and BalancedAV's
    configs are Kinetics-Sounds's model, pipeline and hooks on another
    ``ClipListDataset`` (their lists read and carved in
    test_vggsound_balanced_av_datasets.py, their training and test runs in
    test_prepare_vggsound.py and test_prepare_balanced_av.py): a resume of
    ``dr_kinetics_sounds.py`` is theirs.

    Args:
        config (str): Config path or file name.

    Returns:
        bool: True where the base config's resume covers this one.
    """
    return trains_like_another(config) or config.endswith(
        ('_tsn-r50-k400.py', '_vggsound.py', '_balanced_av.py'))


def config_data(config: str, request) -> Tuple[str, List[str]]:
    """The test data set of a shipped config and the ``--cfg-options`` that
    fit the config to it (those of :func:`model_options` included).

    Args:
        config (str): Config path or file name.
        request: pytest's ``request`` (the data sets are session fixtures,
            made when first asked for).

    Returns:
        tuple[str, list[str]]: The data root and the options: small frames
        and audio and no loader workers for the video data sets, local
        pretrained checkpoints for UCF-101, non-finite MOSEI values zeroed,
        teachers for UMT.
    """
    data_root, options = _data(config, request)
    return data_root, [*options, *model_options(config, request)]


def _data(config: str, request) -> Tuple[str, List[str]]:
    """:func:`config_data` less :func:`model_options`."""
    name = osp.basename(config)
    for data_set in ('mosi', 'mosei'):
        if name.endswith(f'_{data_set}.py'):
            return request.getfixturevalue(f'{data_set}_root'), (
                NONFINITE_ZERO_OPTIONS if data_set == 'mosei' else [])
    for data_set in ('cremad', 'kinetics_sounds', 'vggsound', 'balanced_av'):
        if f'_{data_set}' in name:
            return (request.getfixturevalue(f'{data_set}_root'),
                    av_shrink_options(name))
    if '_food101' in name:
        return request.getfixturevalue('food101_root'), food101_options(name)
    if 'ucf101' in name:
        # Persistent workers would keep their random state outside any
        # checkpoint: the shrunk configs have none.
        checkpoints = request.getfixturevalue('pretrained_checkpoints')
        return request.getfixturevalue('ucf101_root'), [
            *shrink_options(name), *checkpoint_options(name, checkpoints)
        ]
    data_set = 'avdigits' if 'avdigits' in name else 'mfeat'
    return request.getfixturevalue(f'{data_set}_root'), []
