from .agm import AGM
from .amco import AMCo, class_mask, logit_shares, masked_class_count
from .arl import ARL
from .base_balancer import BaseBalancer, gt_labels, true_class_scores
from .cml import CML, calibration_terms, removal_logits
from .gradient_blending import GradientBlending, HeldOutSampler
from .greedy import Greedy
from .inforeg import InfoReg
from .lfm import LFM, alignment_divergence, weight_hypergradient
from .mbsd import MBSD, pair_terms
from .mla import MLA
from .mmcosine import MMCosine, cosine_logits
from .mmpareto import MMPareto
from .ogm_ge import OGMGE, modulation_coefficients
from .opm import OPM, drop_features, drop_probabilities
from .pmr import (PMR, prototype_coefficients, prototype_logits,
                  update_prototypes)
from .reconboost import ReconBoost
from .ume import UME, ensemble_logits
from .umt import UMT
from .unimodal_aux_loss import UnimodalAuxLoss
from .valuation import SampleValuation

__all__ = [
    'BaseBalancer', 'gt_labels', 'true_class_scores', 'MMCosine',
    'cosine_logits', 'MMPareto', 'OGMGE', 'modulation_coefficients', 'OPM',
    'drop_features', 'drop_probabilities', 'UnimodalAuxLoss', 'PMR',
    'prototype_coefficients', 'prototype_logits', 'update_prototypes',
    'Greedy', 'AGM', 'ReconBoost', 'GradientBlending', 'HeldOutSampler', 'UME',
    'ensemble_logits', 'UMT', 'MLA', 'CML', 'calibration_terms',
    'removal_logits', 'InfoReg', 'ARL', 'SampleValuation', 'AMCo',
    'class_mask', 'logit_shares', 'masked_class_count', 'MBSD', 'pair_terms',
    'LFM', 'alignment_divergence', 'weight_hypergradient'
]
