from .dr_hook import DRHook
from .modality_check_hook import ModalityCheckHook

__all__ = ['DRHook', 'ModalityCheckHook']
