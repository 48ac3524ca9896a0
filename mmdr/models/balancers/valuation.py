from typing import TYPE_CHECKING, Dict, Iterable, List, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.model import is_model_wrapper
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from mmdr.utils.dist_utils import main_process_buffers
from mmdr.utils.random_state import (epoch_seed, preserved_random_state,
                                     seed_epoch_loader)
from .base_balancer import BaseBalancer, gt_labels

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer

#: The valuation's levels.
LEVELS = ('sample', 'modality')


def sample_contributions(full_correct: torch.Tensor,
                         alone_correct: torch.Tensor) -> torch.Tensor:
    """Each sample's Shapley contribution of each of two modalities.

    The game's value of a set of modalities is its size where the model
    given only these modalities (the others' features zeroed) predicts the
    label, 0 where it does not (the authors' ``value_all = 2.0``,
    ``value_a = value_v = 1.0``); the Shapley value of modality ``m`` with
    the other ``o`` is ``(v(m) + v(m, o) - v(o)) / 2``, one of -0.5, 0,
    0.5, 1 and 1.5 (the two-player case of
    :func:`mmdr.analysis.shapley.shapley_values`, which the models do not
    import).

    Args:
        full_correct (torch.Tensor): (N, ) bool, the full input predicted.
        alone_correct (torch.Tensor): (2, N) bool, each modality alone
            predicted.

    Returns:
        torch.Tensor: (2, N) float contributions.
    """
    full = 2.0 * full_correct.float()
    alone = alone_correct.float()
    return (alone + full - alone.flip(0)) / 2


def sample_level_copies(contributions: torch.Tensor) -> torch.Tensor:
    """The sample-level re-sampling: how often each sample is added again,
    with only the modality kept, for each modality's contribution.

    The authors' thresholds: 1 copy for a contribution in (0.4, 1) (0.5),
    2 in (-0.1, 0.4) (0), 3 below -0.1 (-0.5), none from 1 on.

    Args:
        contributions (torch.Tensor): (2, N) :func:`sample_contributions`.

    Returns:
        torch.Tensor: (2, N) int64 numbers of copies.
    """
    copies = torch.zeros_like(contributions, dtype=torch.long)
    copies[(contributions > 0.4) & (contributions < 1)] = 1
    copies[(contributions > -0.1) & (contributions < 0.4)] = 2
    copies[contributions < -0.1] = 3
    return copies


def modality_level_copies(contributions: torch.Tensor, part_ratio: float,
                          alpha: float,
                          generator: torch.Generator) -> torch.Tensor:
    """The modality-level re-sampling: samples drawn at random are added
    again with only the modality of the smaller mean contribution kept.

    ``floor(part_ratio * N)`` samples drawn with replacement estimate each
    modality's mean contribution ``c_m``; with the gaps ``g_m = 1 - c_m``,
    ``floor(|g_0 - g_1| * 2 / 3 * alpha * N)`` samples drawn with
    replacement are each copied once, keeping modality 0 where
    ``g_0 > g_1`` and modality 1 otherwise (the authors' linear form).

    Args:
        contributions (torch.Tensor): (2, N) :func:`sample_contributions`.
        part_ratio (float): Share of the samples that estimates the means.
        alpha (float): Scale of the number of copies.
        generator (torch.Generator): The draws' CPU generator.

    Returns:
        torch.Tensor: (2, N) int64 numbers of copies (one row is zero).
    """
    num_samples = contributions.shape[1]
    part = torch.randint(
        num_samples, (int(num_samples * part_ratio), ), generator=generator)
    gaps = 1.0 - contributions.cpu()[:, part].double().mean(dim=1)
    difference = float((gaps[0] - gaps[1]).abs()) / 3 * 2 * alpha
    chosen = torch.randint(
        num_samples, (int(difference * num_samples), ), generator=generator)
    copies = torch.zeros((2, num_samples), dtype=torch.long)
    kept = 0 if bool(gaps[0] > gaps[1]) else 1
    copies[kept] = torch.bincount(chosen, minlength=num_samples)
    return copies.to(contributions.device)


@MODELS.register_module()
class SampleValuation(BaseBalancer):
    """Sample-level and modality-level modality valuation: each training
    sample's Shapley contribution of every modality, and re-learning of the
    low-contributing modality on copies of samples that keep only it.

    After ``warmup_epochs`` epochs of joint training, every epoch starts by
    valuing the training set with the current model (eval mode, every
    sample once, :func:`sample_contributions`); the epoch then trains, as
    the authors' re-sampled data set does, on each sample and on its
    copies, a copy keeping one modality's features and zeroing the other's
    before the fusion:

    - ``level='sample'``: :func:`sample_level_copies`, up to 3 copies per
      sample and modality, more the less the modality contributes to it;
    - ``level='modality'``: :func:`modality_level_copies`, single copies of
      random samples keeping the modality of the smaller mean contribution,
      their number growing with the gap between the modalities.

    The authors append the copies to the data set and shuffle them among
    the samples; here a sample's copies train in its own batch, reusing its
    features: an epoch visits the same samples and copies in fewer steps,
    and a batch's loss is the fused head's cross entropy averaged over its
    samples and their copies (the authors' batch loss). Copies share their
    sample's augmentation and, in encoders with BatchNorm, batch statistics
    of the samples without the copies (the authors' re-load them).

    Decisions where the code is silent or differs:

    - The valuation reads the training set with the training loader's
      pipeline (the authors' ``train_val_dataloader``), from the model at
      the epoch's start (the authors': at the end of the previous epoch,
      the same state).
    - BalanceMM (``Sample_trainer.py``) values with ``v = 1`` for the full
      input and re-samples every modality at the modality level without
      ``alpha``; the authors' rule is followed.
    - The modality level's random draws come from a generator seeded by
      the run's seed and the epoch, the same on every rank.
    - Distributed: every rank values its share of the training set and the
      contributions are summed over the ranks, so every rank holds every
      sample's; a rank's loss is scaled by its share of the items (samples
      and copies) of the whole batch, so that DDP's average is the whole
      batch's mean.

    Paper: Wei, Feng, Wang and Hu, "Enhancing Multimodal Cooperation via
    Sample-level Modality Valuation", CVPR 2024. Code followed:
    https://github.com/GeWu-Lab/Valuate-and-Enhance-Multimodal-Cooperation
    (``code/sample_level.py`` and ``code/modality_level.py``:
    ``execute_modulation``, ``train_epoch``; ``code/datasets/
    dataloader.py``: ``AV_KS_Dataset_sample_level``,
    ``AV_KS_Dataset_modality_level``; ``code/models/models.py``:
    ``exec_drop``).

    Args:
        level (str): ``'sample'`` or ``'modality'``. Defaults to
            ``'sample'``.
        warmup_epochs (int): Epochs of joint training before the first
            valuation (the authors' ``--warmup`` 5). Defaults to 5.
        part_ratio (float): Modality level: share of the training samples
            that estimates the mean contributions (the authors'
            ``--part_ratio`` 0.2). Defaults to 0.2.
        alpha (float): Modality level: scale of the number of copies (the
            authors' ``--alpha`` 1). Defaults to 1.0.
        init_cfg (dict, optional): Initialisation config.
    """
    unimodal_logits_from = 'fused_head'
    max_modalities = 2

    def __init__(self,
                 level: str = 'sample',
                 warmup_epochs: int = 5,
                 part_ratio: float = 0.2,
                 alpha: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if level not in LEVELS:
            raise ValueError(f'SampleValuation: level={level!r} is neither '
                             "'sample' nor 'modality'")
        if not isinstance(warmup_epochs, int) or warmup_epochs < 0:
            raise ValueError(f'SampleValuation: warmup_epochs='
                             f'{warmup_epochs!r} must be an integer >= 0')
        if not 0 < part_ratio <= 1:
            raise ValueError(
                f'SampleValuation: part_ratio={part_ratio} must be in (0, 1]')
        if alpha < 0:
            raise ValueError(
                f'SampleValuation: alpha={alpha} must not be negative')
        self.level = level
        self.warmup_epochs = warmup_epochs
        self.part_ratio = part_ratio
        self.alpha = alpha
        self.copies: Optional[torch.Tensor] = None
        self.valued_epoch = 0
        self._loader = None

    def active(self) -> bool:
        """bool: Whether the current epoch re-learns on copies."""
        return self.current_epoch() > self.warmup_epochs

    # ------------------------------------------------------------------
    # valuation
    # ------------------------------------------------------------------
    def before_train_epoch(self, runner) -> None:
        """Value the training set for the coming epoch, on every rank.

        Args:
            runner (Runner): The runner; ``runner.epoch`` epochs are done.
        """
        self.check_epoch_based_loop(runner,
                                    'values the training set every epoch')
        epoch = runner.epoch + 1
        if epoch <= self.warmup_epochs:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if self._loader is None:
            self._loader = self.training_set_loader(runner, shuffle=False)
        with preserved_random_state(), main_process_buffers(
                model.encoders.values()):
            contributions = self.value(model, self._loader,
                                       len(runner.train_dataloader.dataset),
                                       epoch, runner.seed or 0)
        means = ', '.join(f'{m} {c:.4f}'
                          for m, c in zip(model.modalities,
                                          contributions.mean(dim=1).tolist()))
        runner.logger.info(
            f'SampleValuation ({self.level} level): epoch {epoch} adds '
            f'{int(self.copies.sum())} copies to '
            f'{contributions.shape[1]} samples; mean contributions {means}')

    @torch.no_grad()
    def value(self,
              model: 'MultiModalRecognizer',
              loader: Iterable[dict],
              num_samples: int,
              epoch: int,
              seed: int = 0) -> torch.Tensor:
        """Value every training sample and set the copies of ``epoch`` (a
        collective call).

        Args:
            model (MultiModalRecognizer): The recogniser (unwrapped).
            loader (Iterable[dict]): Training batches whose data samples
                carry ``sample_idx``, this rank's share of the training set.
            num_samples (int): The training set's length.
            epoch (int): The epoch about to train, counted from 1.
            seed (int): The run's seed. Defaults to 0.

        Returns:
            torch.Tensor: (2, num_samples) contributions, in the order of
            ``model.modalities``.
        """
        training = model.training
        model.eval()
        device = next(model.parameters()).device
        contributions = torch.zeros((2, num_samples), device=device)
        valued = torch.zeros(num_samples, dtype=torch.long, device=device)
        seed_epoch_loader(loader, seed, epoch)
        try:
            for data in loader:
                data = model.data_preprocessor(data, False)
                feats = model.extract_feat(data['inputs'])
                samples = data['data_samples']
                index = self.sample_indices(samples, num_samples, device)
                labels = gt_labels(samples, device)
                full = model.cls_head(model.fusion(feats))
                alone = torch.stack([
                    model.cls_head(model.fusion(self.keep_only(feats, m)))
                    for m in model.modalities
                ])
                contributions[:, index] = sample_contributions(
                    full.argmax(dim=1) == labels,
                    alone.argmax(dim=2) == labels)
                valued[index] += 1
        finally:
            model.train(training)
        # Each rank valued its share: every rank needs every sample's.
        all_reduce(contributions)
        all_reduce(valued)
        if not bool((valued == 1).all()):
            raise RuntimeError(
                'SampleValuation: the valuation read '
                f'{int((valued == 0).sum())} training samples never and '
                f'{int((valued > 1).sum())} more than once; sample_idx must '
                f'number the {num_samples} training samples from 0')
        if self.level == 'sample':
            self.copies = sample_level_copies(contributions)
        else:
            generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
            self.copies = modality_level_copies(contributions, self.part_ratio,
                                                self.alpha, generator)
        self.valued_epoch = epoch
        return contributions

    @staticmethod
    def sample_indices(data_samples: List[BaseDataElement], num_samples: int,
                       device: torch.device) -> torch.Tensor:
        """The samples' positions in the training set (``sample_idx``)."""
        if any('sample_idx' not in s for s in data_samples):
            raise KeyError(
                'SampleValuation reads every sample\'s sample_idx: keep '
                "meta_keys=('sample_idx', ...) in PackMultiModalInputs")
        index = torch.tensor([int(s.sample_idx) for s in data_samples],
                             dtype=torch.long,
                             device=device)
        if bool(((index < 0) | (index >= num_samples)).any()):
            raise IndexError(
                f'SampleValuation: sample_idx {index.tolist()} outside the '
                f'{num_samples} training samples')
        return index

    @staticmethod
    def keep_only(feats: Dict[str, torch.Tensor],
                  kept: str) -> Dict[str, torch.Tensor]:
        """The features with every modality but ``kept`` zeroed (the
        authors' ``exec_drop``)."""
        return {
            m: f if m == kept else torch.zeros_like(f)
            for m, f in feats.items()
        }

    # ------------------------------------------------------------------
    # loss
    # ------------------------------------------------------------------
    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The fused head's loss over the samples and their copies.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations, with
                ``sample_idx``.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls`` and accuracies (over the
            samples and copies), and the logged ``valuation_copies_<m>``
            (this rank's copies keeping modality ``m``).
        """
        if not self.active():
            return self.fused_loss(model, feats, data_samples)
        epoch = self.current_epoch()
        if self.copies is None or self.valued_epoch != epoch:
            raise RuntimeError(
                f'SampleValuation: epoch {epoch} trains on copies, but the '
                'training set was not valued for it. mmdr\'s BalancerHook '
                "values it before every epoch: keep default_hooks.balancer="
                "dict(type='BalancerHook') in the config.")
        device = next(iter(feats.values())).device
        index = self.sample_indices(data_samples, self.copies.shape[1], device)
        logits = [model.cls_head(model.fusion(feats))]
        targets = list(data_samples)
        counts = {}
        for row, m in enumerate(model.modalities):
            repeats = self.copies[row].to(device)[index]
            counts[m] = repeats.sum()
            if int(counts[m]) == 0:
                continue
            kept = {
                k: f.repeat_interleave(repeats, dim=0)
                for k, f in self.keep_only(feats, m).items()
            }
            logits.append(model.cls_head(model.fusion(kept)))
            targets += [
                s for s, r in zip(data_samples, repeats.tolist())
                for _ in range(r)
            ]
        losses = model.cls_head.loss_by_feat(torch.cat(logits), targets)
        # The mean over this rank's items, scaled to its share of the whole
        # batch's: DDP's average of the ranks' losses is the whole mean.
        items = torch.tensor(float(len(targets)), device=device)
        total = items.clone()
        all_reduce(total)
        losses['loss_cls'] = losses['loss_cls'] * (
            items * get_world_size() / total)
        for m, count in counts.items():
            losses[f'valuation_copies_{m}'] = count.float()
        return losses

    def extra_repr(self) -> str:
        extra = (f', part_ratio={self.part_ratio}, alpha={self.alpha}'
                 if self.level == 'modality' else '')
        return (f'level={self.level}, warmup_epochs={self.warmup_epochs}'
                f'{extra}')
