from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size
from mmengine.optim import AmpOptimWrapper
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from ..fusions import SumFusion
from .base_balancer import BaseBalancer, gt_labels
from .mmpareto import MMPareto

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


def projection_alpha(batch_index: int, epoch_length: int) -> float:
    """The regulariser of the head's projection update for a batch.

    The authors' ``GSPlugin.before_update``: ``0.1 ** (1 + i / L)`` for the
    ``i``-th batch (from 0) of an epoch of ``L`` batches, so it falls from
    0.1 towards 0.01 over every epoch.

    Args:
        batch_index (int): The batch's index within its epoch, from 0.
        epoch_length (int): Batches per epoch.

    Returns:
        float: ``alpha``.
    """
    return 1.0 * 0.1**(batch_index / epoch_length + 1)


def update_projection(projection: torch.Tensor, mean_feature: torch.Tensor,
                      alpha: float) -> torch.Tensor:
    """The authors' update of the shared head's gradient projection.

    With the batch's mean head input ``r`` (1, D) and ``k = P r^T``:
    ``P <- P - (k k^T) / (alpha + k r)``, where ``k r`` is the (D, D) outer
    product and the division elementwise, as ``torch.mm(k, r)`` in the
    authors' code (not the scalar ``r k`` of orthogonal weight
    modification); the result is divided by its Frobenius norm.

    Args:
        projection (torch.Tensor): (D, D) ``P``.
        mean_feature (torch.Tensor): (1, D) ``r``.
        alpha (float): See :func:`projection_alpha`.

    Returns:
        torch.Tensor: The new (D, D) projection.
    """
    k = projection @ mean_feature.t()
    updated = projection - (k @ k.t()) / (alpha + k @ mean_feature)
    return updated / torch.norm(updated, p='fro')


def batch_entropy(logits: torch.Tensor) -> torch.Tensor:
    """One modality's uncertainty on a batch, as the authors compute it.

    The authors' ``calculate_entropy``: the softmax over the batch (dim 0,
    per class), and ``-sum p log p`` over the whole (N, C) matrix: one
    number per batch. ``0 log 0`` counts 0 (the authors' ``torch.log``
    gives NaN there).

    Args:
        logits (torch.Tensor): (N, C) logits.

    Returns:
        torch.Tensor: A scalar.
    """
    probabilities = F.softmax(logits, dim=0)
    return -torch.xlogy(probabilities, probabilities).sum()


def entropy_weights(entropies: torch.Tensor) -> torch.Tensor:
    """The modalities' test-time fusion weights from their entropies.

    The authors' ``calculate_gating_weights`` (two modalities) and
    ``calculate_gating_weights3`` (three): ``exp(max_e - e_m)``,
    normalised to sum 1, for any number of modalities.

    Args:
        entropies (torch.Tensor): (M, ) one entropy per modality.

    Returns:
        torch.Tensor: (M, ) weights.
    """
    weights = torch.exp(entropies.max() - entropies)
    return weights / weights.sum()


@MODELS.register_module()
class MLA(BaseBalancer):
    """MLA: alternating uni-modal training through a shared head, with a
    projected head gradient, and uncertainty-weighted fusion at test time.

    Every training batch runs every encoder once, then trains the modalities
    one after another in the config's order (the authors' audio, then
    visual): modality ``m``'s logits are the shared head on its feature,
    their cross entropy is back-propagated, the shared head's weight
    gradient is projected (below) and the optimiser steps, so a batch makes
    as many optimiser steps as there are modalities, each on one modality's
    encoder and the shared head. At test time the prediction is the sum of
    the modalities' logits weighted by ``exp(-entropy)`` normalised
    (:func:`batch_entropy`, :func:`entropy_weights`: the authors' dynamic
    fusion, ``--gs_flag --dynamic``), one weight per modality and batch as
    theirs, so a sample's scores depend on the batch it is predicted in
    (their fixed weights, ``av_alpha``, are not offered).

    Paper: Zhang, Yoon, Bansal & Yao, "Multimodal Representation Learning
    by Alternating Unimodal Adaptation", CVPR 2024. Code:
    https://github.com/Cecile-hi/Multimodal-Learning-with-Alternating-Unimodal-Adaptation
    (``main.py``: ``train_epoch`` with ``gs_flag``, ``valid`` with
    ``dynamic``, ``calculate_entropy``, ``calculate_gating_weights``;
    ``utils/utils.py``: ``GSPlugin``). BalanceMM's version:
    https://github.com/GeWu-Lab/BalanceBenchmark
    (``balancemm/trainer/MLA_trainer.py``).

    The shared head: the authors' encoders all give features of one width
    (512 for their ResNet-18s) and one ``nn.Linear(512, classes)``
    classifies each. Here every modality's
    feature goes through its own linear projection to one width, that of
    :class:`~mmdr.models.fusions.SumFusion` (``model.fusion``, whose
    ``projections`` are exactly that), then through the recogniser's
    ``cls_head``, a linear head shared by all modalities; so the encoders
    may have any widths. A model with another fusion or a head without a
    linear ``fc_cls`` is refused at build. The fused path
    (``cls_head`` on the sum) is never trained nor used.

    The gradient modification (the authors' ``GSPlugin.before_update``,
    from the second uni-modal update of the run on): the batch's mean head
    input ``r`` updates a (D, D) projection ``P`` (:func:`update_projection`,
    with :func:`projection_alpha` of the batch's index in its epoch), and
    the head weight's gradient becomes ``grad @ P^T``. In the authors'
    published loop this code never runs: it looks for a parameter named
    ``module.weight`` in their ``fc_out``, whose weight is named ``weight``;
    BalanceMM looks for ``weight`` and adds the projected gradient to the
    gradient (``grad + grad @ P^T``) instead of replacing it. We follow the
    authors' code as written to run (replace), and
    ``gradient_modification=False`` trains as their published loop does.

    Gradients the optimiser sees, as in the authors' loop (torch 1.8, whose
    ``optimizer.zero_grad()`` zeroes gradients rather than dropping them):
    at a batch's start every gradient is None (their ``del p.grad``); after
    modality ``m``'s step the stepped gradients are zeroed in place, so the
    later modalities' steps of the same batch also step ``m``'s encoder and
    projection with a zero gradient (SGD momentum and weight decay, Adam's
    moments and step count act on them), while encoders not yet trained in
    the batch (None) are skipped. BalanceMM (torch 2, gradients set to None)
    skips them. BalanceMM also runs each encoder just before its own step
    (the same features: no encoder changes before its own step) and trains
    jointly outside its ``modulation_starts``-``modulation_ends`` epochs;
    we follow the authors (every epoch alternates).

    Where it runs: every modality but the last is trained inside
    :meth:`loss` (``torch.autograd.grad``, averaged over the ranks in one
    ``all_reduce`` as DDP averages, then
    :class:`~mmdr.engine.optimizers.BalancedOptimWrapper`'s ``step``, which
    calls :meth:`before_optimizer_step` and clips as configured); the last
    modality's loss is what :meth:`loss` returns, trained by mmengine's
    normal backward and step. Under DDP that backward leaves the earlier
    modalities' encoders and projections unused, so the run needs
    ``find_unused_parameters=True`` (set by
    ``configs/_base_/methods/mla.py``; refused before the first epoch
    otherwise); DDP leaves the gradients of globally unused parameters as
    they are, zero here, as in one process. ``r`` and the test-time
    entropies are computed over all ranks' batches. The ranks stay
    bit-identical; they equal one process holding the whole batch up to
    rounding, which the projection update magnifies (its elementwise
    division by ``alpha + k r``, which comes near zero). Mixed precision
    and gradient accumulation are refused (several steps per batch).

    State: ``P`` and the count of uni-modal updates are buffers, so a
    checkpoint resumes bit-exactly.

    Args:
        gradient_modification (bool): Project the shared head's gradient.
            Defaults to True (the paper; False: the authors' published
            loop, where the projection never runs).
        init_cfg (dict, optional): Initialisation config.
    """
    modulates_gradients = True

    def __init__(self,
                 gradient_modification: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.gradient_modification = bool(gradient_modification)
        # The authors' GSPlugin.exp_count: uni-modal updates so far.
        self.register_buffer('num_updates', torch.zeros((), dtype=torch.long))
        # The detached head input of the step about to be taken, from
        # loss() to before_optimizer_step(); never outlives a step.
        self._pending: Optional[torch.Tensor] = None
        # Batches per training epoch, set by before_train_epoch().
        self._epoch_length: Optional[int] = None

    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Also require the shared head (a linear ``cls_head`` on
        :class:`SumFusion`'s projections), and size the projection ``P``.

        Args:
            model (MultiModalRecognizer): The recogniser being built.
        """
        super().check_model(model)
        linear = isinstance(getattr(model.cls_head, 'fc_cls', None), nn.Linear)
        if not isinstance(model.fusion, SumFusion) or not linear:
            raise ValueError(
                'MLA classifies every modality with one shared head: a '
                "linear head (an fc_cls layer) on model.fusion type="
                "'SumFusion''s per-modality projections (set "
                "model.fusion=dict(type='SumFusion', out_channels=...)); "
                f'this model has {type(model.fusion).__name__} and '
                f'{type(model.cls_head).__name__}')
        width = model.cls_head.fc_cls.in_features
        # The authors' GSPlugin.Pl, eye(512) for their 512-wide features.
        self.register_buffer('projection', torch.eye(width))

    def before_train_epoch(self, runner) -> None:
        """Check the run, and read the epoch's length, which the projection
        update uses.

        Args:
            runner (Runner): The runner.
        """
        self.check_ddp_finds_unused_parameters(runner)
        self._epoch_length = len(runner.train_dataloader)

    @staticmethod
    def head_input(model: 'MultiModalRecognizer', feature: torch.Tensor,
                   modality: str) -> torch.Tensor:
        """A modality's feature projected to the shared head's width.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feature (torch.Tensor): (N, D_m) the modality's feature.
            modality (str): Its name.

        Returns:
            torch.Tensor: (N, D).
        """
        return model.fusion.project(modality, feature)

    def _trained_params(self, model: 'MultiModalRecognizer',
                        modality: str) -> List[nn.Parameter]:
        modules = (model.encoders[modality],
                   model.fusion.projections[modality], model.cls_head)
        return [
            p for module in modules for p in module.parameters()
            if p.requires_grad
        ]

    def _check_optim_wrapper(self) -> None:
        self.check_step_owner()
        if isinstance(self.step_owner, AmpOptimWrapper):
            raise ValueError(
                'MLA makes one optimiser step per modality and batch, '
                'which mixed precision (--amp, an AmpOptimWrapper) does not '
                'support; train without --amp')
        self.check_one_batch_per_step(
            'makes one optimiser step per modality and batch')

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """Train every modality but the last through the shared head (one
        optimiser step each); return the last one's loss.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls`` (the last modality's
            cross entropy, which mmengine's step trains) and the logged
            ``mla_ce_<modality>`` of every modality, each taken before its
            own step.
        """
        labels = gt_labels(data_samples, next(iter(feats.values())).device)
        modalities = model.modalities
        training = torch.is_grad_enabled()
        losses = {}
        if training:
            self._check_optim_wrapper()
            if self.gradient_modification and self._epoch_length is None:
                raise RuntimeError(
                    "MLA's gradient modification needs the training "
                    "epoch's length, which BalancerHook gives it before "
                    'every epoch; keep default_hooks.balancer='
                    "dict(type='BalancerHook') in the config")
        for m in modalities:
            head_input = self.head_input(model, feats[m], m)
            ce = F.cross_entropy(model.cls_head(head_input), labels)
            losses[f'mla_ce_{m}'] = ce.detach()
            if not training:
                continue
            self._pending = head_input.detach()
            if m == modalities[-1]:
                losses['loss_cls'] = ce
                break
            self._uni_modal_step(model, m, ce)
        return losses

    def _uni_modal_step(self, model: 'MultiModalRecognizer', modality: str,
                        ce: torch.Tensor) -> None:
        """One modality's backward and optimiser step inside the forward
        pass; its gradients zeroed afterwards (the authors' zero_grad)."""
        params = self._trained_params(model, modality)
        grads = torch.autograd.grad(ce, params, allow_unused=True)
        # A parameter the loss does not reach keeps no gradient, as after
        # the authors' backward (the same ones on every rank).
        used = [(p, g) for p, g in zip(params, grads) if g is not None]
        # Averaged over the ranks in one all_reduce, as DDP averages.
        averaged = MMPareto._average_over_ranks([g for _, g in used])
        for (param, _), grad in zip(used, averaged):
            if param.grad is None:
                param.grad = grad
            else:
                param.grad.add_(grad)
        self.step_owner.step()
        for param in model.parameters():
            if param.grad is not None:
                param.grad.zero_()

    def before_optimizer_step(self, model: 'MultiModalRecognizer') -> None:
        """Project the shared head's weight gradient (from the run's second
        uni-modal update on) and count the update.

        Args:
            model (MultiModalRecognizer): The recogniser.
        """
        head_input, self._pending = self._pending, None
        if head_input is None:
            return
        weight = model.cls_head.fc_cls.weight
        if (self.gradient_modification and int(self.num_updates) != 0
                and weight.grad is not None):
            mean = mean_over_ranks(head_input)
            batch_index = self.current_iter() % self._epoch_length
            alpha = projection_alpha(batch_index, self._epoch_length)
            self.projection.copy_(
                update_projection(self.projection,
                                  mean.to(self.projection.dtype), alpha))
            weight.grad.copy_(weight.grad @ self.projection.t())
        self.num_updates += 1

    def predict_scores(self, model: 'MultiModalRecognizer',
                       feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The modalities' shared-head logits weighted by their batch
        entropies (:func:`entropy_weights`).

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: (N, num_classes) scores.
        """
        logits = [
            model.cls_head(self.head_input(model, feats[m], m))
            for m in model.modalities
        ]
        entropies = torch.stack(entropies_over_ranks(logits))
        weights = entropy_weights(entropies)
        return sum(w * out for w, out in zip(weights, logits))

    def extra_repr(self) -> str:
        return f'gradient_modification={self.gradient_modification}'


def mean_over_ranks(rows: torch.Tensor) -> torch.Tensor:
    """The mean row of all ranks' batches.

    Args:
        rows (torch.Tensor): (n, D) this rank's rows.

    Returns:
        torch.Tensor: (1, D), ``rows.mean(0, keepdim=True)`` in one
        process.
    """
    if get_world_size() == 1:
        return rows.mean(0, keepdim=True)
    total = torch.cat([rows.sum(0), rows.new_tensor([len(rows)])])
    all_reduce(total, op='sum')
    return (total[:-1] / total[-1])[None]


def entropies_over_ranks(logits: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    """:func:`batch_entropy` of every modality, over all ranks' batches.

    Under DDP the softmax over the batch spans every rank's rows (the
    authors' DataParallel sees the whole batch): the per-class maximum and
    normaliser, then the entropy, are reduced over the ranks.

    Args:
        logits (Sequence[torch.Tensor]): (n, C) logits per modality.

    Returns:
        list[torch.Tensor]: One scalar per modality.
    """
    if get_world_size() == 1:
        return [batch_entropy(out) for out in logits]
    stacked = torch.stack([out.float() for out in logits])  # (M, n, C)
    peak = stacked.amax(1, keepdim=True)
    all_reduce(peak, op='max')
    shifted = (stacked - peak).exp()
    normaliser = shifted.sum(1, keepdim=True)
    all_reduce(normaliser, op='sum')
    probabilities = shifted / normaliser
    entropy = -torch.xlogy(probabilities, probabilities).sum((1, 2))
    all_reduce(entropy, op='sum')
    return list(entropy)
