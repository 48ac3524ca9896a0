import math
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import is_model_wrapper
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer, gt_labels, true_class_scores

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


def acquisition_rate(history: Sequence[float], epochs_recorded: int) -> float:
    """The relative growth of a modality's Fisher-information trace: the
    authors' ``k``.

    With the traces of the last ``W + 1`` epochs ``h`` (the oldest first,
    zeros before the first epoch) it is ``(mean(h[1:]) - mean(h[:-1])) /
    mean(h[1:])``, the change of the ``W``-epoch moving average relative to
    its new value. Before the first epoch has been recorded it is 1 (the
    code's ``epoch == 0``).

    Args:
        history (Sequence[float]): The last ``W + 1`` epochs' traces.
        epochs_recorded (int): Epochs whose trace is in ``history``.

    Returns:
        float: The rate; 0 where the newest average is 0 (no information
        acquired, where the code would divide by zero).
    """
    if epochs_recorded == 0:
        return 1.0
    window = len(history) - 1
    # Python sums of Python floats, as the code's lists.
    newest = sum(history[1:]) / window
    previous = sum(history[:-1]) / window
    if newest == 0:
        return 0.0
    return (newest - previous) / newest


def regulation_coefficients(scores: torch.Tensor,
                            strengths: Sequence[float]) -> torch.Tensor:
    """The proximal coefficients of one batch (the authors' ``beta`` and
    ``beta2``).

    The modality with the higher score gets ``strength * exp(tanh(s_dom -
    s_other))``, the other 0; a tie regulates neither.

    Args:
        scores (torch.Tensor): Shape (2, ): each modality's summed softmax
            probability of the true class over the batch.
        strengths (Sequence[float]): Each modality's strength (the code's
            0.95 for audio, 0.1 for visual).

    Returns:
        torch.Tensor: Shape (2, ), in the dtype of ``scores``.
    """
    coeffs = torch.zeros_like(scores)
    if scores[0] == scores[1]:
        return coeffs
    dominant = int(scores[1] > scores[0])
    gap = torch.tanh(scores[dominant] - scores[1 - dominant])
    coeffs[dominant] = strengths[dominant] * torch.exp(gap)
    return coeffs


def fisher_weights(encoder: nn.Module) -> List[nn.Parameter]:
    """The weights whose squared gradients make a modality's trace: every
    trainable convolution and linear layer's (the code's ``Conv2d`` and
    ``Linear`` modules of ``audio_net``; convolutions of any dimension
    here).

    Args:
        encoder (nn.Module): A modality's encoder.

    Returns:
        list[nn.Parameter]: The weights, in module order.
    """
    return [
        module.weight for module in encoder.modules()
        if isinstance(module, (nn.modules.conv._ConvNd,
                               nn.Linear)) and module.weight.requires_grad
    ]


def fisher_trace_of_step(weights: Sequence[nn.Parameter]) -> float:
    """One step's part of the empirical Fisher trace: the sum over layers
    of the mean squared gradient of the weight.

    Args:
        weights (Sequence[nn.Parameter]): The weights, with gradients.

    Returns:
        float: The sum (Python float); weights without a gradient add 0.
    """
    return sum(
        (w.grad * w.grad).mean().item() for w in weights if w.grad is not None)


@MODELS.register_module()
class InfoReg(BaseBalancer):
    """Information Acquisition Regulation: slow the information-sufficient
    modality down while it is still in its prime learning window.

    Per step, the loss is the fused loss plus one cross entropy per modality
    on its slice of the concatenation head (bias shared equally). The
    modality whose summed true-class probability over the batch is higher
    (the scores of OGM-GE) is regulated by a proximal term toward its
    encoder's parameters at the start of the epoch: ``beta * (theta -
    theta_epoch_start)`` is added to every gradient of its encoder, with
    ``beta = strength * exp(tanh(s_dominant - s_other))``. It is regulated
    only while its information acquisition is fast: the relative growth
    ``k`` (:func:`acquisition_rate`) of the ``trace_window``-epoch moving
    average of its Fisher-information trace exceeds ``window_threshold``.
    The trace of an epoch is the sum over the encoder's convolution and
    linear layers of the mean of the squared gradients (after the proximal
    term, as the code accumulates them) summed over the epoch's steps.

    What is computed when:

    - per step (:meth:`loss`, :meth:`before_optimizer_step`): the scores,
      ``beta``, the proximal term, the step's part of each trace;
    - per epoch (:meth:`before_train_epoch`, through ``BalancerHook``): the
      finished epoch's traces join the history, ``k`` is computed, and the
      encoders' parameters are copied as the proximal anchor (the code's
      ``global_model = deepcopy(model)``).

    Under DDP the scores are summed over the ranks before ``beta`` (the
    authors' DataParallel sees the whole batch); the traces are read from
    gradients DDP has already averaged, so every rank holds the same.
    Everything that lives across steps is a buffer, saved in checkpoints
    and resumed: the anchors (``anchor_<modality>``, flat), the running
    traces of the epoch (``epoch_traces``), the trace history
    (``trace_history``, zeros before the first epoch as the code's
    ten-zero lists), ``epochs_recorded``, the epoch being trained
    (``anchored_epoch``) and its rates (``rates``).

    The trace sums each step's per-layer means of the squared gradients,
    where the code sums the squares over the epoch and takes the means at
    its end: equal up to rounding, without a copy of every weight. Where the
    newest average trace is 0 the code divides by zero; here the window is
    closed (``k = 0``).

    Where the code is tied to its audio-visual data, this class is not:
    the code computes ``k`` from the audio trace alone and uses it for
    either modality; here each modality's own trace gates its regulation
    (``window_modality`` names one modality's trace to gate both, as the
    code: ``'audio'``). The code's strengths, 0.95 for audio and 0.1 for
    visual, are a dict ``strength``; one float applies to either.

    A step trains on one batch: ``optim_wrapper.accumulative_counts`` other
    than 1 is refused. BalanceBenchmark's toolkit has no InfoReg.

    Paper: Huang, Wei, Yang and Hu, "Adaptive Unimodal Regulation for
    Balanced Multimodal Information Acquisition", CVPR 2025.
    Code: https://github.com/GeWu-Lab/InfoReg_CVPR2025 (``main.py``:
    ``train_epoch``, ``main``).

    Args:
        strength (float or dict[str, float]): The factor of ``beta`` of the
            regulated modality, one for both or one per modality. Defaults
            to 0.95 (the code's, for its dominant audio).
        window_threshold (float): ``k`` above which the prime learning
            window is open. Defaults to 0.05.
        trace_window (int): Epochs of the traces' moving average.
            Defaults to 10.
        window_modality (str, optional): The modality whose ``k`` gates
            the regulation of both; None: each modality's own. Defaults to
            None.
        init_cfg (dict, optional): Initialisation config.
    """
    max_modalities = 2
    unimodal_logits_from = 'fused_head'
    modulates_gradients = True

    def __init__(self,
                 strength: Union[float, Dict[str, float]] = 0.95,
                 window_threshold: float = 0.05,
                 trace_window: int = 10,
                 window_modality: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        strengths = (
            strength.values() if isinstance(strength, dict) else [strength])
        if not all(isinstance(s, (int, float)) and s >= 0 for s in strengths):
            raise ValueError(f'InfoReg: strength={strength!r} must be '
                             'non-negative, a number or one per modality')
        if not (isinstance(trace_window, int) and trace_window >= 1):
            raise ValueError(f'InfoReg: trace_window={trace_window!r} must '
                             'be a positive integer')
        if not isinstance(window_threshold, (int, float)):
            raise ValueError(f'InfoReg: window_threshold={window_threshold!r}'
                             ' must be a number')
        self.strength = strength
        self.window_threshold = window_threshold
        self.trace_window = trace_window
        self.window_modality = window_modality
        self.register_buffer('epochs_recorded',
                             torch.zeros((), dtype=torch.long))
        self.register_buffer('anchored_epoch', torch.zeros((),
                                                           dtype=torch.long))
        # The batch's coefficients, from loss() to before_optimizer_step().
        self._coeffs: Optional[torch.Tensor] = None

    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Check the model and register the buffers its size sets.

        Args:
            model (MultiModalRecognizer): The recogniser being built.
        """
        super().check_model(model)
        modalities = list(model.modalities)
        if isinstance(self.strength, dict) and set(
                self.strength) != set(modalities):
            raise ValueError(
                f'InfoReg: strength names {sorted(self.strength)}, the '
                f"model's modalities are {modalities}")
        if (self.window_modality is not None
                and self.window_modality not in modalities):
            raise ValueError(
                f'InfoReg: window_modality={self.window_modality!r} is not '
                f"one of the model's modalities {modalities}")
        for m, encoder in model.encoders.items():
            if not fisher_weights(encoder):
                raise ValueError(
                    f'InfoReg measures information by the Fisher trace of '
                    f'convolution and linear weights, and encoder {m!r} '
                    'has no trainable one')
        self.modalities = tuple(modalities)
        self.strengths = [
            float(self.strength[m] if isinstance(self.strength, dict
                                                 ) else self.strength)
            for m in modalities
        ]
        num = len(modalities)
        self.register_buffer('epoch_traces',
                             torch.zeros(num, dtype=torch.float64))
        self.register_buffer(
            'trace_history',
            torch.zeros(num, self.trace_window + 1, dtype=torch.float64))
        self.register_buffer('rates', torch.zeros(num, dtype=torch.float64))
        for m in modalities:
            self.register_buffer(
                self._anchor_name(m), self._flat_parameters(model.encoders[m]))

    @staticmethod
    def _anchor_name(modality: str) -> str:
        return f'anchor_{modality}'

    @staticmethod
    def _regulated(encoder: nn.Module) -> List[nn.Parameter]:
        # The code regulates every trainable parameter of the encoder.
        return [p for p in encoder.parameters() if p.requires_grad]

    @classmethod
    def _flat_parameters(cls, encoder: nn.Module) -> torch.Tensor:
        # One flat copy: the code's deepcopy of the model, of what it uses.
        return torch.cat(
            [p.detach().flatten() for p in cls._regulated(encoder)])

    def before_train_epoch(self, runner) -> None:
        """Record the finished epoch's traces, compute this epoch's rates
        and anchor the encoders, on every rank.

        Args:
            runner (Runner): The runner; ``runner.epoch`` epochs are done.
        """
        self.check_epoch_based_loop(
            runner, 'regulates toward the parameters at the start of each '
            'epoch')
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self.start_epoch(model, runner.epoch + 1)

    @torch.no_grad()
    def start_epoch(self, model: 'MultiModalRecognizer', epoch: int) -> None:
        """The epoch-level work of :meth:`before_train_epoch`.

        Args:
            model (MultiModalRecognizer): The recogniser.
            epoch (int): The epoch about to be trained, from 1.
        """
        if int(self.anchored_epoch) == epoch:
            return  # already anchored (resumed within the epoch)
        if int(self.anchored_epoch) > 0:
            self.trace_history.copy_(
                torch.cat(
                    [self.trace_history[:, 1:], self.epoch_traces[:, None]],
                    dim=1))
            self.epochs_recorded += 1
        self.epoch_traces.zero_()
        recorded = int(self.epochs_recorded)
        for i, row in enumerate(self.trace_history.tolist()):
            self.rates[i] = acquisition_rate(row, recorded)
        for m in self.modalities:
            getattr(self, self._anchor_name(m)).copy_(
                self._flat_parameters(model.encoders[m]))
        self.anchored_epoch.fill_(epoch)

    def window_open(self) -> List[bool]:
        """list[bool]: Per modality, whether the rate that gates its
        regulation exceeds ``window_threshold`` this epoch."""
        rates = self.rates.tolist()
        if self.window_modality is not None:
            gate = rates[self.modalities.index(self.window_modality)]
            rates = [gate] * len(rates)
        return [k > self.window_threshold for k in rates]

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The fused loss plus the head slices' losses; the batch's
        coefficients are kept for the step.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls``, accuracies,
            ``loss_unimodal_<modality>``, and the logged
            ``inforeg_beta_<modality>`` and ``inforeg_rate_<modality>``.
        """
        self.check_step_owner()
        self.check_one_batch_per_step(
            'compares the scores of the batch that a step trains on')
        if int(self.anchored_epoch) == 0:
            raise RuntimeError(
                'InfoReg anchors the encoders before every epoch through '
                'BalancerHook (in _base_/default_runtime.py), which has not '
                "run; keep custom_hooks' BalancerHook and train with "
                'EpochBasedTrainLoop')
        losses = self.fused_loss(model, feats, data_samples)
        labels = gt_labels(data_samples, losses['loss_cls'].device)
        for m, logits in model.unimodal_logits(feats, 'fused_head').items():
            losses[f'loss_unimodal_{m}'] = F.cross_entropy(logits, labels)
        scores = true_class_scores(model, feats, data_samples)
        with torch.no_grad():
            coeffs = regulation_coefficients(scores, self.strengths)
            open_windows = self.window_open()
            for i, is_open in enumerate(open_windows):
                if not is_open:
                    coeffs[i] = 0
        self._coeffs = coeffs
        for i, m in enumerate(self.modalities):
            losses[f'inforeg_beta_{m}'] = coeffs[i].detach().clone()
            losses[f'inforeg_rate_{m}'] = self.rates[i].float()
        return losses

    @torch.no_grad()
    def before_optimizer_step(self, model: 'MultiModalRecognizer') -> None:
        """Add the proximal term to the regulated encoder's gradients, then
        add the step's squared gradients to the epoch's traces.

        Args:
            model (MultiModalRecognizer): The recogniser.
        """
        if self._coeffs is None:
            return
        coeffs, self._coeffs = self._coeffs, None
        step_traces = []
        for i, m in enumerate(self.modalities):
            encoder = model.encoders[m]
            if coeffs[i] != 0:
                anchor = getattr(self, self._anchor_name(m))
                start = 0
                for param in self._regulated(encoder):
                    size = param.numel()
                    if param.grad is not None:
                        before = anchor[start:start + size].view_as(param)
                        # The code's `grad += beta * (w - w_t)`.
                        param.grad += coeffs[i] * (param - before)
                    start += size
            step_traces.append(fisher_trace_of_step(fisher_weights(encoder)))
        # A step that mixed precision skips (infinite gradients) adds
        # nothing, as it changes nothing.
        if all(math.isfinite(t) for t in step_traces):
            self.epoch_traces += torch.tensor(
                step_traces, dtype=torch.float64, device=coeffs.device)

    def extra_repr(self) -> str:
        return (f'strength={self.strength!r}, window_threshold='
                f'{self.window_threshold}, trace_window={self.trace_window}, '
                f'window_modality={self.window_modality!r}')
