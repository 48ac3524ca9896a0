from .balanced_amp_optim_wrapper import BalancedAmpOptimWrapper
from .balanced_optim_wrapper import BalancedOptimWrapper
from .mixed_precision import AMP_OPTIM_WRAPPERS, amp_optim_wrapper_cfg

__all__ = [
    'BalancedOptimWrapper', 'BalancedAmpOptimWrapper', 'AMP_OPTIM_WRAPPERS',
    'amp_optim_wrapper_cfg'
]
