from itertools import combinations
from typing import TYPE_CHECKING, Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmengine.dist import broadcast
from mmengine.model import is_model_wrapper
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer
from .gradient_blending import HeldOutSampler

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer

#: The authors' polynomial in the epoch (counted from 0) of the
#: classification loss's weight, fitted to the weights their learnable rule
#: reached on CREMA-D (``getAlpha_Learnable_Fitted``'s ``coef_alpha1``; its
#: ``coef_alpha2`` is one minus it, the alignment loss's weight).
FITTED_CLS_WEIGHT = (2.04623704e-01, 3.35472727e-03, 1.22989557e-04,
                     -2.92947416e-06, 2.23835486e-08, -5.39717505e-11)


def alignment_divergence(logits_p: torch.Tensor,
                         logits_q: torch.Tensor) -> torch.Tensor:
    """The authors' ``Alignment`` between two modalities' softmax
    predictions, averaged over the samples.

    As the code writes it: with ``m = (p + q) / 2``,
    ``0.5 * (kl_div(log p, m) + kl_div(log q, m))``, where torch's
    ``kl_div(x, t)`` is ``sum t * (log t - x) / N``
    (``reduction='batchmean'``). With that argument order it is
    ``0.5 * (KL(m || p) + KL(m || q))``, not the textbook Jensen-Shannon
    divergence ``0.5 * (KL(p || m) + KL(q || m))`` the name suggests, and
    it is unbounded; we keep the code's. ``log p`` is taken as
    ``log_softmax`` (the code's ``softmax().log()``, without its ``-inf``
    where a probability underflows).

    Args:
        logits_p (torch.Tensor): (N, C) logits of one modality.
        logits_q (torch.Tensor): (N, C) logits of the other.

    Returns:
        torch.Tensor: A scalar.
    """
    log_p = F.log_softmax(logits_p, dim=-1)
    log_q = F.log_softmax(logits_q, dim=-1)
    mixture = 0.5 * log_p.exp() + 0.5 * log_q.exp()
    kl_p = F.kl_div(log_p, mixture, reduction='batchmean')
    kl_q = F.kl_div(log_q, mixture, reduction='batchmean')
    return 0.5 * (kl_p + kl_q)


def fitted_cls_weight(epoch: float, coefficients: Sequence[float]) -> float:
    """The classification loss's weight at an epoch: the polynomial
    ``sum c_i * epoch ** i``; the alignment loss weighs one minus it.

    Args:
        epoch (float): The epoch, counted from 0 (the authors' loop).
        coefficients (Sequence[float]): ``c_0, c_1, ...``.

    Returns:
        float: The weight.
    """
    return sum(c * epoch**i for i, c in enumerate(coefficients))


def weight_hypergradient(parameters: List[torch.Tensor],
                         loss_cls: torch.Tensor, loss_align: torch.Tensor,
                         cls_weight: float) -> float:
    """The authors' hypergradient of the alignment loss's weight
    (``getAlpha_Learnable``).

    With ``L = w * loss_cls + (1 - w) * loss_align`` on held-out samples,
    the Hessian of ``L`` times the gradient of ``loss_cls`` (both in the
    parameters), of which the code keeps the mean over the first parameter
    tensor (``hessian_vector_prod[0].mean()``).

    Args:
        parameters (list[torch.Tensor]): The parameters; the product's
            entries for the first one are averaged (the losses must depend
            on it).
        loss_cls (torch.Tensor): The held-out classification loss.
        loss_align (torch.Tensor): The held-out alignment loss.
        cls_weight (float): ``w``.

    Returns:
        float: The hypergradient.
    """
    total = cls_weight * loss_cls + (1 - cls_weight) * loss_align
    total_grads = torch.autograd.grad(
        total, parameters, create_graph=True, allow_unused=True)
    cls_grads = torch.autograd.grad(
        loss_cls, parameters, create_graph=True, allow_unused=True)
    # Parameters neither loss reaches contribute nothing to the product.
    used = [
        i for i, (t, c) in enumerate(zip(total_grads, cls_grads))
        if t is not None and c is not None and t.requires_grad
    ]
    product = torch.autograd.grad([total_grads[i] for i in used],
                                  parameters[0],
                                  grad_outputs=[cls_grads[i] for i in used])
    return product[0].mean().item()


def updated_cls_weight(cls_weight: float, hypergradient: float,
                       lr: float) -> float:
    """The authors' update of the weights: the alignment loss's weight
    ``1 - w`` descends the hypergradient with rate ``lr`` and is clipped to
    [0.05, 0.95]; the classification loss's weight is one minus it.

    Args:
        cls_weight (float): ``w`` before the update.
        hypergradient (float): From :func:`weight_hypergradient`.
        lr (float): The rate.

    Returns:
        float: ``w`` after it.
    """
    align_weight = (1.0 - cls_weight) - lr * hypergradient
    return 1.0 - max(0.05, min(0.95, align_weight))


@MODELS.register_module()
class LFM(BaseBalancer):
    """LFM: the supervised loss and an alignment of the modalities'
    predictions, weighed by a schedule that learns the modality gap.

    The loss of a batch is ``2 * (w * loss_cls + (1 - w) * loss_align)``:
    ``loss_cls`` the head's loss on the fused feature, ``loss_align`` the
    authors' divergence (:func:`alignment_divergence`) between the uni-modal
    logits of the concatenation head's slices, averaged over the pairs of
    modalities. ``w``, the classification loss's weight, comes from one of
    the authors' two rules:

    - ``'fitted'`` (``Crema_epoch.py``, the script their README runs:
      ``getAlpha_Learnable_Fitted``): a polynomial of the epoch
      (:func:`fitted_cls_weight`), 0.20 at the first epoch, then growing:
      alignment first, then more and more the labels;
    - ``'learnable'`` (``Crema_epoch_learnable.py``: ``getAlpha_Learnable``):
      before every epoch, the alignment's weight ``1 - w`` descends the
      hypergradient of :func:`weight_hypergradient` on the first
      ``heldout_samples`` samples held out of the training set
      (:func:`updated_cls_weight`), from ``w = initial_cls_weight``, with a
      rate ``weight_lr`` halved every 20 epochs.

    Prediction is unchanged (the authors' average of the uni-modal logits
    is the fused logits halved: the same classes).

    The authors' network has a linear head per encoder and classifies with
    the mean of their logits (``0.5 * o_v + 0.5 * o_a``); here the
    concatenation head's slices are those heads (plus their share of the
    bias, so they add up to the fused logits) and ``loss_cls`` is the
    head's loss on their sum, as BalanceMM's ``LFMTrainer`` computes it on
    the fused output: the authors' loss on twice the logits. The authors
    hold 16 training samples out and learn on their first half, the same
    every epoch; here the held-out part of ``HeldOutSampler`` (as
    Gradient-Blending's), read in its order through the training pipeline,
    without batch augmentation. They compute the hypergradient with the
    model in the mode their evaluation left it (evaluation, except before
    the first epoch); we always evaluate (no dropout, BatchNorm's running
    statistics, which it does not update). BalanceMM averages the
    divergence over the pairs of modalities (so LFM takes more than two; we
    do too), runs ``'learnable'`` on a quarter of a validation batch in
    training mode, starting from ``w = 0.95``; we follow the authors.

    Every term of the step is a mean over the samples; under DDP, which
    averages the gradients of ranks of equal batches, a step is therefore
    the one of a single process holding the whole batch without a further
    reduction. ``'fitted'``'s ``w`` depends on the epoch alone;
    ``'learnable'``'s is computed by every rank from the same held-out
    samples and then broadcast from rank 0, and is a buffer of the model,
    so a checkpoint holds it for a resumed run.

    Paper: Yang Yang et al., "Facilitating Multimodal Classification via
    Dynamically Learning Modality Gap", NeurIPS 2024.
    Code: https://github.com/njustkmg/NeurIPS24-LFM (``Crema_epoch.py``,
    ``Crema_epoch_learnable.py``). BalanceMM:
    ``balancemm/trainer/LFM_trainer.py``.

    Args:
        weight_rule (str): ``'fitted'`` or ``'learnable'``. Defaults to
            ``'fitted'`` (the authors' README).
        cls_weight_coefficients (Sequence[float]): ``'fitted'``:
            coefficients ``c_0, c_1, ...`` of the polynomial in the epoch.
            Defaults to the authors' (:data:`FITTED_CLS_WEIGHT`).
        epoch_scale (float): ``'fitted'``: the polynomial is evaluated at
            ``(epoch - 1) * epoch_scale`` (epochs counted from 1): 1 for the
            authors' epochs (fitted over 200 of CREMA-D), ``200 /
            max_epochs`` to run their whole schedule in a shorter training.
            Defaults to 1.
        initial_cls_weight (float): ``'learnable'``: ``w`` before the first
            update (the authors' 0.05). Defaults to 0.05.
        weight_lr (float): ``'learnable'``: the rate of the first 20 epochs
            (the authors' ``lr_alpha``). Defaults to 1e-4.
        heldout_samples (int): ``'learnable'``: how many held-out samples
            the hypergradient is computed on (the authors' 8, half of their
            16). Defaults to 8.
        init_cfg (dict, optional): Initialisation config.
    """
    unimodal_logits_from = 'fused_head'
    weight_rules = ('fitted', 'learnable')

    def __init__(self,
                 weight_rule: str = 'fitted',
                 cls_weight_coefficients: Sequence[float] = FITTED_CLS_WEIGHT,
                 epoch_scale: float = 1.0,
                 initial_cls_weight: float = 0.05,
                 weight_lr: float = 1e-4,
                 heldout_samples: int = 8,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if weight_rule not in self.weight_rules:
            raise ValueError(f'LFM: weight_rule={weight_rule!r} is neither '
                             "'fitted' nor 'learnable'")
        if len(cls_weight_coefficients) == 0:
            raise ValueError('LFM: cls_weight_coefficients must not be empty')
        if epoch_scale <= 0:
            raise ValueError(
                f'LFM: epoch_scale={epoch_scale} must be positive')
        if not 0 <= initial_cls_weight <= 1:
            raise ValueError(f'LFM: initial_cls_weight={initial_cls_weight} '
                             'must be in [0, 1]')
        if heldout_samples < 1:
            raise ValueError(
                f'LFM: heldout_samples={heldout_samples} must be positive')
        self.weight_rule = weight_rule
        self.cls_weight_coefficients = tuple(
            float(c) for c in cls_weight_coefficients)
        self.epoch_scale = epoch_scale
        self.weight_lr = weight_lr
        self.heldout_samples = heldout_samples
        # 'learnable''s w: a buffer, so that checkpoints hold it.
        self.register_buffer(
            'learned_cls_weight',
            torch.tensor(float(initial_cls_weight), dtype=torch.float64))

    def cls_weight(self) -> float:
        """float: The classification loss's weight in the current epoch."""
        if self.weight_rule == 'learnable':
            return float(self.learned_cls_weight)
        return fitted_cls_weight((self.current_epoch() - 1) * self.epoch_scale,
                                 self.cls_weight_coefficients)

    @staticmethod
    def alignment_loss(model: 'MultiModalRecognizer',
                       feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """:func:`alignment_divergence` averaged over the pairs of
        modalities.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: A scalar.
        """
        logits = list(model.unimodal_logits(feats, 'fused_head').values())
        pairs = list(combinations(logits, 2))
        return sum(alignment_divergence(p, q) for p, q in pairs) / len(pairs)

    def update_cls_weight(self, model: 'MultiModalRecognizer', data: dict,
                          epoch: int) -> float:
        """``'learnable'``'s update before an epoch, on held-out samples.

        Args:
            model (MultiModalRecognizer): The recogniser (unwrapped); in
                evaluation mode for the update, its mode restored after.
            data (dict): The held-out samples, preprocessed: ``inputs`` and
                ``data_samples``.
            epoch (int): The epoch about to be trained, counted from 1.

        Returns:
            float: The new ``w``.
        """
        was_training = model.training
        model.eval()
        try:
            feats = model.extract_feat(data['inputs'])
            loss_cls = model.cls_head.loss(
                model.fusion(feats), data['data_samples'])['loss_cls']
            hypergradient = weight_hypergradient(
                [p for p in model.parameters() if p.requires_grad], loss_cls,
                self.alignment_loss(model, feats), self.cls_weight())
        finally:
            model.train(was_training)
        # The authors halve their rate before the epochs 20, 40... (from 0).
        lr = self.weight_lr / 2**((epoch - 1) // 20)
        weight = torch.tensor(
            updated_cls_weight(self.cls_weight(), hypergradient, lr),
            dtype=torch.float64,
            device=self.learned_cls_weight.device)
        # Every rank computed the same; rank 0's value makes sure of it.
        broadcast(weight, src=0)
        self.learned_cls_weight.copy_(weight)
        return float(weight)

    def before_train_epoch(self, runner) -> None:
        """``'learnable'``: update ``w`` on the first ``heldout_samples`` of
        the training set's held-out part, on every rank.

        Args:
            runner (Runner): The runner; ``runner.epoch`` epochs are done.
        """
        if self.weight_rule != 'learnable':
            return
        self.check_epoch_based_loop(runner,
                                    'learns its weight before every epoch')
        loader = runner.train_dataloader
        sampler = loader.sampler
        if not isinstance(sampler, HeldOutSampler) or sampler.part != 'train':
            raise TypeError(
                "LFM(weight_rule='learnable') learns its weight on samples "
                'held out of the training set, which must not be trained '
                "on: set train_dataloader.sampler=dict(type='HeldOutSampler', "
                'heldout_fraction=...); the run\'s sampler is '
                f'{type(sampler).__name__}')
        indices = sampler.heldout_indices[:self.heldout_samples]
        if len(indices) < self.heldout_samples:
            raise ValueError(
                f'LFM: heldout_samples={self.heldout_samples}, but the '
                f'sampler holds out {len(indices)}; raise its '
                'heldout_fraction')
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        data = model.data_preprocessor(
            loader.collate_fn([loader.dataset[i] for i in indices]), False)
        weight = self.update_cls_weight(model, data, runner.epoch + 1)
        runner.logger.info(f'LFM: classification weight {weight:.6f} for '
                           f'epoch {runner.epoch + 1}')

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The weighted classification and alignment losses.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls`` and ``loss_align`` (both
            weighted), the accuracies and ``lfm_cls_weight``.
        """
        cls_weight = self.cls_weight()
        losses = self.fused_loss(model, feats, data_samples)
        losses['loss_cls'] = 2 * cls_weight * losses['loss_cls']
        losses['loss_align'] = 2 * (1 - cls_weight) * self.alignment_loss(
            model, feats)
        losses['lfm_cls_weight'] = torch.tensor(cls_weight)
        return losses

    def extra_repr(self) -> str:
        if self.weight_rule == 'learnable':
            return (f"weight_rule='learnable', weight_lr={self.weight_lr}, "
                    f'heldout_samples={self.heldout_samples}')
        return (f'cls_weight_coefficients={self.cls_weight_coefficients}, '
                f'epoch_scale={self.epoch_scale}')
