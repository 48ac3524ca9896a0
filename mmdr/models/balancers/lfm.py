from itertools import combinations
from typing import TYPE_CHECKING, Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer

#: The authors' polynomial in the epoch (counted from 0) of the
#: classification loss's weight, fitted to the weights their learnable rule
#: reached on CREMA-D (``getAlpha_Learnable_Fitted``'s ``coef_alpha1``; its
#: ``coef_alpha2`` is one minus it, the alignment loss's weight).
FITTED_CLS_WEIGHT = (2.04623704e-01, 3.35472727e-03, 1.22989557e-04,
                     -2.92947416e-06, 2.23835486e-08, -5.39717505e-11)


def alignment_divergence(logits_p: torch.Tensor,
                         logits_q: torch.Tensor) -> torch.Tensor:
    """The authors' ``Alignment`` between two modalities' softmax
    predictions, averaged over the samples.

    As the code writes it: with ``m = (p + q) / 2``,
    ``0.5 * (kl_div(log p, m) + kl_div(log q, m))``, where torch's
    ``kl_div(x, t)`` is ``sum t * (log t - x) / N``
    (``reduction='batchmean'``). With that argument order it is
    ``0.5 * (KL(m || p) + KL(m || q))``, not the textbook Jensen-Shannon
    divergence ``0.5 * (KL(p || m) + KL(q || m))`` the name suggests, and
    it is unbounded; we keep the code's. ``log p`` is taken as
    ``log_softmax`` (the code's ``softmax().log()``, without its ``-inf``
    where a probability underflows).

    Args:
        logits_p (torch.Tensor): (N, C) logits of one modality.
        logits_q (torch.Tensor): (N, C) logits of the other.

    Returns:
        torch.Tensor: A scalar.
    """
    log_p = F.log_softmax(logits_p, dim=-1)
    log_q = F.log_softmax(logits_q, dim=-1)
    mixture = 0.5 * log_p.exp() + 0.5 * log_q.exp()
    kl_p = F.kl_div(log_p, mixture, reduction='batchmean')
    kl_q = F.kl_div(log_q, mixture, reduction='batchmean')
    return 0.5 * (kl_p + kl_q)


def fitted_cls_weight(epoch: float, coefficients: Sequence[float]) -> float:
    """The classification loss's weight at an epoch: the polynomial
    ``sum c_i * epoch ** i``; the alignment loss weighs one minus it.

    Args:
        epoch (float): The epoch, counted from 0 (the authors' loop).
        coefficients (Sequence[float]): ``c_0, c_1, ...``.

    Returns:
        float: The weight.
    """
    return sum(c * epoch**i for i, c in enumerate(coefficients))


@MODELS.register_module()
class LFM(BaseBalancer):
    """LFM: the supervised loss and an alignment of the modalities'
    predictions, weighed by a schedule that learns the modality gap.

    The loss of a batch is ``2 * (w * loss_cls + (1 - w) * loss_align)``:
    ``loss_cls`` the head's loss on the fused feature, ``loss_align`` the
    authors' divergence (:func:`alignment_divergence`) between the uni-modal
    logits of the concatenation head's slices, averaged over the pairs of
    modalities, and ``w`` the authors' fitted schedule of the epoch
    (:func:`fitted_cls_weight`), 0.20 at the first epoch: alignment first,
    then more and more the labels. Prediction is unchanged (the authors'
    average of the uni-modal logits is the fused logits halved: the same
    classes).

    We follow the authors' ``Crema_epoch.py`` (the script their README
    runs): ``getAlpha_Learnable_Fitted`` and ``train_audio_video``. Their
    other script, ``Crema_epoch_learnable.py``, learns ``w`` before every
    epoch from a hypergradient on 8 held-out training samples; the fitted
    polynomial is that trajectory on CREMA-D, and this class does not
    implement the learnable rule. The authors' network has a linear head per
    encoder and classifies with the mean of their logits
    (``0.5 * o_v + 0.5 * o_a``); here the concatenation head's slices are
    those heads (plus half the bias each, so they add up to the fused
    logits) and ``loss_cls`` is the head's loss on their sum, as BalanceMM's
    ``LFMTrainer`` computes it on the fused output: the authors' loss on
    twice the logits. BalanceMM averages the divergence over the pairs of
    modalities (so LFM takes more than two) and learns ``w`` from a quarter
    of a validation batch, starting from a classification weight of 0.95
    (the authors' learnable script: 0.05).

    Every term is a mean over the samples; under DDP, which averages the
    gradients of ranks of equal batches, a step is therefore the one of a
    single process holding the whole batch without a further reduction.
    ``w`` depends on the epoch alone: identical on every rank and after a
    resume.

    Paper: Yang Yang et al., "Facilitating Multimodal Classification via
    Dynamically Learning Modality Gap", NeurIPS 2024.
    Code: https://github.com/njustkmg/NeurIPS24-LFM (``Crema_epoch.py``).
    BalanceMM: ``balancemm/trainer/LFM_trainer.py`` (``training_step``).

    Args:
        cls_weight_coefficients (Sequence[float]): Coefficients ``c_0,
            c_1, ...`` of the polynomial in the epoch of the classification
            loss's weight. Defaults to the authors' fitted ones
            (:data:`FITTED_CLS_WEIGHT`).
        epoch_scale (float): The polynomial is evaluated at ``(epoch - 1) *
            epoch_scale`` (epochs counted from 1): 1 for the authors' epochs
            (fitted over 200 of CREMA-D), ``200 / max_epochs`` to run
            their whole schedule in a shorter training. Defaults to 1.
        init_cfg (dict, optional): Initialisation config.
    """
    unimodal_logits_from = 'fused_head'

    def __init__(self,
                 cls_weight_coefficients: Sequence[float] = FITTED_CLS_WEIGHT,
                 epoch_scale: float = 1.0,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(cls_weight_coefficients) == 0:
            raise ValueError('LFM: cls_weight_coefficients must not be empty')
        if epoch_scale <= 0:
            raise ValueError(
                f'LFM: epoch_scale={epoch_scale} must be positive')
        self.cls_weight_coefficients = tuple(
            float(c) for c in cls_weight_coefficients)
        self.epoch_scale = epoch_scale

    def cls_weight(self) -> float:
        """float: The classification loss's weight in the current epoch."""
        return fitted_cls_weight((self.current_epoch() - 1) * self.epoch_scale,
                                 self.cls_weight_coefficients)

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The weighted classification and alignment losses.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls`` and ``loss_align`` (both
            weighted), the accuracies and ``lfm_cls_weight``.
        """
        cls_weight = self.cls_weight()
        losses = self.fused_loss(model, feats, data_samples)
        logits = list(model.unimodal_logits(feats, 'fused_head').values())
        pairs = list(combinations(logits, 2))
        alignment = sum(alignment_divergence(p, q)
                        for p, q in pairs) / len(pairs)
        losses['loss_cls'] = 2 * cls_weight * losses['loss_cls']
        losses['loss_align'] = 2 * (1 - cls_weight) * alignment
        losses['lfm_cls_weight'] = torch.tensor(cls_weight)
        return losses

    def extra_repr(self) -> str:
        return (f'cls_weight_coefficients={self.cls_weight_coefficients}, '
                f'epoch_scale={self.epoch_scale}')
