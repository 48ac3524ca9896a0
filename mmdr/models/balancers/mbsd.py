from itertools import combinations
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer, gt_labels

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


def pair_terms(first: torch.Tensor, second: torch.Tensor, labels: torch.Tensor,
               on_probabilities: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """MBSD's two regularisers of one pair of modalities, averaged over the
    samples (BalanceMM's ``loss_RS`` and ``loss_KL``).

    With p and q the two modalities' softmax probabilities of the true
    class, a sample weighs ``w = |p - q|`` if either modality classifies it
    correctly, 0 otherwise. The distance term is the mean squared
    difference of the two modalities' logits (``on_probabilities=False``,
    BalanceMM's two-modality branch) or probabilities (its three-modality
    branch); the divergence term is ``F.kl_div(max(p, q), min(p, q))``,
    i.e. ``min * (log min - max)``, which unlike a KL divergence may be
    negative (BalanceMM passes probabilities where ``kl_div`` takes a
    log-probability as its input). Gradients flow through the weights and
    both probabilities, as in BalanceMM.

    Args:
        first (torch.Tensor): (N, C) logits of one modality.
        second (torch.Tensor): (N, C) logits of the other.
        labels (torch.Tensor): (N, ) class indices.
        on_probabilities (bool): Whether the distance compares
            probabilities rather than logits.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: The weighted distance term and
        the weighted divergence term, scalars.
    """
    probs_first = F.softmax(first, dim=1)
    probs_second = F.softmax(second, dim=1)
    true_first = probs_first.gather(1, labels[:, None]).squeeze(1)
    true_second = probs_second.gather(1, labels[:, None]).squeeze(1)
    either_right = ((probs_first.argmax(dim=1) == labels) |
                    (probs_second.argmax(dim=1) == labels))
    weights = torch.where(either_right, (true_first - true_second).abs(),
                          torch.zeros_like(true_first))
    if on_probabilities:
        distance = (probs_first - probs_second).pow(2).mean(dim=1)
    else:
        distance = (first - second).pow(2).mean(dim=1)
    divergence = F.kl_div(
        torch.maximum(true_first, true_second),
        torch.minimum(true_first, true_second),
        reduction='none')
    num = labels.shape[0]
    return (weights * distance).sum() / num, (weights * divergence).sum() / num


@MODELS.register_module()
class MBSD(BaseBalancer):
    """MBSD: uni-modal losses, and between every pair of modalities a
    distance and a divergence weighted by how much more confident one
    modality is of the true class than the other.

    From ``begin_epoch`` to ``end_epoch`` (inclusive, counted from 1) the
    loss is the fused logits' cross entropy, plus the cross entropy of
    every modality's logits (the concatenation head's slices plus the bias
    share, through the recogniser's ``unimodal_logits(feats,
    'fused_head')``), plus the terms of :func:`pair_terms`: with two
    modalities those of the pair, on logits; with three or more the mean
    over the pairs, on probabilities. Outside these epochs the step is
    plain joint training. Prediction is unchanged.

    No code by the authors is public; we follow BalanceMM. Where it is
    broken or silent: its ``training_step`` calls
    ``model.Unimodality_Calculate()``, which its models do not define (they
    have ``unimodality_calculate``, which the forward pass has already
    run); we use the logits the forward pass computed. Its branch for more
    than two modalities reads only the first three; we average over all
    pairs and add every modality's cross entropy (the same for three).
    Where the two probabilities of the true class tie, BalanceMM's Python
    ``max``/``min`` route the gradient to the first modality,
    ``torch.maximum``/``minimum`` split it; the divergence's value and the
    weight (0) are the same.

    Every term is a mean over the samples, so DDP's average of the ranks'
    gradients is the whole batch's; nothing else is computed from the batch.

    Paper: MBSD as BalanceBenchmark (Xu et al., "BalanceBenchmark: A
    Survey for Multimodal Imbalance Learning", 2025) lists it. BalanceMM:
    ``balancemm/trainer/MBSD_trainer.py`` (``training_step``).

    Args:
        begin_epoch (int): First epoch with the uni-modal losses and the
            regularisers, counted from 1 (BalanceMM's ``modulation_starts``
            0). Defaults to 1.
        end_epoch (int, optional): Last one; None: to the end of training
            (BalanceMM: its epochs 0 to 80, the whole run). Defaults to
            None.
        init_cfg (dict, optional): Initialisation config.
    """
    unimodal_logits_from = 'fused_head'

    def __init__(self,
                 begin_epoch: int = 1,
                 end_epoch: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.begin_epoch = begin_epoch
        self.end_epoch = end_epoch

    def active(self) -> bool:
        """bool: Whether the current epoch is regularised."""
        return self.in_epochs(self.begin_epoch, self.end_epoch)

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The fused loss, the uni-modal losses and the pairs' terms.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls``, accuracies, and while
            active ``loss_<modality>`` per modality, ``loss_rs`` (the
            distance term) and ``loss_kl`` (the divergence term).
        """
        losses = self.fused_loss(model, feats, data_samples)
        if not self.active():
            return losses
        logits = model.unimodal_logits(feats, 'fused_head')
        for m, modality_logits in logits.items():
            losses[f'loss_{m}'] = model.cls_head.loss_by_feat(
                modality_logits, data_samples)['loss_cls']
        labels = gt_labels(data_samples, feats[model.modalities[0]].device)
        pairs = list(combinations(model.modalities, 2))
        terms = [
            pair_terms(logits[a], logits[b], labels,
                       len(pairs) > 1) for a, b in pairs
        ]
        losses['loss_rs'] = sum(t[0] for t in terms) / len(pairs)
        losses['loss_kl'] = sum(t[1] for t in terms) / len(pairs)
        return losses

    def extra_repr(self) -> str:
        return f'epochs {self.begin_epoch}-{self.end_epoch or "end"}'
