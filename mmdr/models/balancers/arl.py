from typing import TYPE_CHECKING, Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer, gt_labels

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


def prediction_sums(logits: torch.Tensor) -> torch.Tensor:
    """A modality's batch sums from which ARL estimates its bias and
    variance: the summed absolute logits and the summed entropies of the
    softmax predictions (``-sum p * log(p + 1e-16)`` per sample, as the
    code).

    Args:
        logits (torch.Tensor): (N, C) uni-modal logits.

    Returns:
        torch.Tensor: Shape (2, ), float32, without gradients.
    """
    logits = logits.detach().float()
    probs = F.softmax(logits, dim=1)
    entropies = torch.sum(-probs * torch.log(probs + 1e-16), dim=1)
    return torch.stack([logits.abs().sum(), entropies.sum()])


def asymmetric_coefficients(magnitudes: torch.Tensor, entropies: torch.Tensor,
                            temperature: float,
                            entropy_floor: float) -> torch.Tensor:
    """ARL's gradient coefficients of two modalities (the code's ``weight``).

    With each modality's mean entropy ``H`` (its variance) and mean summed
    absolute logit ``A`` (how much the model relies on it):
    ``h = max(H / sum(H), entropy_floor)``, ``v = (1 / h) / sum(1 / h)``,
    ``a = A / sum(A)``, and the coefficients are ``softmax(temperature *
    [a_1 * v_0, a_0 * v_1])``: a modality is reinforced the more, the lower
    its variance and the more the model relies on the other one.

    Args:
        magnitudes (torch.Tensor): Shape (2, ): the mean over the batch of
            the absolute logits summed over the classes.
        entropies (torch.Tensor): Shape (2, ): the mean entropy.
        temperature (float): The softmax's factor (the code's ``T``).
        entropy_floor (float): The least entropy share (the code's 0.3).

    Returns:
        torch.Tensor: Shape (2, ), summing to 1.
    """
    inverse = 1 / (entropies / entropies.sum()).clamp(min=entropy_floor)
    variance_weights = inverse / inverse.sum()
    magnitude_shares = magnitudes / magnitudes.sum()
    return F.softmax(
        magnitude_shares.flip(0) * variance_weights * temperature, dim=0)


class AmplifyGradient(torch.autograd.Function):
    """The identity, whose backward pass adds ``weight`` times the gradient
    to it (the code's ``GradScale``)."""

    @staticmethod
    def forward(ctx, feat: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(weight)
        return feat.view_as(feat)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        weight, = ctx.saved_tensors
        return grad + grad * weight, None


@MODELS.register_module()
class ARL(BaseBalancer):
    """Asymmetric Representation Learning: imbalanced optimisation of the
    modalities by the inverse ratio of their prediction variances.

    Every modality's uni-modal logits come from its slice of the
    concatenation head with the whole bias (the code's
    ``ConcatFusion_AUXI``: the head on the features with the other
    modality's replaced by zeros). The training loss is the fused loss plus
    ``gamma`` times the sum of the uni-modal cross entropies (the bias
    terms). Per batch, each modality's variance (the mean entropy of its
    predictions) and reliance (its mean summed absolute logit) give a
    coefficient ``w`` (:func:`asymmetric_coefficients`), and the gradient
    that reaches the modality's encoder through its features is ``(1 + w)``
    times what it would be (:class:`AmplifyGradient`). Before
    ``begin_epoch`` the uni-modal losses weigh 1 and no gradient is
    amplified (the code's warm-up). Prediction is unchanged.

    The code (``main_arl_variance.py``, ``train_epoch``) computes the
    coefficients but never stores them where its ``GradScale`` reads them
    (``args.audio_weight``, ``args.visual_weight``), which therefore keep
    the warm-up's 0.5 for both encoders; we apply them, as the paper
    describes, to the batch they are computed from (storing them as the
    code's structure suggests would apply each batch's to the next). The
    code amplifies the gradient at the encoders' last feature map, here at
    their output features: the same for every encoder parameter. Its
    condition that the last validation accuracies are not both zero is
    left out (they are not after the first epoch). Its gradient clipping
    (norm 40) belongs to ``optim_wrapper.clip_grad``.

    Under DDP the batch sums of the magnitudes and entropies and the
    number of samples are summed over the ranks before the coefficients
    (the code's DataParallel sees the whole batch); the amplified
    gradients are then averaged by DDP as any other. BalanceBenchmark's
    toolkit has no ARL.

    Paper: Wei, Luo and Luo, "Improving Multimodal Learning via Imbalanced
    Learning", ICCV 2025. Code: https://github.com/shicaiwei123/ICCV2025-ARL
    (``main_arl_variance.py``: ``train_epoch``; ``models/backbone.py``:
    ``GradScale``, ``ResNet_weight.forward``; ``models/fusion_modules.py``:
    ``ConcatFusion_AUXI``).

    Args:
        gamma (float): Weight of the uni-modal losses from ``begin_epoch``
            on. Defaults to 4.0 (the code's CREMA-D script; 3.0 for
            Kinetics-Sounds, 5.0 for AVE).
        temperature (float): The coefficients' softmax factor (the code's
            ``T``). Defaults to 8.0 (its default and CREMA-D script; 4.0
            for Kinetics-Sounds and AVE).
        entropy_floor (float): The least entropy share of a modality, in
            [0, 1]. Defaults to 0.3 (the code's).
        begin_epoch (int): First epoch of ARL, counted from 1. Defaults to
            7 (the code's ``epoch > start`` with ``start`` 5, counted from
            0).
        init_cfg (dict, optional): Initialisation config.
    """
    max_modalities = 2
    unimodal_logits_from = 'fused_head'

    def __init__(self,
                 gamma: float = 4.0,
                 temperature: float = 8.0,
                 entropy_floor: float = 0.3,
                 begin_epoch: int = 7,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if gamma < 0:
            raise ValueError(f'ARL: gamma={gamma} must not be negative')
        if not 0 <= entropy_floor <= 1:
            raise ValueError(
                f'ARL: entropy_floor={entropy_floor} must be in [0, 1]')
        self.gamma = gamma
        self.temperature = temperature
        self.entropy_floor = entropy_floor
        self.begin_epoch = begin_epoch

    def active(self) -> bool:
        """bool: Whether the current epoch is past the warm-up."""
        return self.in_epochs(self.begin_epoch)

    @staticmethod
    def unimodal_logits(
            model: 'MultiModalRecognizer',
            feats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Each modality's slice of the head with the whole bias: the head
        on the concatenation with the other features zeroed.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            dict[str, torch.Tensor]: Modality to (N, num_classes) logits.
        """
        bias = model.cls_head.fc_cls.bias
        return {
            m: F.linear(feats[m], weight, bias)
            for m, weight in model.fused_head_slices().items()
        }

    def coefficients(self, model: 'MultiModalRecognizer',
                     feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The batch's coefficients, from the sums of every rank.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: Shape (2, ), in the model's modality order.
        """
        with torch.no_grad():
            logits = self.unimodal_logits(model, {
                m: f.detach()
                for m, f in feats.items()
            })
            first = logits[model.modalities[0]]
            sums = torch.cat([
                torch.stack([
                    prediction_sums(logits[m]) for m in model.modalities
                ]).flatten(),
                first.new_tensor([first.shape[0]], dtype=torch.float32)
            ])
            all_reduce(sums)  # the code's DataParallel sees the whole batch
            means = sums[:-1].view(-1, 2) / sums[-1]
            return asymmetric_coefficients(means[:, 0], means[:, 1],
                                           self.temperature,
                                           self.entropy_floor)

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The fused loss plus the weighted uni-modal losses, on features
        whose gradients are amplified.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls``, accuracies,
            ``loss_unimodal_<modality>`` (weighted) and, from
            ``begin_epoch`` on, the logged ``arl_coeff_<modality>``.
        """
        active = self.active()
        logged = {}
        weight = 1.0
        if active:
            weight = self.gamma
            coeffs = self.coefficients(model, feats)
            amplified = {}
            for i, m in enumerate(model.modalities):
                amplified[m] = AmplifyGradient.apply(feats[m], coeffs[i])
                logged[f'arl_coeff_{m}'] = coeffs[i].clone()
            feats = amplified
        losses = self.fused_loss(model, feats, data_samples)
        labels = gt_labels(data_samples, losses['loss_cls'].device)
        for m, logits in self.unimodal_logits(model, feats).items():
            losses[f'loss_unimodal_{m}'] = weight * F.cross_entropy(
                logits, labels)
        losses.update(logged)
        return losses

    def extra_repr(self) -> str:
        return (f'gamma={self.gamma}, temperature={self.temperature}, '
                f'entropy_floor={self.entropy_floor}, '
                f'begin_epoch={self.begin_epoch}')
