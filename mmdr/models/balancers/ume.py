from itertools import chain
from typing import TYPE_CHECKING, Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer, gt_labels

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


def ensemble_logits(logits: Dict[str, torch.Tensor]) -> torch.Tensor:
    """The uni-modal ensemble's class scores: the mean of the uni-modal
    models' logits, every modality weighing alike.

    Args:
        logits (dict[str, torch.Tensor]): Modality to (N, num_classes)
            logits of its own model.

    Returns:
        torch.Tensor: (N, num_classes) scores.
    """
    return torch.stack(list(logits.values())).mean(dim=0)


@MODELS.register_module()
class UME(BaseBalancer):
    """UME (Uni-Modal Ensemble): every encoder trained alone with its own
    head, the prediction the mean of the uni-modal heads' logits.

    Every encoder gets its own linear head (the recogniser's
    ``unimodal_head``); the training loss is the sum of the uni-modal cross
    entropies, with no fused loss, so no gradient crosses from one modality
    to another. The model predicts with :func:`ensemble_logits` of the
    uni-modal heads (:meth:`predict_scores`). The fusion and the fused head
    take no part: they are frozen when the model is built (before DDP wraps
    it, which would otherwise wait for their gradients) and keep their
    initial weights.

    Paper: Du et al., "On Uni-Modal Feature Learning in Supervised
    Multi-Modal Learning", ICML 2023: uni-modal models trained
    independently, their outputs averaged. BalanceMM
    (GeWu-Lab/BalanceBenchmark) has no UME and there is no code of the
    authors' to follow; this follows the paper. Uni-modal models trained in
    one recogniser and combined at test time are also the benchmark's
    ``alone`` runs ensembled, with the difference that model selection
    (``save_best``) here picks one epoch for the ensemble, not one per
    modality.

    Training the heads jointly is training them separately when nothing
    couples the modalities' updates: the losses reach disjoint parameters,
    and optimisers that update every tensor from its own gradient and state
    (SGD with momentum, Adam, both with weight decay, learning-rate
    schedules shared by all groups) then step every encoder exactly as a
    model of that modality alone would, on the same batches (tested). That
    holds for the shipped schedules ``adam_27e_constant.py`` (AV-Digits,
    Multiple Features) and ``sgd_90e.py`` (CREMA-D, Kinetics-Sounds,
    UCF-101). It does not hold for ``adam_40e_mult.py`` (CMU-MOSI, MOSEI):
    its gradient clipping by the norm over all parameters scales every
    modality by a factor that depends on all of them (set
    ``optim_wrapper.clip_grad=None``, or clip in per-modality parameter
    groups, to decouple them); nor under ``--amp`` with float16, whose one
    loss scale skips every modality's step when any overflows. Apart from
    that, the modalities share the data order and random augmentations of
    one run, where separate runs would draw their own.

    Args:
        init_cfg (dict, optional): Initialisation config.
    """
    unimodal_logits_from = 'unimodal_heads'

    def __init__(self, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)

    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Check the model and freeze its fusion and fused head.

        Freezing belongs to the build: DDP, which wraps the model before
        training starts, expects a gradient for every parameter that
        requires one.
        """
        super().check_model(model)
        for param in chain(model.fusion.parameters(),
                           model.cls_head.parameters()):
            param.requires_grad_(False)

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """One cross entropy per modality, of its own head.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_unimodal_<modality>`` per
            modality.
        """
        logits = model.unimodal_logits(feats, 'unimodal_heads')
        labels = gt_labels(data_samples, next(iter(logits.values())).device)
        return {
            f'loss_unimodal_{m}': F.cross_entropy(scores, labels)
            for m, scores in logits.items()
        }

    def predict_scores(self, model: 'MultiModalRecognizer',
                       feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The mean of the uni-modal heads' logits.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: (N, num_classes) scores.
        """
        return ensemble_logits(model.unimodal_logits(feats, 'unimodal_heads'))
