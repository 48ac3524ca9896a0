from .balanced_optim_wrapper import BalancedOptimWrapper

__all__ = ['BalancedOptimWrapper']
