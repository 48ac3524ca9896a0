from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmaction.models.heads import BaseHead

from mmdr.registry import MODELS


@MODELS.register_module()
class LinearClsHead(BaseHead):
    """A linear classifier on a fused feature vector.

    Loss, top-k training accuracy, label smoothing and prediction packing
    come from mmaction2's :class:`BaseHead`, so metrics such as mmaction2's
    ``AccMetric`` read this head's predictions as they read any recogniser's.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Width of the fused feature; the recogniser fills
            it in from the fusion module.
        dropout (float): Dropout before the classifier. Defaults to 0.
        loss_cls (dict): Loss config. Defaults to cross entropy.
        topk (int or tuple[int]): Top-k accuracies logged in training.
            Defaults to ``(1, 5)``.
        init_std (float): Std of the normal initialisation of the weights.
            Defaults to 0.01.
        average_clips (str, optional): How predictions are scored:
            ``'prob'`` (softmax probabilities), ``'score'`` (logits) or
            None (logits with an extra clip dimension, which mmaction2's
            ``AccMetric`` cannot read). Defaults to ``'prob'``.
        kwargs: Further arguments of :class:`BaseHead`.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 dropout: float = 0.0,
                 loss_cls: Dict = dict(type='CrossEntropyLoss'),
                 topk: Union[int, Tuple[int]] = (1, 5),
                 init_std: float = 0.01,
                 average_clips: Optional[str] = 'prob',
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        if init_cfg is None:
            init_cfg = dict(
                type='Normal', layer='Linear', std=init_std, bias=0)
        super().__init__(
            num_classes=num_classes,
            in_channels=in_channels,
            loss_cls=loss_cls,
            topk=topk,
            average_clips=average_clips,
            init_cfg=init_cfg,
            **kwargs)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """Classify fused features.

        Args:
            x (torch.Tensor): Fused features of shape (N, in_channels).

        Returns:
            torch.Tensor: Class scores of shape (N, num_classes), in float32
            under autocast too (mmaction2's losses and metrics hand them to
            numpy, which has no bfloat16).
        """
        return self.fc_cls(self.dropout(x)).float()
