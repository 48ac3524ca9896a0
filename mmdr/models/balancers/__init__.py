from .base_balancer import BaseBalancer, gt_labels
from .mmpareto import MMPareto
from .ogm_ge import OGMGE, modulation_coefficients
from .pmr import (PMR, prototype_coefficients, prototype_logits,
                  update_prototypes)
from .ume import UME, ensemble_logits
from .umt import UMT
from .unimodal_aux_loss import UnimodalAuxLoss

__all__ = [
    'BaseBalancer', 'gt_labels', 'MMPareto', 'OGMGE',
    'modulation_coefficients', 'UnimodalAuxLoss', 'PMR',
    'prototype_coefficients', 'prototype_logits', 'update_prototypes', 'UME',
    'ensemble_logits', 'UMT'
]
