from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from ..utils.pareto import mmpareto_weights, pareto_direction, rescale_to_total
from .base_balancer import BaseBalancer, gt_labels

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


@MODELS.register_module()
class MMPareto(BaseBalancer):
    """MMPareto: the fused loss plus uni-modal losses, whose gradients are
    integrated per encoder without conflict.

    The training loss is the fused loss plus one cross entropy per encoder's
    linear head (the recogniser's ``unimodal_head``), all with weight 1. Per
    batch and per encoder, the gradient of the fused loss ``g_mm`` and that
    of the encoder's uni-modal loss ``g_uni`` are compared: with a positive
    cosine both weigh 0.5, otherwise the min-norm point of the two decides
    the weights ``(k_mm, k_uni)``. The encoder's parameters then train with,
    per tensor, ``d = 2 k_mm g_mm + 2 k_uni g_uni``, scaled up to the norm of
    the summed-loss gradient when it is shorter, times ``gamma``; the heads
    (and any fusion parameters) keep the summed-loss gradient. The math is in
    :mod:`mmdr.models.utils.pareto`.

    Paper: Wei & Hu, "MMPareto: Boosting Multimodal Learning with Innocent
    Unimodal Assistance", ICML 2024. Code:
    https://github.com/GeWu-Lab/MMPareto_ICML2024 (``code/MMPareto.py``,
    ``train_epoch``; ``code/min_norm_solvers.py``).

    The authors' code has two modalities; with ``K`` encoders each one is
    treated as theirs are, between the fused loss and its own uni-modal
    loss (no other loss reaches an encoder), and the loss is the fused loss
    plus all ``K`` uni-modal losses.

    Where it runs: :meth:`loss` takes ``g_mm`` and ``g_uni`` with
    ``torch.autograd.grad(retain_graph=True)`` on the encoders' parameters
    (which fills no ``.grad`` and leaves DDP's reduction to the backward:
    DDP's hooks sit on the parameters' gradient accumulators, which
    ``autograd.grad`` does not run, and inside DDP's forward they are not
    armed yet), averages both over the ranks (one ``all_reduce``) so every
    rank has the whole batch's gradients and weights, and keeps the
    directions ``d``; the normal
    backward of the summed loss then yields the summed-loss gradient
    (averaged by DDP), and :meth:`before_optimizer_step` (through
    :class:`mmdr.engine.optimizers.BalancedOptimWrapper`) rescales. The
    authors take each gradient with a separate ``backward`` (four in all);
    two ``autograd.grad`` calls and one backward give the same gradients,
    since a uni-modal loss reaches only its own encoder. Departures, both
    numerical: inner products in float64, and a zero direction stays zero
    where the authors' rescaling would divide by zero (see
    :func:`mmdr.models.utils.pareto.rescale_to_total`). Gradient
    accumulation over batches is refused (the weights are per batch).

    Args:
        gamma (float): Factor of the integrated gradient's magnitude (the
            authors' code: 1.5). Defaults to 1.5.
        init_cfg (dict, optional): Initialisation config.
    """
    unimodal_logits_from = 'unimodal_heads'
    modulates_gradients = True

    def __init__(self,
                 gamma: float = 1.5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not gamma > 0:
            raise ValueError(f'MMPareto: gamma={gamma} must be positive')
        self.gamma = float(gamma)
        # (parameter, direction d) of the current batch, from loss() to
        # before_optimizer_step(); not state: it never outlives a step.
        self._directions: List[Tuple[nn.Parameter, torch.Tensor]] = []

    @staticmethod
    def _trained(module: nn.Module) -> List[nn.Parameter]:
        return [p for p in module.parameters() if p.requires_grad]

    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Also require a trained parameter in every encoder."""
        super().check_model(model)
        for m, encoder in model.encoders.items():
            if not self._trained(encoder):
                raise ValueError(
                    f'MMPareto integrates the gradients of every encoder, '
                    f'but encoder {m!r} has no parameter with requires_grad')

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The fused loss plus the uni-modal losses; the batch's
        per-encoder directions are kept for the step.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls``, accuracies,
            ``loss_unimodal_<modality>``, and the logged
            ``mmpareto_cos_<modality>`` (cosine of the two gradients) and
            ``mmpareto_mm_weight_<modality>`` (``k_mm``).
        """
        self.check_step_owner()
        self.check_one_batch_per_step('weighs the gradients of one batch')
        self._directions = []
        losses = self.fused_loss(model, feats, data_samples)
        fused = sum(v for k, v in losses.items() if 'loss' in k)
        logits = model.unimodal_logits(feats, 'unimodal_heads')
        labels = gt_labels(data_samples, fused.device)
        unimodal = {}
        for m in model.modalities:
            unimodal[m] = F.cross_entropy(logits[m], labels)
            losses[f'loss_unimodal_{m}'] = unimodal[m]
        if not fused.requires_grad:
            return losses  # no training step follows (e.g. under no_grad)

        params = {
            m: self._trained(model.encoders[m])
            for m in model.modalities
        }
        flat = [p for m in model.modalities for p in params[m]]
        g_mm = self._grads(fused, flat)
        # Each uni-modal loss reaches only its own encoder, so one call on
        # their sum gives every encoder its own loss's gradient.
        g_uni = self._grads(sum(unimodal.values()), flat)
        averaged = self._average_over_ranks(g_mm + g_uni)
        g_mm, g_uni = averaged[:len(flat)], averaged[len(flat):]

        start = 0
        for m in model.modalities:
            end = start + len(params[m])
            weights = mmpareto_weights(g_mm[start:end], g_uni[start:end])
            for p, gm, gu in zip(params[m], g_mm[start:end], g_uni[start:end]):
                self._directions.append((p, pareto_direction(gm, gu, weights)))
            losses[f'mmpareto_cos_{m}'] = fused.new_tensor(weights.cos)
            losses[f'mmpareto_mm_weight_{m}'] = fused.new_tensor(weights.mm)
            start = end
        return losses

    @staticmethod
    def _grads(loss: torch.Tensor,
               params: Sequence[nn.Parameter]) -> List[torch.Tensor]:
        """The loss's gradient of each parameter (zeros where unused)."""
        grads = torch.autograd.grad(
            loss, params, retain_graph=True, allow_unused=True)
        return [
            torch.zeros_like(p) if g is None else g
            for p, g in zip(params, grads)
        ]

    @staticmethod
    def _average_over_ranks(grads: List[torch.Tensor]) -> List[torch.Tensor]:
        """The tensors averaged over the ranks, in one collective, as DDP
        averages the summed-loss gradient (the tensors themselves where
        there is one process)."""
        if get_world_size() == 1 or not grads:
            return grads
        flat = torch.cat([g.reshape(-1) for g in grads])
        all_reduce(flat, op='mean')
        return [
            part.view_as(g)
            for part, g in zip(flat.split([g.numel() for g in grads]), grads)
        ]

    def before_optimizer_step(self, model: 'MultiModalRecognizer') -> None:
        """Replace every encoder gradient by its rescaled direction.

        Args:
            model (MultiModalRecognizer): The recogniser.
        """
        directions, self._directions = self._directions, []
        for param, direction in directions:
            # As the authors' code, parameters without a gradient stay so.
            if param.grad is None:
                continue
            param.grad.copy_(
                rescale_to_total(direction, param.grad, self.gamma))

    def extra_repr(self) -> str:
        return f'gamma={self.gamma}'
