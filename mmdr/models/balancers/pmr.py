import math
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmengine.model import is_model_wrapper
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from mmdr.utils.dist_utils import main_process_buffers
from mmdr.utils.feature_pass import modality_feature_batches
from mmdr.utils.random_state import preserved_random_state, seed_epoch_loader
from .base_balancer import BaseBalancer, gt_labels

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer

#: The authors' code blends the previous prototypes in from its third
#: prototype pass on: the passes before training and after the first epoch
#: (both called with its epoch 0) take plain class means.
FIRST_MOMENTUM_EPOCH = 3


def prototype_logits(feats: torch.Tensor,
                     prototypes: torch.Tensor) -> torch.Tensor:
    """PMR's prototype logits: minus the Euclidean distance to each class's
    prototype.

    Computed from differences, as the authors' ``EU_dist``, but with a zero
    gradient where a feature equals a prototype (their
    ``sqrt(dot(d, d))`` gives NaN there).

    Args:
        feats (torch.Tensor): (N, D) features.
        prototypes (torch.Tensor): (C, D) class prototypes.

    Returns:
        torch.Tensor: (N, C) logits.
    """
    return -torch.cdist(
        feats.float(),
        prototypes.float(),
        compute_mode='donot_use_mm_for_euclid_dist')


def prototype_coefficients(scores: torch.Tensor, alpha: float) -> torch.Tensor:
    """Weights of the two modalities' prototype losses.

    With ``rho = s_0 / s_1`` (the code's ``ratio_a_p``, audio over visual),
    the weaker modality's prototype cross entropy gets ``alpha`` and the
    dominant one's 0; equal scores (or a NaN ratio) give both 0.

    Args:
        scores (torch.Tensor): Shape (2, ): each modality's summed softmax
            probability of the true class under its prototype logits.
        alpha (float): The code's ``alpha`` (its ``beta``/``lam``).

    Returns:
        torch.Tensor: Shape (2, ).
    """
    coeffs = torch.zeros_like(scores)
    ratio = scores[0] / scores[1]
    if ratio > 1:
        coeffs[1] = alpha
    elif ratio < 1:
        coeffs[0] = alpha
    return coeffs


def update_prototypes(sums: torch.Tensor, counts: torch.Tensor,
                      previous: Optional[torch.Tensor],
                      momentum: float) -> torch.Tensor:
    """New prototypes from per-class feature sums (pure computation).

    ``(1 - momentum) * mean + momentum * previous``; a class without any
    sample in the pass keeps its previous prototype (the code divides by
    zero and trains on NaN).

    Args:
        sums (torch.Tensor): (C, D) per-class sums of features.
        counts (torch.Tensor): (C, ) samples per class.
        previous (torch.Tensor, optional): (C, D) previous prototypes; None
            for plain class means.
        momentum (float): Weight of ``previous``.

    Returns:
        torch.Tensor: (C, D) prototypes.
    """
    seen = counts > 0
    means = sums / counts.clamp(min=1).to(sums.dtype)[:, None]
    if previous is None:
        if not bool(seen.all()):
            raise ValueError(
                'update_prototypes: classes '
                f'{torch.nonzero(~seen).view(-1).tolist()} have no sample '
                'and no previous prototype')
        return means
    new = (1 - momentum) * means + momentum * previous
    return torch.where(seen[:, None], new, previous)


@MODELS.register_module()
class PMR(BaseBalancer):
    """Prototypical Modal Rebalance.

    Each modality's class prototypes are the means of its encoder's pooled
    features per class; its prototype logits are minus the Euclidean
    distances of a feature to them. Per batch each modality's score is the
    summed softmax probability of the true class under its prototype
    logits, and the weaker modality (the lower score) gets its prototype
    cross entropy added to the fused loss with weight ``alpha``, the
    dominant one nothing. This acts in epochs ``begin_epoch`` to
    ``end_epoch`` (inclusive, counted from 1; the code's defaults 0 to 100
    counted from 0 are 1 to 101 here); the fused loss is always trained.

    Prototypes are computed before every training epoch up to
    ``end_epoch`` (:meth:`before_train_epoch`, through
    :class:`mmdr.engine.hooks.BalancerHook`), as the code does before
    training and after each epoch:

    - features in eval mode, no gradient
      (:meth:`MultiModalRecognizer.extract_modality_features`), of the
      training data read with the training pipeline, batch size and a
      shuffling loader, as the code reads its ``train_dataloader``;
    - the first ``max(1, floor(proto_fraction * batches))`` batches of a
      pass (the code's ``all_num // 10``: 10% of the batches);
    - ``(1 - momentum) * means + momentum * previous`` from epoch 3 on; the
      passes before epochs 1 and 2 take plain means (the code calls its
      ``calculate_prototype`` with epoch 0 for both and blends only for
      epoch > 0).

    Decisions where the code is a bug, hard-coded or single-process:

    - A class that a pass does not see keeps its previous prototype (the
      code divides by zero). If the first pass misses a class, it is redone
      on the whole training set; a class without any training sample is an
      error.
    - The code computes AVE's and Colored-and-Gray-MNIST's prototypes on
      their validation/test split; here they always come from the training
      data.
    - Passes after ``end_epoch`` are skipped: their prototypes are never
      used.
    - The pass draws nothing from the training random stream: its loader
      is seeded from the run's seed and the epoch (``DefaultSampler`` with
      ``set_epoch``, a new order each pass as the code's shuffling loader),
      and the generators are restored afterwards.
    - Distributed: the encoders' buffers (BatchNorm statistics, which
      drift apart under ``broadcast_buffers=False``) are first broadcast
      from the main process, as :class:`DRHook` does; each rank reads its
      share of the loader (no padding duplicates) and the per-class sums
      and counts are summed over the ranks, so every rank holds the
      prototypes of one process with the main process's weights and
      buffers. The batch scores are summed over the ranks before the ratio
      (the code sees the whole batch on one GPU).
    - The dominant modality's prototype loss is a logged zero, not the
      code's ``0 * loss`` (which is NaN where the loss is not finite), and
      a feature equal to a prototype has a zero distance gradient, not the
      code's NaN (:func:`prototype_logits`).

    The prototypes are buffers (``prototypes_<modality>``, and
    ``proto_epoch``: the epoch they were computed for, 0 before the first
    pass), so checkpoints hold them and a resumed run continues with them.

    Paper: Fan et al., "PMR: Prototypical Modal Rebalance for Multimodal
    Learning", CVPR 2023. Code:
    https://github.com/fanyunfeng-bit/Modal-Imbalance-PMR
    (``main_Prototype_grad.py``: ``train_epoch``, ``calculate_prototype``;
    defaults ``alpha=1.0``, ``momentum_coef=0.2``, modulation epochs 0-100
    of 150).

    Args:
        alpha (float): Weight of the weaker modality's prototype loss.
            Defaults to 1.0.
        momentum (float): Weight of the previous prototypes. Defaults to
            0.2.
        begin_epoch (int): First modulated epoch. Defaults to 1.
        end_epoch (int): Last modulated epoch. Defaults to 101.
        proto_fraction (float): Fraction of the training batches each
            prototype pass reads (at least one batch). Defaults to 0.1.
        init_cfg (dict, optional): Initialisation config.
    """
    max_modalities = 2

    def __init__(self,
                 alpha: float = 1.0,
                 momentum: float = 0.2,
                 begin_epoch: int = 1,
                 end_epoch: int = 101,
                 proto_fraction: float = 0.1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        checks = dict(
            alpha=alpha >= 0,
            momentum=0 <= momentum < 1,
            begin_epoch=isinstance(begin_epoch, int) and begin_epoch >= 1,
            end_epoch=isinstance(end_epoch, int) and end_epoch >= 1,
            proto_fraction=0 < proto_fraction <= 1)
        values = dict(
            alpha=alpha,
            momentum=momentum,
            begin_epoch=begin_epoch,
            end_epoch=end_epoch,
            proto_fraction=proto_fraction)
        for name, ok in checks.items():
            if not ok:
                raise ValueError(
                    f'PMR: {name}={values[name]!r} is invalid (alpha >= 0, '
                    '0 <= momentum < 1, begin_epoch and end_epoch integers '
                    '>= 1, 0 < proto_fraction <= 1)')
        self.alpha = float(alpha)
        self.momentum = float(momentum)
        self.begin_epoch = begin_epoch
        self.end_epoch = end_epoch
        self.proto_fraction = float(proto_fraction)
        self.modalities: tuple = ()
        self.register_buffer('proto_epoch', torch.zeros((), dtype=torch.long))
        self._loader = None

    # ------------------------------------------------------------------
    # set-up
    # ------------------------------------------------------------------
    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Check the model and register one prototype buffer per modality.

        Args:
            model (MultiModalRecognizer): The recogniser being built.
        """
        super().check_model(model)
        num_classes = getattr(model.cls_head, 'num_classes', None)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                'PMR needs class prototypes: model.cls_head '
                f'({type(model.cls_head).__name__}) must be a classification '
                f'head with num_classes >= 2, it has {num_classes!r}')
        self.modalities = tuple(model.modalities)
        for m in self.modalities:
            self.register_buffer(
                self._buffer_name(m),
                torch.zeros(num_classes, model.encoders[m].feat_dim))

    @staticmethod
    def _buffer_name(modality: str) -> str:
        return f'prototypes_{modality}'

    def prototypes(self, modality: str) -> torch.Tensor:
        """The (num_classes, feat_dim) prototypes of a modality.

        Args:
            modality (str): The modality.

        Returns:
            torch.Tensor: The buffer.
        """
        return getattr(self, self._buffer_name(modality))

    def active(self) -> bool:
        """bool: Whether the current epoch is modulated."""
        return self.in_epochs(self.begin_epoch, self.end_epoch)

    # ------------------------------------------------------------------
    # prototypes
    # ------------------------------------------------------------------
    def before_train_epoch(self, runner) -> None:
        """Compute the prototypes the coming epoch trains with, on every
        rank.

        Args:
            runner (Runner): The runner; ``runner.epoch`` epochs are done.
        """
        self.check_epoch_based_loop(runner,
                                    'computes prototypes before every epoch')
        epoch = runner.epoch + 1
        if epoch > self.end_epoch:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if self._loader is None:
            self._loader = self.training_set_loader(runner, shuffle=True)
        encoders = [model.encoders[m] for m in self.modalities]
        with preserved_random_state(), main_process_buffers(encoders):
            seen = self.compute_prototypes(model, self._loader, epoch,
                                           runner.seed or 0)
        runner.logger.info(
            f'PMR: prototypes for epoch {epoch} from {seen} training '
            f'samples (proto_fraction={self.proto_fraction}, momentum '
            f'{self.momentum if epoch >= FIRST_MOMENTUM_EPOCH else 0.0}).')

    @torch.no_grad()
    def compute_prototypes(self,
                           model: 'MultiModalRecognizer',
                           loader: Iterable[dict],
                           epoch: int,
                           seed: int = 0) -> int:
        """Update the prototype buffers for ``epoch`` (a collective call).

        Args:
            model (MultiModalRecognizer): The recogniser (unwrapped).
            loader (Iterable[dict]): Training batches as a dataloader yields
                them (a DataLoader's sampler and generator are set from
                ``seed`` and ``epoch``).
            epoch (int): The epoch about to train, counted from 1.
            seed (int): The run's seed. Defaults to 0.

        Returns:
            int: Samples read, over all ranks.
        """
        first = int(self.proto_epoch) == 0
        limit = max(1, math.floor(len(loader) * self.proto_fraction + 1e-9))
        sums, counts = self._class_sums(model, loader, epoch, seed, limit)
        if first and bool((counts == 0).any()):
            # No previous prototype to keep: read every training sample.
            sums, counts = self._class_sums(model, loader, epoch, seed,
                                            len(loader))
            missing = torch.nonzero(counts == 0).view(-1).tolist()
            if missing:
                raise ValueError(
                    f'PMR: the training data has no sample of classes '
                    f'{missing}; every class needs a prototype')
        momentum = self.momentum if epoch >= FIRST_MOMENTUM_EPOCH else 0.0
        for m in self.modalities:
            buffer = self.prototypes(m)
            buffer.copy_(
                update_prototypes(sums[m], counts, None if first else buffer,
                                  momentum))
        self.proto_epoch.fill_(epoch)
        return int(counts.sum())

    def _class_sums(self, model, loader, epoch: int, seed: int,
                    limit: int) -> tuple:
        """Per-class feature sums and counts of the first ``limit`` batches
        of this rank, summed over the ranks."""
        seed_epoch_loader(loader, seed, epoch)
        sums = {
            m: torch.zeros_like(self.prototypes(m))
            for m in self.modalities
        }
        counts = torch.zeros(
            self.prototypes(self.modalities[0]).shape[0],
            dtype=torch.long,
            device=self.proto_epoch.device)
        for feats, labels in modality_feature_batches(
                model, loader, self.modalities, max_batches=limit):
            for m, f in feats.items():
                sums[m].index_add_(0, labels, f)
            counts += torch.bincount(labels, minlength=counts.numel())
        for m in self.modalities:
            all_reduce(sums[m])
        all_reduce(counts)
        return sums, counts

    # ------------------------------------------------------------------
    # loss
    # ------------------------------------------------------------------
    def _check_prototypes(self) -> None:
        epoch = self.current_epoch()
        if epoch <= self.end_epoch and int(self.proto_epoch) != epoch:
            computed = int(self.proto_epoch)
            when = ('were never computed' if computed == 0 else
                    f'were last computed for epoch {computed}')
            raise RuntimeError(
                f'PMR: epoch {epoch} trains with prototypes, but they '
                f"{when}. mmdr's BalancerHook computes them before every "
                "epoch: keep default_hooks.balancer=dict(type='BalancerHook')"
                ' (configs/_base_/default_runtime.py) in the config.')

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The fused loss plus the weaker modality's prototype loss.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls`` and accuracies; in the
            modulated epochs also ``loss_proto_<modality>`` (weighted; 0
            for the dominant modality) and the logged ``pmr_ratio``
            (first modality's score over the second's) and ``pmr_ce_<m>``
            (unweighted prototype cross entropies).
        """
        self._check_prototypes()
        losses = self.fused_loss(model, feats, data_samples)
        if not self.active():
            return losses
        labels = gt_labels(data_samples, losses['loss_cls'].device)
        logits = {
            m: prototype_logits(feats[m], self.prototypes(m))
            for m in self.modalities
        }
        with torch.no_grad():
            scores = torch.stack([
                F.softmax(logits[m], dim=1).gather(1, labels[:, None]).sum()
                for m in self.modalities
            ])
            all_reduce(scores)  # sum over ranks: the whole batch's scores
            coeffs = prototype_coefficients(scores, self.alpha).tolist()
        for m, coeff in zip(self.modalities, coeffs):
            ce = F.cross_entropy(logits[m], labels)
            losses[f'loss_proto_{m}'] = (
                coeff * ce if coeff > 0 else ce.new_zeros(()))
            losses[f'pmr_ce_{m}'] = ce.detach()
        losses['pmr_ratio'] = (scores[0] / scores[1]).detach()
        return losses

    def extra_repr(self) -> str:
        return (f'alpha={self.alpha}, momentum={self.momentum}, epochs '
                f'{self.begin_epoch}-{self.end_epoch}, '
                f'proto_fraction={self.proto_fraction}')
