"""Which shipped configs a config-level test must run itself.

A ``jt_`` config is its ``dr_`` twin less the D&R hook, and a
``*_tsn-test`` config is its base with another test protocol; both are
proven in test_configs/test_all_configs.py. A test of training (resume,
distributed training) therefore covers a ``jt_`` config through its twin,
and a test of training alone covers a ``*_tsn-test`` config through its base.
"""
import os.path as osp


def is_joint_training_twin(config: str) -> bool:
    """Whether the config is a ``dr_`` config less the D&R hook.

    Args:
        config (str): Config path or file name.

    Returns:
        bool: True for a ``jt_`` config.
    """
    return osp.basename(config).startswith('jt_')


def trains_like_another(config: str) -> bool:
    """Whether the config's training is another shipped config's.

    Args:
        config (str): Config path or file name.

    Returns:
        bool: True for a ``jt_`` or a ``*_tsn-test`` config.
    """
    return is_joint_training_twin(config) or config.endswith('_tsn-test.py')
