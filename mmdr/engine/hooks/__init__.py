from .balancer_hook import BalancerHook
from .dr_hook import DRHook
from .modality_check_hook import ModalityCheckHook
from .random_state_hook import RandomStateHook

__all__ = ['BalancerHook', 'DRHook', 'ModalityCheckHook', 'RandomStateHook']
