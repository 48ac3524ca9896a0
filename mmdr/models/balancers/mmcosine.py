from typing import TYPE_CHECKING, Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


def cosine_logits(feats: Dict[str, torch.Tensor], weights: Dict[str,
                                                                torch.Tensor],
                  scaling: float) -> Dict[str, torch.Tensor]:
    """MMCosine's uni-modal logits: scaled cosines between each sample's
    feature and each class's weight, modality by modality.

    ``scaling * normalize(f_m) @ normalize(W_m).T``, where every feature
    row and every class row of the modality's weight slice is L2-normalised
    (the authors' ``F.normalize(a, dim=1)`` and ``F.normalize(W.T, dim=0)``);
    no bias takes part.

    Args:
        feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
        weights (dict[str, torch.Tensor]): (num_classes, D_m) weight slice
            per modality.
        scaling (float): The scale of the cosines.

    Returns:
        dict[str, torch.Tensor]: Modality to (N, num_classes) logits.
    """
    return {
        m:
        scaling *
        F.normalize(feats[m], dim=1) @ F.normalize(weights[m], dim=1).t()
        for m in feats
    }


@MODELS.register_module()
class MMCosine(BaseBalancer):
    """Multi-modal cosine loss: cosine-normalised uni-modal logits.

    Each modality's logits are the cosines between its feature and the class
    rows of its slice of the concatenation head's weight, times
    ``scaling``; their sum replaces the head's output, as the training
    logits (cross entropy through the head's loss) and as the class scores
    the model predicts with. Normalising features and weights per modality
    keeps the dominant modality from winning through larger norms alone.

    The head's bias takes no part, as in the authors' code, whose optimiser
    then never changes it (it has no gradient); it is frozen when the model
    is built, so that it keeps its initial value here too and DDP does not
    wait for a gradient it never gets. The head's dropout, if any, is not
    applied (the authors' head has none). Any number of modalities is
    summed (the authors' code has two, BalanceMM's three).

    Paper: Xu et al., "MMCosine: Multi-Modal Cosine Loss Towards Balanced
    Audio-Visual Fine-Grained Learning", ICASSP 2023. Code:
    https://github.com/GeWu-Lab/MMCosine_ICASSP23 (``main_CD.py``,
    ``train_epoch``; prediction as ``main_vox2.py``'s ``valid``).

    Args:
        scaling (float): The scale of the cosines (the code's ``--scaling``;
            10 is its default and the README's command; BalanceMM uses 15).
            Defaults to 10.
        init_cfg (dict, optional): Initialisation config.
    """
    unimodal_logits_from = 'fused_head'

    def __init__(self,
                 scaling: float = 10.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if scaling <= 0:
            raise ValueError(f'MMCosine: scaling={scaling} must be positive')
        self.scaling = scaling

    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Check the head, and freeze its bias, which MMCosine leaves out."""
        super().check_model(model)
        bias = model.cls_head.fc_cls.bias
        if bias is not None:
            bias.requires_grad_(False)

    def cosine_scores(self, model: 'MultiModalRecognizer',
                      feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The summed uni-modal cosine logits.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: (N, num_classes) scores, float32 (as the head's,
            under autocast too).
        """
        logits = cosine_logits(feats, model.fused_head_slices(), self.scaling)
        return sum(logits.values()).float()

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The head's loss on the cosine scores.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls`` and accuracies.
        """
        return model.cls_head.loss_by_feat(
            self.cosine_scores(model, feats), data_samples)

    def predict_scores(self, model: 'MultiModalRecognizer',
                       feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The cosine scores, also in prediction.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: (N, num_classes) scores.
        """
        return self.cosine_scores(model, feats)

    def extra_repr(self) -> str:
        return f'scaling={self.scaling}'
