"""What ``tools/train.py --amp`` makes of a config's ``optim_wrapper``."""
import copy

#: The mixed-precision wrapper of each full-precision one.
AMP_OPTIM_WRAPPERS = {
    'OptimWrapper': 'AmpOptimWrapper',
    'BalancedOptimWrapper': 'BalancedAmpOptimWrapper',
}


def amp_optim_wrapper_cfg(optim_wrapper: dict) -> dict:
    """The ``optim_wrapper`` config, switched to mixed precision.

    ``OptimWrapper`` becomes mmengine's ``AmpOptimWrapper`` and
    ``BalancedOptimWrapper`` (every shipped schedule's) becomes
    :class:`BalancedAmpOptimWrapper`, with dynamic loss scaling unless the
    config sets ``loss_scale``; a mixed-precision wrapper stays as it is.

    Args:
        optim_wrapper (dict): The config's ``optim_wrapper``.

    Returns:
        dict: A copy, switched.

    Raises:
        ValueError: If the wrapper type has no mixed-precision counterpart.
    """
    cfg = copy.deepcopy(optim_wrapper)
    wrapper = cfg.get('type', 'OptimWrapper')
    if wrapper in AMP_OPTIM_WRAPPERS.values():
        return cfg
    if wrapper not in AMP_OPTIM_WRAPPERS:
        raise ValueError(
            f'--amp: optim_wrapper.type={wrapper!r} has no mixed-precision '
            f'counterpart; use one of {sorted(AMP_OPTIM_WRAPPERS)}')
    cfg['type'] = AMP_OPTIM_WRAPPERS[wrapper]
    cfg.setdefault('loss_scale', 'dynamic')
    return cfg
