import copy
import math
import random
from contextlib import contextmanager
from typing import (TYPE_CHECKING, Dict, Iterable, Iterator, List, Optional,
                    Sequence, Sized, Tuple)

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dataset import DefaultSampler
from mmengine.dist import all_reduce, get_world_size
from mmengine.model import is_model_wrapper
from mmengine.structures import BaseDataElement

from mmdr.registry import DATA_SAMPLERS, MODELS
from mmdr.utils.dist_utils import main_process_buffers
from mmdr.utils.feature_pass import modality_feature_batches
from mmdr.utils.random_state import (epoch_seed, preserved_random_state,
                                     seed_epoch_loader)
from .base_balancer import BaseBalancer, gt_labels

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer

#: The name of the fused head among the blended heads.
FUSED = 'fused'


def heldout_split(num_samples: int, heldout_fraction: float,
                  split_seed: int) -> Tuple[List[int], List[int]]:
    """Split a data set's indices into a training part and a held-out part.

    ``max(1, floor(heldout_fraction * num_samples))`` indices drawn by a
    permutation from ``split_seed`` are held out; both parts are returned in
    data set order.

    Args:
        num_samples (int): The data set's length.
        heldout_fraction (float): The held-out share, in (0, 1).
        split_seed (int): Seed of the permutation.

    Returns:
        tuple[list[int], list[int]]: The training and the held-out indices.
    """
    size = max(1, math.floor(num_samples * heldout_fraction + 1e-9))
    if size >= num_samples:
        raise ValueError(
            f'heldout_fraction={heldout_fraction} of {num_samples} samples '
            'leaves nothing to train on')
    order = torch.randperm(
        num_samples, generator=torch.Generator().manual_seed(split_seed))
    heldout = sorted(order[:size].tolist())
    train = sorted(order[size:].tolist())
    return train, heldout


@DATA_SAMPLERS.register_module()
class HeldOutSampler(DefaultSampler):
    """mmengine's ``DefaultSampler`` over one part of a data set that is
    split into a training part and a held-out part (:func:`heldout_split`).

    The training loader of a Gradient-Blending run reads the training part
    (``part='train'``): the held-out samples, on which the blending weights
    are estimated, are never trained on. Every rank reads its share of the
    part, shuffled and rounded up as ``DefaultSampler`` does.

    Args:
        dataset (Sized): The data set.
        shuffle (bool): Shuffle every epoch. Defaults to True.
        seed (int, optional): Seed of the shuffling (the run's seed).
            Defaults to None.
        round_up (bool): Repeat samples so that every rank reads as many.
            Defaults to True.
        heldout_fraction (float): The held-out share of the data set.
            Defaults to 0.1.
        split_seed (int): Seed of the split, independent of the run's seed so
            that every seed and method holds out the same samples. Defaults
            to 0.
        part (str): ``'train'`` or ``'heldout'``. Defaults to ``'train'``.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True,
                 heldout_fraction: float = 0.1,
                 split_seed: int = 0,
                 part: str = 'train') -> None:
        if not 0 < heldout_fraction < 1:
            raise ValueError(f'HeldOutSampler: heldout_fraction='
                             f'{heldout_fraction!r} must be in (0, 1)')
        if part not in ('train', 'heldout'):
            raise ValueError(f"HeldOutSampler: part={part!r} is neither "
                             "'train' nor 'heldout'")
        super().__init__(dataset, shuffle, seed, round_up)
        self.heldout_fraction = heldout_fraction
        self.split_seed = split_seed
        self.part = part
        self.train_indices, self.heldout_indices = heldout_split(
            len(dataset), heldout_fraction, split_seed)
        self.indices = (
            self.train_indices if part == 'train' else self.heldout_indices)
        size = len(self.indices)
        if self.round_up:
            self.num_samples = math.ceil(size / self.world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = math.ceil((size - self.rank) / self.world_size)
            self.total_size = size

    def __iter__(self) -> Iterator[int]:
        """This rank's share of the part's indices."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(
                len(self.indices), generator=generator).tolist()
        else:
            order = list(range(len(self.indices)))
        indices = [self.indices[i] for i in order]
        if self.round_up:
            indices = (
                indices *
                int(self.total_size / len(indices) + 1))[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.world_size])


def blending_weights(train_before: torch.Tensor,
                     heldout_before: torch.Tensor,
                     train_after: torch.Tensor,
                     heldout_after: torch.Tensor,
                     eps: float = 1e-8) -> torch.Tensor:
    """Gradient-Blending's weights from each head's losses before and after
    a super-epoch.

    With the generalisation gain ``G = L^V_before - L^V_after`` and the
    change in overfitting ``O = (L^V_after - L^T_after) - (L^V_before -
    L^T_before)`` of every head, the weights are ``|G| / O^2`` normalised to
    sum 1 (the paper's ``w = G / O^2 / Z``; ``|.|`` as BalanceMM's
    ``abs(g / o**2)``). ``O^2`` is floored at ``eps`` (a head whose
    overfitting did not change would take all the weight, or NaN); if every
    gain is 0 the weights are uniform.

    Args:
        train_before (torch.Tensor): (K, ) losses on the training part at
            the super-epoch's start.
        heldout_before (torch.Tensor): (K, ) held-out losses at the start.
        train_after (torch.Tensor): (K, ) training losses at its end.
        heldout_after (torch.Tensor): (K, ) held-out losses at its end.
        eps (float): Floor of ``O^2``. Defaults to 1e-8.

    Returns:
        torch.Tensor: (K, ) weights, summing to 1.
    """
    gain = heldout_before - heldout_after
    overfitting = (heldout_after - train_after) - (
        heldout_before - train_before)
    raw = gain.abs() / overfitting.pow(2).clamp(min=eps)
    total = raw.sum()
    if not bool(torch.isfinite(total)) or float(total) == 0:
        return torch.full_like(raw, 1 / raw.numel())
    return raw / total


@contextmanager
def _seeded_random_state(seed: int) -> Iterator[None]:
    """Every generator of the process seeded for a block and restored
    after it: the block draws nothing from the training stream, and the
    same in every run."""
    with preserved_random_state():
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        yield


@MODELS.register_module()
class GradientBlending(BaseBalancer):
    """Gradient-Blending: a weighted sum of the uni-modal heads' and the
    fused head's losses, the weights from each head's overfitting-to-
    generalisation ratio.

    Every encoder has its own linear head (``model.unimodal_head``); the
    training loss is ``sum_m w_m CE(head_m(f_m)) + w_fused loss_cls``. The
    weights are estimated before the first epoch and every ``interval``
    epochs after it (the paper's online G-Blend, its super-epoch
    ``interval``), or once for the whole schedule (``interval=None``: its
    offline G-Blend), by the paper's weight estimation:

    - from the model's current state, each head is trained alone for a
      super-epoch (``interval`` epochs; offline: ``max_epochs``): the
      uni-modal model ``m`` (encoder ``m`` and its head) on its head's cross
      entropy, the multi-modal model (every encoder, the fusion and the
      fused head) on the fused head's cross entropy, each a copy trained by
      a fresh optimiser of the run's class and hyperparameters (the first
      parameter group's, at the estimate) on the training part of the data;
    - each head's mean cross entropy on the training part (``L^T``) and on
      the held-out part (``L^V``) before and after, in eval mode;
    - :func:`blending_weights`: ``|G| / O^2``, normalised.

    The held-out set (the paper's ``V``, which the models are not trained
    on) is carved from the training set, as the public re-implementations
    tsai (``V_pct``) and MultiBench (``v_rate``) carve it. BalanceMM
    estimates on its evaluation loader, which is its test split; here the
    test split is never read, and the validation split is not used either:
    it selects the checkpoints, and weights fitted to it would make that
    selection optimistic. The run's training loader must read the other
    part with :class:`HeldOutSampler`
    (``train_dataloader.sampler=dict(type='HeldOutSampler', ...)``, in the
    method's config fragment), so that no held-out sample is trained on;
    training is refused otherwise.

    Decisions where the paper and BalanceMM's ``GBlendingTrainer`` are
    silent or differ:

    - The uni-modal models are each encoder with its own head, as in the
      paper; BalanceMM trains the whole model on the fused output with the
      other modalities' inputs zeroed.
    - ``L^T`` is the mean loss of an eval-mode pass over the training part,
      as ``L^V``; BalanceMM compares the summed running training loss of a
      super-epoch's first and last epochs with the summed loss of the
      held-out batches (sums over different numbers of batches).
    - The estimate draws nothing from the training stream: its generators
      are seeded from the run's seed and the epoch and restored after it,
      its loaders are its own. Gradient clipping and ``paramwise_cfg`` of
      the run's optimiser wrapper are not applied to the copies.
    - Distributed: the encoders' buffers are first taken from the main
      process (as PMR's prototypes); every rank trains the copies on its
      share of the training part with the gradients averaged over the
      ranks (as DDP does), the copies' buffers are taken from the main
      process before they are evaluated, and the per-head loss sums and
      sample counts are summed over the ranks before the weights are
      computed: every rank blends with the same weights.

    The weights (``weights``, in the order ``model.modalities`` then the
    fused head), the losses they came from (``estimate_losses``: rows
    ``L^T``, ``L^V`` before, ``L^T``, ``L^V`` after) and the epoch they were
    estimated for (``estimate_epoch``, 0 before the first estimate) are
    buffers: checkpoints hold them and a resumed run blends with them.

    Paper: Wang, Tran and Feiszli, "What Makes Training Multi-modal
    Classification Networks Hard?", CVPR 2020 (no public code). Code
    followed: https://github.com/GeWu-Lab/BalanceBenchmark
    (``balancemm/trainer/GBlending_trainer.py``: ``fit``,
    ``super_epoch_origin``, ``training_step``; online with ``super_epoch``
    10 of 30 epochs).

    Args:
        interval (int, optional): Epochs per super-epoch: the weights are
            re-estimated before epochs 1, 1 + interval, ... and each copy is
            trained ``interval`` epochs. None: offline, one estimate before
            epoch 1 with copies trained for the whole schedule. Defaults to
            10.
        eps (float): Floor of the squared change in overfitting. Defaults
            to 1e-8.
        init_cfg (dict, optional): Initialisation config.
    """
    unimodal_logits_from = 'unimodal_heads'

    def __init__(self,
                 interval: Optional[int] = 10,
                 eps: float = 1e-8,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if interval is not None and (not isinstance(interval, int)
                                     or interval < 1):
            raise ValueError(f'GradientBlending: interval={interval!r} must '
                             'be an integer >= 1, or None (offline)')
        if not eps > 0:
            raise ValueError(f'GradientBlending: eps={eps!r} must be > 0')
        self.interval = interval
        self.eps = float(eps)
        self.heads: tuple = ()
        self.register_buffer('estimate_epoch', torch.zeros((),
                                                           dtype=torch.long))
        self._loaders: Optional[Dict[str, object]] = None

    # ------------------------------------------------------------------
    # set-up
    # ------------------------------------------------------------------
    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Check the model and register the weight buffers.

        Args:
            model (MultiModalRecognizer): The recogniser being built.
        """
        super().check_model(model)
        num_classes = getattr(model.cls_head, 'num_classes', None)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                'GradientBlending blends cross-entropy losses: '
                f'model.cls_head ({type(model.cls_head).__name__}) must be a '
                'classification head with num_classes >= 2, it has '
                f'{num_classes!r}')
        self.heads = (*model.modalities, FUSED)
        self.register_buffer(
            'weights', torch.full((len(self.heads), ), 1 / len(self.heads)))
        self.register_buffer('estimate_losses',
                             torch.zeros(4, len(self.heads)))

    def estimate_epochs(self, max_epochs: int) -> List[int]:
        """The epochs (counted from 1) whose start re-estimates the weights.

        Args:
            max_epochs (int): The schedule's length.

        Returns:
            list[int]: 1, 1 + interval, ... up to ``max_epochs``.
        """
        if self.interval is None:
            return [1]
        return list(range(1, max_epochs + 1, self.interval))

    def weight_of(self, head: str) -> torch.Tensor:
        """The weight of a head (a modality or ``'fused'``).

        Args:
            head (str): The head.

        Returns:
            torch.Tensor: A scalar.
        """
        return self.weights[self.heads.index(head)]

    # ------------------------------------------------------------------
    # the estimate
    # ------------------------------------------------------------------
    def before_train_epoch(self, runner) -> None:
        """Estimate the weights where a super-epoch starts, on every rank.

        Args:
            runner (Runner): The runner; ``runner.epoch`` epochs are done.
        """
        self.check_epoch_based_loop(
            runner, 'estimates its weights every interval epochs')
        # Every epoch, a resumed run too: no held-out sample is trained on.
        self._check_sampler(runner.train_dataloader.sampler)
        epoch = runner.epoch + 1
        if epoch not in self.estimate_epochs(runner.max_epochs):
            return
        if self._loaders is None:
            self._loaders = self._build_loaders(runner)
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        optimizer = runner.optim_wrapper.optimizer
        group = optimizer.param_groups[0]
        optimizer_cfg = dict(
            type=type(optimizer),
            **{k: group[k]
               for k in optimizer.defaults if k in group})
        epochs = runner.max_epochs if self.interval is None else self.interval
        with main_process_buffers(model.encoders.values()):
            self.estimate(model, self._loaders, optimizer_cfg, epochs, epoch,
                          runner.seed or 0)
        weights = ', '.join(f'{h} {w:.4f}'
                            for h, w in zip(self.heads, self.weights.tolist()))
        runner.logger.info(
            f'GradientBlending: weights for epochs {epoch}-'
            f'{epoch + epochs - 1} from copies trained {epochs} epochs on '
            f'{len(self._loaders["train"].sampler.indices)} training '
            f'samples, {len(self._loaders["heldout"].sampler.indices)} held '
            f'out: {weights}')

    @staticmethod
    def _check_sampler(sampler) -> None:
        """Raise unless the training loader reads the training part."""
        if not isinstance(sampler, HeldOutSampler) or sampler.part != 'train':
            raise TypeError(
                'GradientBlending estimates its weights on samples held out '
                'of the training set, which must not be trained on: set '
                "train_dataloader.sampler=dict(type='HeldOutSampler', "
                'heldout_fraction=0.1) (configs/_base_/methods/'
                f'gradient_blending.py); the run\'s sampler is '
                f'{type(sampler).__name__}')

    def _build_loaders(self, runner) -> Dict[str, object]:
        """The estimate's loaders of the two parts of the training data,
        with the training loader's settings, each with its own generator."""
        sampler = runner.train_dataloader.sampler
        split = dict(
            type='HeldOutSampler',
            heldout_fraction=sampler.heldout_fraction,
            split_seed=sampler.split_seed)
        samplers = dict(
            # The copies train as the run does: shuffled, rounded up so that
            # every rank takes as many steps.
            fit=dict(split, part='train', shuffle=True, round_up=True),
            # Loss passes: every sample once.
            train=dict(split, part='train', shuffle=False, round_up=False),
            heldout=dict(split, part='heldout', shuffle=False, round_up=False))
        return {
            name: self.training_set_loader(runner, sampler=cfg)
            for name, cfg in samplers.items()
        }

    def estimate(self, model: 'MultiModalRecognizer',
                 loaders: Dict[str, object], optimizer_cfg: dict, epochs: int,
                 epoch: int, seed: int) -> torch.Tensor:
        """Estimate the weights for ``epoch`` and store them (a collective
        call).

        Args:
            model (MultiModalRecognizer): The recogniser (unwrapped).
            loaders (dict): ``fit`` (batches the copies train on), ``train``
                and ``heldout`` (the two parts, for the losses); DataLoaders
                or lists of batches.
            optimizer_cfg (dict): ``type`` (an optimiser class) and its
                keyword arguments.
            epochs (int): Epochs each copy trains.
            epoch (int): The epoch about to train, counted from 1.
            seed (int): The run's seed.

        Returns:
            torch.Tensor: The (K, ) weights.
        """
        with _seeded_random_state(epoch_seed(seed, epoch)):
            before = self.head_losses(model, loaders, self.heads)
            after = []
            for head in self.heads:
                copied = self._copy_model(model)
                self._fit(copied, head, loaders['fit'], optimizer_cfg, epochs,
                          seed, epoch)
                with main_process_buffers([copied]):
                    after.append(self.head_losses(copied, loaders, [head]))
                del copied
        after = torch.stack([a[:, 0] for a in after], dim=1)
        losses = torch.cat([before, after])
        self.estimate_losses.copy_(losses)
        self.weights.copy_(blending_weights(*losses, eps=self.eps))
        self.estimate_epoch.fill_(epoch)
        return self.weights.clone()

    def _copy_model(self, model: 'MultiModalRecognizer'):
        """The recogniser without its balancer, copied."""
        balancer = model.balancer
        model.balancer = None
        try:
            copied = copy.deepcopy(model)
        finally:
            model.balancer = balancer
        copied.train()
        return copied

    @staticmethod
    def _head_logits(model: 'MultiModalRecognizer', head: str,
                     feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        if head == FUSED:
            return model.cls_head(model.fusion(feats))
        return model.unimodal_logits({head: feats[head]},
                                     'unimodal_heads')[head]

    def _fit(self, model: 'MultiModalRecognizer', head: str, loader,
             optimizer_cfg: dict, epochs: int, seed: int, epoch: int) -> None:
        """Train a copy's model of ``head`` alone (its encoders and head) on
        the head's cross entropy, gradients averaged over the ranks."""
        modalities = model.modalities if head == FUSED else (head, )
        if head == FUSED:
            params = [
                *model.encoders.parameters(), *model.fusion.parameters(),
                *model.cls_head.parameters()
            ]
        else:
            params = [
                *model.encoders[head].parameters(),
                *model.unimodal_heads[head].parameters()
            ]
        cfg = dict(optimizer_cfg)
        optimizer = cfg.pop('type')(params, **cfg)
        optimizer.zero_grad(set_to_none=True)
        world_size = get_world_size()
        for copy_epoch in range(epochs):
            # A new order each copy epoch of each estimate, the same for
            # every head and in every run.
            seed_epoch_loader(loader, seed, epoch_seed(epoch, copy_epoch))
            for batch in loader:
                data = model.data_preprocessor(batch, training=True)
                feats = {
                    m: model.encoders[m](data['inputs'][m])
                    for m in modalities
                }
                labels = gt_labels(data['data_samples'],
                                   next(iter(feats.values())).device)
                loss = F.cross_entropy(
                    self._head_logits(model, head, feats), labels)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if world_size > 1:
                    for param in params:
                        if param.grad is not None:
                            all_reduce(param.grad, op='mean')
                optimizer.step()

    @torch.no_grad()
    def head_losses(self, model: 'MultiModalRecognizer',
                    loaders: Dict[str, Iterable[dict]],
                    heads: Sequence[str]) -> torch.Tensor:
        """Each head's mean cross entropy on the training and the held-out
        part, in eval mode, over all ranks (a collective call).

        Args:
            model (MultiModalRecognizer): A recogniser.
            loaders (dict): ``train`` and ``heldout`` batches.
            heads (Sequence[str]): Modalities and/or ``'fused'``.

        Returns:
            torch.Tensor: (2, len(heads)): ``L^T`` and ``L^V``.
        """
        modalities = model.modalities if FUSED in heads else list(heads)
        was_training = model.training
        model.eval()
        try:
            rows = []
            for part in ('train', 'heldout'):
                seed_epoch_loader(loaders[part], 0, 0)
                sums = torch.zeros(len(heads), dtype=torch.float64)
                count = torch.zeros((), dtype=torch.float64)
                for feats, labels in modality_feature_batches(
                        model, loaders[part], modalities):
                    for i, head in enumerate(heads):
                        sums[i] += F.cross_entropy(
                            self._head_logits(model, head, feats),
                            labels,
                            reduction='sum').double().cpu()
                    count += labels.numel()
                device = self.estimate_epoch.device
                sums, count = sums.to(device), count.to(device)
                # Sum over ranks: the loss of every sample of the part.
                all_reduce(sums)
                all_reduce(count)
                rows.append((sums / count).float())
        finally:
            model.train(was_training)
        return torch.stack(rows)

    # ------------------------------------------------------------------
    # loss
    # ------------------------------------------------------------------
    def _check_estimate(self) -> None:
        if int(self.estimate_epoch) == 0:
            raise RuntimeError(
                'GradientBlending: the blending weights were never '
                "estimated. mmdr's BalancerHook estimates them before the "
                "first epoch: keep default_hooks.balancer=dict(type="
                "'BalancerHook') (configs/_base_/default_runtime.py) in the "
                'config.')

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The weighted sum of the fused and the uni-modal losses.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls`` (the fused head's loss
            times its weight), accuracies, ``loss_unimodal_<modality>``
            (weighted cross entropies) and the logged weights
            ``gblend_weight_<head>``.
        """
        self._check_estimate()
        losses = self.fused_loss(model, feats, data_samples)
        losses['loss_cls'] = self.weight_of(FUSED) * losses['loss_cls']
        labels = gt_labels(data_samples, losses['loss_cls'].device)
        logits = model.unimodal_logits(feats, 'unimodal_heads')
        for m in model.modalities:
            losses[f'loss_unimodal_{m}'] = self.weight_of(m) * F.cross_entropy(
                logits[m], labels)
        for head, weight in zip(self.heads, self.weights):
            losses[f'gblend_weight_{head}'] = weight.detach().clone()
        return losses

    def extra_repr(self) -> str:
        return f'interval={self.interval}, eps={self.eps}'
