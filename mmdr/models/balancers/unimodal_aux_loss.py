from typing import TYPE_CHECKING, Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer, gt_labels

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


@MODELS.register_module()
class UnimodalAuxLoss(BaseBalancer):
    """Joint training plus one cross-entropy loss per modality.

    Every encoder gets its own linear head (the recogniser's
    ``unimodal_head``); the training loss is the fused loss plus ``weight``
    times each uni-modal head's cross entropy. This simple baseline is the
    uni-modal loss that MMPareto and InfoReg add (InfoReg reports it as a
    separate row); papers of this line of work often leave it out of their
    comparisons.

    Args:
        weight (float or dict[str, float]): Weight of every uni-modal loss,
            or one per modality. Defaults to 1.
        init_cfg (dict, optional): Initialisation config.
    """
    unimodal_logits_from = 'unimodal_heads'

    def __init__(self,
                 weight: Union[float, Dict[str, float]] = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.weight = weight

    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Also check that per-modality weights name the encoders."""
        super().check_model(model)
        if isinstance(self.weight, dict) and set(self.weight) != set(
                model.modalities):
            raise ValueError(
                f'UnimodalAuxLoss: weight names {sorted(self.weight)}, the '
                f'model\'s modalities are {list(model.modalities)}')

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The fused loss plus one weighted loss per modality.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls``, accuracies and
            ``loss_unimodal_<modality>`` per modality.
        """
        losses = self.fused_loss(model, feats, data_samples)
        logits = model.unimodal_logits(feats, 'unimodal_heads')
        labels = gt_labels(data_samples, losses['loss_cls'].device)
        for m, scores in logits.items():
            weight = (
                self.weight[m]
                if isinstance(self.weight, dict) else self.weight)
            losses[f'loss_unimodal_{m}'] = weight * F.cross_entropy(
                scores, labels)
        return losses
