from functools import partial
from itertools import combinations
from math import factorial
from typing import TYPE_CHECKING, Dict, FrozenSet, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer, gt_labels

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer

#: The smallest true-class probability a score takes (the authors' 1e-8).
MIN_PROBABILITY = 1e-8


def shapley_contributions(
        coalition_logits: Dict[FrozenSet[str], torch.Tensor],
        modalities: Sequence[str]) -> Dict[str, torch.Tensor]:
    """AGM's mono-modal outputs: each modality's Shapley value of the
    model's logits, the empty coalition counting zero.

    ``coalition_logits[S]`` is the model's output with the inputs of every
    modality outside ``S`` replaced by zeros. For modality ``i`` the output
    is ``sum over S not holding i of |S|! (n - |S| - 1)! / n! * (v(S + i) -
    v(S))`` with ``v(empty) = 0``, so the outputs add up to the full
    coalition's logits. With two modalities this is the authors'
    ``0.5 * (total - pad_i + pad_other)``, with three their
    ``(total - pad_i + only_i) / 3 + (...) / 6`` (``Modality_Audio``,
    ``Modality_Visual``, ``Modality_Text``).

    Args:
        coalition_logits (dict[frozenset[str], torch.Tensor]): (N, C)
            logits of every non-empty coalition.
        modalities (Sequence[str]): All modalities.

    Returns:
        dict[str, torch.Tensor]: Modality to its (N, C) output.
    """
    n = len(modalities)
    contributions = {}
    for m in modalities:
        others = [o for o in modalities if o != m]
        total = 0
        for size in range(n):
            weight = factorial(size) * factorial(n - 1 - size) / factorial(n)
            for coalition in combinations(others, size):
                gain = coalition_logits[frozenset((*coalition, m))]
                if coalition:
                    gain = gain - coalition_logits[frozenset(coalition)]
                total = total + weight * gain
        contributions[m] = total
    return contributions


def true_class_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample negative log softmax probability of the true class, the
    probability floored at 1e-8 (the authors' score of a modality).

    Args:
        logits (torch.Tensor): (N, C) logits.
        labels (torch.Tensor): (N, ) class indices.

    Returns:
        torch.Tensor: Shape (N, ).
    """
    probability = F.softmax(logits, dim=1).gather(1, labels[:, None])[:, 0]
    return -torch.log(probability.clamp(min=MIN_PROBABILITY))


def modulation_coefficients(scores: torch.Tensor,
                            average_scores: torch.Tensor,
                            alpha: float,
                            max_gap: Optional[float] = None) -> torch.Tensor:
    """AGM's gradient coefficient per modality.

    With the batch's scores ``s`` (mean negative log-likelihoods) the ratio
    of modality ``i`` is ``exp(mean_{j != i} s_j - s_i)`` and its target the
    same of the running averages; the coefficient is
    ``exp(alpha * min(target_i - ratio_i, max_gap))``. With two modalities
    this is the authors' ``exp(score_v - score_a)`` (CREMA-D), with three
    their ``exp((mean - score_i) * 3 / 2)`` (UR-Funny).

    Args:
        scores (torch.Tensor): (M, ) the batch's scores.
        average_scores (torch.Tensor): (M, ) the running averages before
            this batch.
        alpha (float): Modulation strength.
        max_gap (float, optional): Cap of ``target - ratio``; None: none.

    Returns:
        torch.Tensor: (M, ) coefficients, float64.
    """

    def ratios(values: torch.Tensor) -> torch.Tensor:
        values = values.double()
        others = (values.sum() - values) / (len(values) - 1)
        if len(values) == 2:  # exactly the other one's, as the code has it
            others = values.flip(0)
        return torch.exp(others - values)

    gap = ratios(average_scores) - ratios(scores)
    if max_gap is not None:
        gap = gap.clamp(max=max_gap)
    return torch.exp(alpha * gap)


def update_running_average(average: torch.Tensor, value: torch.Tensor,
                           count: int) -> torch.Tensor:
    """The authors' running average of the scores over all iterations so
    far: ``average * (t - 1) / t + value / t`` at the ``t``-th batch.

    Args:
        average (torch.Tensor): The average of the first ``count - 1``
            batches.
        value (torch.Tensor): The ``count``-th batch's value.
        count (int): ``t``, counted from 1.

    Returns:
        torch.Tensor: The new average.
    """
    return average * (count - 1) / count + value / count


class _ScaleGradient(torch.autograd.Function):
    """Identity forward, gradient times a constant backward (the authors'
    full backward hook on ``Modality_out``)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad.clone() * ctx.scale, None


@MODELS.register_module()
class AGM(BaseBalancer):
    """Adaptive Gradient Modulation.

    Per batch, besides the training pass, the model runs in eval mode once
    per proper non-empty coalition of modalities, with the inputs of the
    other modalities replaced by zeros (the authors pad the raw inputs and
    run the whole network, encoders included, in ``net.eval()``, with
    gradients). Each modality's output is its Shapley value of these logits
    (:func:`shapley_contributions`); the training loss is the head's loss on
    their sum, and the gradient reaching each modality's output is scaled by
    its coefficient (:func:`modulation_coefficients`: how far the batch's
    score ratio lies from the ratio of the running averages). The scores
    are the mean negative log-likelihoods of the true class under each
    output; their running average over all batches so far
    (:func:`update_running_average`) is updated after the coefficients.
    When any element of the gradient of the head's last linear layer lies
    outside ``[-head_grad_clip, head_grad_clip]`` all gradients are clipped
    to that total norm before the step (the authors' ``clip_grad_norm_``).

    Modulation is active in the epochs ``begin_epoch`` to ``end_epoch``
    (inclusive, counted from 1 as the code's epochs are); outside them the
    step is plain joint training, while the scores and their average still
    follow every batch. After ``modulation_ends`` the authors' hooks keep
    the last coefficients in a branch their comment calls "normal"
    training; we follow the comment.

    The encoders hand their training-pass inputs to the balancer through
    forward pre-hooks registered when the model is built, since
    :meth:`loss` receives features only; each encoder then runs twice more
    in eval mode, on its input and on zeros, and the coalitions share these
    outputs (the values and gradients of the authors' separate passes; the
    all-padded pass, which no loss uses, is left out). The scores floor the
    true-class probability at 1e-8 as the two-modality scripts do (UR-Funny
    has no floor).

    The running averages and their count are buffers: checkpoints resume
    them. Under DDP the scores (sums and counts) are summed over the ranks
    before use, so the coefficients and averages are the whole batch's, as
    the authors' DataParallel computes them, and equal on every rank.

    BalanceMM's ``AGMTrainer`` differs from the authors' code: its padded
    passes run without gradients and it scales the encoders' non-bias
    gradients after the backward pass, its ratio has the opposite sign
    (``exp(n / (n - 1) * (s_i - mean))``), its Shapley sum leaves out the
    empty coalition's term, and it caps at 7 and clips at 5; we follow the
    authors.

    Paper: Li, Li, Hu, Lei, Li, Zhou, "Boosting Multi-modal Model
    Performance with Adaptive Gradient Modulation", ICCV 2023. Code:
    https://github.com/lihong2303/AGM_ICCV2023 (``run/CREMAD_main.py`` and
    ``model/CREMAD_net.py`` (``GradMod``) for two modalities,
    ``run/URFunny_main.py`` and ``model/URFunny_net.py`` for three; any
    number of modalities here, by the Shapley weights that give both).

    Args:
        alpha (float): Modulation strength. Defaults to 1.0 (the code's
            default).
        begin_epoch (int): First modulated epoch. Defaults to 1.
        end_epoch (int): Last modulated epoch. Defaults to 20 (the code's
            ``modulation_starts=0``, ``modulation_ends=20``).
        max_gap (float, optional): Cap of the exponent's ratio gap. Defaults
            to 10 (CREMA-D; UR-Funny uses 7, the other scripts none: None).
        head_grad_clip (float, optional): Threshold and clipping norm of the
            gradients. Defaults to 1.0 (CREMA-D, AV-MNIST; UR-Funny uses 5);
            None: no clipping.
        init_cfg (dict, optional): Initialisation config.
    """
    modulates_gradients = True

    def __init__(self,
                 alpha: float = 1.0,
                 begin_epoch: int = 1,
                 end_epoch: int = 20,
                 max_gap: Optional[float] = 10.0,
                 head_grad_clip: Optional[float] = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if alpha < 0:
            raise ValueError(f'AGM: alpha={alpha} must not be negative')
        if head_grad_clip is not None and head_grad_clip <= 0:
            raise ValueError(f'AGM: head_grad_clip={head_grad_clip} must be '
                             'positive (or None: no clipping)')
        self.alpha = alpha
        self.begin_epoch = begin_epoch
        self.end_epoch = end_epoch
        self.max_gap = max_gap
        self.head_grad_clip = head_grad_clip
        self.register_buffer('num_batches', torch.zeros((), dtype=torch.long))
        # Each encoder's input of the current training pass (see
        # check_model): the coalitions rerun the encoders on it.
        self._inputs: Dict[str, torch.Tensor] = {}

    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Check the model, register the running averages (one per
        modality, float64 as the code's Python floats) and have every
        encoder hand its training input to this balancer.

        Args:
            model (MultiModalRecognizer): The recogniser being built.
        """
        super().check_model(model)
        if getattr(model.cls_head, 'num_classes', None) is None:
            raise ValueError(
                'AGM scores each modality by the softmax probability of the '
                f'true class; {type(model.cls_head).__name__} predicts no '
                'classes (use a classification head)')
        if (self.head_grad_clip is not None and not isinstance(
                getattr(model.cls_head, 'fc_cls', None), torch.nn.Linear)):
            raise ValueError(
                f'AGM(head_grad_clip={self.head_grad_clip}) watches the '
                "gradient of the head's last linear layer (fc_cls), which "
                f'{type(model.cls_head).__name__} lacks; set '
                'head_grad_clip=None')
        self.register_buffer(
            'average_scores',
            torch.zeros(len(model.modalities), dtype=torch.float64))
        for m, encoder in model.encoders.items():
            encoder.register_forward_pre_hook(partial(self._keep_input, m))

    def _keep_input(self, modality: str, encoder: torch.nn.Module,
                    args: tuple) -> None:
        # Only the training pass: the coalitions run in eval mode, and
        # prediction and analysis need nothing kept.
        if encoder.training and torch.is_grad_enabled():
            self._inputs[modality] = args[0]

    def active(self) -> bool:
        """bool: Whether the current epoch is modulated."""
        return self.in_epochs(self.begin_epoch, self.end_epoch)

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The head's loss on the summed, gradient-scaled Shapley outputs
        (the fused loss outside the modulated epochs).

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality,
                from this training pass.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls``, accuracies, and the
            logged scores and coefficients per modality (the coefficients
            as computed; applied only in the modulated epochs).
        """
        self.check_step_owner()
        inputs, self._inputs = self._inputs, {}
        modalities = model.modalities
        if set(inputs) != set(modalities):
            raise RuntimeError(
                'AGM reruns the encoders on the batch with inputs zeroed, '
                'so it needs the inputs of the training pass: compute the '
                "loss through the model (model(inputs, data_samples, "
                "mode='loss') or train_step), not balancer.loss alone")
        active = self.active()
        full_logits = model.cls_head(model.fusion(feats))
        with torch.set_grad_enabled(active and torch.is_grad_enabled()):
            coalition_logits = self._coalition_logits(model, inputs)
        coalition_logits[frozenset(modalities)] = (
            full_logits if active else full_logits.detach())
        contributions = shapley_contributions(coalition_logits, modalities)

        labels = gt_labels(data_samples, full_logits.device)
        with torch.no_grad():
            scores = self._batch_scores(contributions, labels, modalities)
            coeffs = modulation_coefficients(scores, self.average_scores,
                                             self.alpha, self.max_gap)
            self.num_batches += 1
            self.average_scores.copy_(
                update_running_average(self.average_scores, scores,
                                       int(self.num_batches)))
        if active:
            fused = sum(
                _ScaleGradient.apply(contributions[m], c)
                for m, c in zip(modalities, coeffs.tolist()))
        else:
            fused = full_logits
        losses = model.cls_head.loss_by_feat(fused, data_samples)
        for i, m in enumerate(modalities):
            losses[f'agm_score_{m}'] = scores[i].float()
            losses[f'agm_coeff_{m}'] = coeffs[i].float()
        return losses

    @staticmethod
    def _coalition_logits(
            model: 'MultiModalRecognizer',
            inputs: Dict[str,
                         torch.Tensor]) -> Dict[FrozenSet[str], torch.Tensor]:
        """The logits of every proper non-empty coalition, the model in
        eval mode, absent modalities' inputs zeroed.

        An encoder's eval-mode output on its input (or on zeros) is the same
        in every coalition, so each encoder runs twice, not once per
        coalition; the values and gradients are those of separate passes.
        """
        modalities = model.modalities
        was_training = model.training
        model.train(False)
        try:
            present = {m: model.encoders[m](inputs[m]) for m in modalities}
            absent = {
                m: model.encoders[m](torch.zeros_like(inputs[m]))
                for m in modalities
            }
            logits = {}
            for size in range(1, len(modalities)):
                for coalition in combinations(modalities, size):
                    feats = {
                        m: present[m] if m in coalition else absent[m]
                        for m in modalities
                    }
                    logits[frozenset(coalition)] = model.cls_head(
                        model.fusion(feats))
        finally:
            model.train(was_training)
        return logits

    @staticmethod
    def _batch_scores(contributions: Dict[str,
                                          torch.Tensor], labels: torch.Tensor,
                      modalities: Sequence[str]) -> torch.Tensor:
        """Each modality's mean true-class negative log-likelihood over the
        whole batch: sums and counts summed over the ranks."""
        sums = torch.stack([
            true_class_nll(contributions[m].detach(), labels).sum()
            for m in modalities
        ])
        count = sums.new_tensor(float(len(labels)))
        totals = torch.cat([sums, count[None]])
        all_reduce(totals)  # sum over ranks: the whole batch's scores
        return (totals[:-1] / totals[-1]).double()

    def before_optimizer_step(self, model: 'MultiModalRecognizer') -> None:
        """Clip all gradients to ``head_grad_clip`` when the head's weight
        gradient has an element beyond it (the authors' rule, every epoch).

        Args:
            model (MultiModalRecognizer): The recogniser.
        """
        if self.head_grad_clip is None:
            return
        grad = model.cls_head.fc_cls.weight.grad
        if grad is None:
            return
        if grad.max() > self.head_grad_clip or grad.min(
        ) < -self.head_grad_clip:
            torch.nn.utils.clip_grad_norm_(
                model.parameters(), max_norm=self.head_grad_clip)

    def extra_repr(self) -> str:
        return (f'alpha={self.alpha}, epochs {self.begin_epoch}-'
                f'{self.end_epoch}, max_gap={self.max_gap}, '
                f'head_grad_clip={self.head_grad_clip}')
