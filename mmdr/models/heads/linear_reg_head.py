from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS

_LOSSES = dict(l1=F.l1_loss, mse=F.mse_loss, smooth_l1=F.smooth_l1_loss)


@MODELS.register_module()
class LinearRegHead(BaseModule):
    """A linear regressor of one score (e.g. sentiment) on a fused feature.

    A drop-in for :class:`LinearClsHead` in :class:`MultiModalRecognizer`.
    The target of each sample is a float read from its metainfo under
    ``target_key`` (``sample.sentiment``). Predictions are stored as
    mmaction2's ``ActionDataSample`` stores them: ``pred_scores.item`` is a
    tensor of shape (1, ) holding the regressed score, and
    ``pred_labels.item`` is 1 for a score >= 0, else 0 (the binary
    sentiment of CMU-MOSI/MOSEI).

    The head has no ``num_classes``: ``ModalityCheckHook`` does not compare
    it with the data's classes, and D&R takes k from the validation data
    set's classes (the binarised sentiment of CMU-MOSI/MOSEI: 2) or from its
    ``num_clusters``.

    Args:
        in_channels (int): Width of the fused feature; the recogniser fills
            it in from the fusion module.
        dropout (float): Dropout before the regressor. Defaults to 0.
        loss (str): ``'l1'`` (MulT's), ``'mse'`` or ``'smooth_l1'``, the
            mean of PyTorch's losses. Defaults to ``'l1'``.
        target_key (str): Metainfo key of the target. Defaults to
            ``'sentiment'``.
        init_cfg (dict or list[dict], optional): Initialisation config.
            None means a normal (std 0.01) weight and zero bias, as
            :class:`LinearClsHead`.
    """

    def __init__(self,
                 in_channels: int,
                 dropout: float = 0.0,
                 loss: str = 'l1',
                 target_key: str = 'sentiment',
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if init_cfg is None:
            init_cfg = dict(type='Normal', layer='Linear', std=0.01, bias=0)
        super().__init__(init_cfg=init_cfg)
        if loss not in _LOSSES:
            raise ValueError(f'loss must be one of {sorted(_LOSSES)}, got '
                             f'{loss!r}')
        self.in_channels = in_channels
        self.loss_type = loss
        self.target_key = target_key
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc_reg = nn.Linear(in_channels, 1)

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """Regress scores from fused features.

        Args:
            x (torch.Tensor): Fused features of shape (N, in_channels).

        Returns:
            torch.Tensor: Scores of shape (N, 1), in float32 under autocast
            too (the metrics hand them to numpy, which has no bfloat16).
        """
        return self.fc_reg(self.dropout(x)).float()

    def targets(self, data_samples: List[BaseDataElement],
                scores: torch.Tensor) -> torch.Tensor:
        """Collect the samples' float targets.

        Args:
            data_samples (list[ActionDataSample]): Annotations holding
                ``target_key`` in their metainfo.
            scores (torch.Tensor): The (N, ) scores they are compared with.

        Returns:
            torch.Tensor: Shape (N, ), float32, on the scores' device.
        """
        # A length mismatch would broadcast silently in the loss.
        if len(data_samples) != len(scores):
            raise ValueError(f'LinearRegHead: {len(scores)} scores but '
                             f'{len(data_samples)} data samples')
        values = []
        for i, sample in enumerate(data_samples):
            value = sample.get(self.target_key)
            if value is None:
                raise KeyError(
                    f'LinearRegHead: data sample {i} has no '
                    f'{self.target_key!r} (target_key); its metainfo keys '
                    f'are {sorted(sample.metainfo_keys())}')
            value = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
            if value.numel() != 1:
                raise ValueError(
                    f'LinearRegHead: the {self.target_key!r} of data sample '
                    f'{i} holds {value.numel()} values, not one')
            values.append(value)
        return torch.cat(values).to(scores.device)

    def loss(self, feats: torch.Tensor, data_samples: List[BaseDataElement],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Compute the regression loss.

        Args:
            feats (torch.Tensor): Fused features of shape (N, in_channels).
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_reg``.
        """
        scores = self(feats).squeeze(1)
        targets = self.targets(data_samples, scores)
        return dict(loss_reg=_LOSSES[self.loss_type](scores, targets))

    def predict(self, feats: torch.Tensor, data_samples: List[BaseDataElement],
                **kwargs) -> List[BaseDataElement]:
        """Regress the scores and store them in the samples.

        Args:
            feats (torch.Tensor): Fused features of shape (N, in_channels).
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            list[ActionDataSample]: As :meth:`predict_by_feat`.
        """
        return self.predict_by_feat(self(feats), data_samples)

    def predict_by_feat(self, scores: torch.Tensor,
                        data_samples: List[BaseDataElement],
                        **kwargs) -> List[BaseDataElement]:
        """Store regressed scores in the samples (mmaction2's head API).

        Args:
            scores (torch.Tensor): Shape (N, 1).
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            list[ActionDataSample]: The same samples, with ``pred_scores``
            (the score, shape (1, )) and ``pred_labels`` (1 if the score is
            >= 0, else 0) set.
        """
        scores = scores.detach()
        if len(data_samples) != len(scores):
            raise ValueError(f'LinearRegHead: {len(scores)} scores but '
                             f'{len(data_samples)} data samples')
        for sample, score in zip(data_samples, scores):
            sample.set_pred_score(score)
            sample.set_pred_label(int(score.item() >= 0))
        return data_samples
