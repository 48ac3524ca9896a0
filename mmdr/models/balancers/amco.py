import math
from typing import TYPE_CHECKING, Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmengine.structures import BaseDataElement
from torch import nn

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


def masked_class_count(progress: float, eps: float, num_classes: int) -> int:
    """How many classes the dependent modality's mask zeroes (BalanceMM's
    ``N = int(sin(pi / 2 * min(eps, l_t) / eps) * n_classes)``).

    Args:
        progress (float): The epoch's progress ``l_t``: 0 at its first
            batch, growing by (epoch - 1) / 10 per batch.
        eps (float): The progress at which every class is masked.
        num_classes (int): The number of classes.

    Returns:
        int: From 0 to ``num_classes``.
    """
    ratio = math.sin(math.pi / 2 * (min(eps, progress) / eps))
    return int(ratio * num_classes)


def class_mask(num_classes: int, num_masked: int,
               generator: torch.Generator) -> torch.Tensor:
    """A random class mask: ``num_masked`` zeros among ones (BalanceMM's
    shuffled ``np.pad(np.ones(C - N), (0, N))``).

    Args:
        num_classes (int): The number of classes C.
        num_masked (int): N, the zeros.
        generator (torch.Generator): Where the permutation comes from.

    Returns:
        torch.Tensor: Shape (1, C), float32, one mask for every sample.
    """
    ordered = torch.cat(
        [torch.ones(num_classes - num_masked),
         torch.zeros(num_masked)])
    return ordered[torch.randperm(num_classes, generator=generator)][None]


def logit_shares(unimodal_logits: List[torch.Tensor]) -> torch.Tensor:
    """Each modality's share of the softmax over the concatenated logits of
    all modalities, summed over the samples (BalanceMM's ``sft_uni`` before
    its division by the batch size).

    Args:
        unimodal_logits (list[torch.Tensor]): (N, C) logits per modality.

    Returns:
        torch.Tensor: Shape (M, ).
    """
    probs = F.softmax(torch.cat(unimodal_logits, dim=1), dim=1)
    num_classes = unimodal_logits[0].shape[1]
    return probs.view(probs.shape[0], len(unimodal_logits),
                      num_classes).sum(dim=(0, 2))


@MODELS.register_module()
class AMCo(BaseBalancer):
    """Adaptive Mask Co-optimisation: the dominant modality's uni-modal
    logits are masked class-wise, more classes as the epoch goes on.

    The fused logits are the sum of the concatenation head's per-modality
    logits (its weight slices plus the bias share, through the recogniser's
    ``unimodal_logits(feats, 'fused_head')``), followed by an extra linear
    layer from classes to classes (BalanceMM's ``linear_star``), which this
    balancer owns and which prediction uses too. From ``begin_epoch`` to
    ``end_epoch`` (inclusive, counted from 1) a modality found dependent at
    the previous batch has its logits multiplied by a random class mask
    with :func:`masked_class_count` zeros (:func:`class_mask`), and the
    loss is the cross entropy of the fused logits plus that of every
    modality's (masked) logits. After each such batch a modality becomes
    dependent when its share of the softmax over all modalities'
    concatenated logits (:func:`logit_shares`), averaged over the batch,
    exceeds ``sigma``. Outside these epochs the loss is the fused logits'
    cross entropy alone. Any number of modalities works; with M of them
    the shares average 1 / M, so with three or more only a strongly
    dominant modality exceeds BalanceMM's 0.5. The epoch's progress grows
    by (epoch - 1) / 10 per batch (BalanceMM's ``l_t += current_epoch /
    10``, its epochs counted from 0), so the first epoch never masks. The
    dependence and the progress restart at every epoch (BalanceMM's
    ``train_loop``); both are buffers, so a checkpoint keeps them.

    No code by the paper's authors is public; we follow BalanceMM. Where
    it is broken or silent: its mask is expanded to 2 rows
    (``mask_t.expand(2, -1)``), which multiplies only a batch of 2; we
    apply the same mask to every sample. Its ``alpha``, ``method``, ``U``
    and ``modality`` settings are read but unused, and are left out. The
    head's dropout, if any, is not applied (the logits come from the
    slices; BalanceMM's fusion layer has none). BalanceMM's
    ``torch.from_numpy`` mask is float64 cast to float32; ours is float32.

    Under DDP the shares are summed over the ranks before the comparison
    with ``sigma``, so every rank decides as one process with the whole
    batch would; the mask comes from a CPU generator seeded by the run's
    seed and the iteration, identical on every rank and on resume.

    Paper: Zhou, Liang, Zheng, Xuan, Kumada, "Adaptive Mask Co-Optimization
    for Modal Dependence in Multimodal Learning", ICASSP 2023. BalanceMM:
    ``balancemm/trainer/AMCo_trainer.py`` (``train_loop``,
    ``training_step``) and ``balancemm/models/avclassify_model.py``
    (``BaseClassifierAMCoModel``).

    Args:
        sigma (float): The share above which a modality is dependent
            (BalanceMM's 0.5). Defaults to 0.5.
        eps (float): The epoch progress at which the mask zeroes every
            class (BalanceMM's 0.3). Defaults to 0.3.
        begin_epoch (int): First epoch with masks and uni-modal losses,
            counted from 1 (BalanceMM's ``modulation_starts`` 0). Defaults
            to 1.
        end_epoch (int, optional): Last one; None: to the end of training
            (BalanceMM: its epochs 0 to 80, the whole run). Defaults to
            None.
        init_cfg (dict, optional): Initialisation config.
    """
    unimodal_logits_from = 'fused_head'

    def __init__(self,
                 sigma: float = 0.5,
                 eps: float = 0.3,
                 begin_epoch: int = 1,
                 end_epoch: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 0 <= sigma <= 1:
            raise ValueError(f'AMCo: sigma={sigma} must be in [0, 1]')
        if eps <= 0:
            raise ValueError(f'AMCo: eps={eps} must be positive')
        self.sigma = sigma
        self.eps = eps
        self.begin_epoch = begin_epoch
        self.end_epoch = end_epoch
        # The run's seed: the Runner seeds torch before it builds the model,
        # identically on every rank and again on resume.
        self.mask_seed = torch.initial_seed() % (2**31)
        # float64: BalanceMM adds to a Python float. The dependence flags are
        # uint8 (DDP broadcasts buffers; gloo takes no bool).
        self.register_buffer('progress', torch.zeros((), dtype=torch.float64))
        self.linear_star: Optional[nn.Linear] = None

    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Check the model, then build the extra layer and the dependence
        flags, whose sizes the model gives.

        Args:
            model (MultiModalRecognizer): The recogniser being built.
        """
        super().check_model(model)
        num_classes = model.cls_head.fc_cls.out_features
        self.linear_star = nn.Linear(num_classes, num_classes)
        self.register_buffer(
            'dependent', torch.zeros(len(model.modalities), dtype=torch.uint8))

    def active(self) -> bool:
        """bool: Whether the current epoch masks."""
        return self.in_epochs(self.begin_epoch, self.end_epoch)

    def mask_generator(self) -> torch.Generator:
        """The same CPU generator on every rank, a new stream per
        iteration (CPU, so that a GPU run draws the same masks)."""
        return torch.Generator().manual_seed(self.mask_seed * 1_000_003 +
                                             self.current_iter())

    def before_train_epoch(self, runner) -> None:
        """No modality is dependent and the progress is 0 at an epoch's
        start.

        Args:
            runner (Runner): The runner.
        """
        self.progress.zero_()
        self.dependent.zero_()

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The fused loss, plus the uni-modal ones with the mask.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls`` (the fused logits'),
            accuracies, and while active ``loss_<modality>`` per modality,
            the logged ``amco_masked`` (the mask's zeros, applied to the
            dependent modalities) and ``amco_share_<modality>``.
        """
        modalities = model.modalities
        logits = model.unimodal_logits(feats, 'fused_head')
        num_classes = self.linear_star.in_features
        num_masked = masked_class_count(self.progress.item(), self.eps,
                                        num_classes)
        mask = class_mask(num_classes, num_masked, self.mask_generator())
        self.progress += (self.current_epoch() - 1) / 10
        if not self.active():
            return model.cls_head.loss_by_feat(
                self.linear_star(sum(logits.values())), data_samples)

        mask = mask.to(logits[modalities[0]])
        logits = {
            m: logits[m] * mask if bool(self.dependent[i]) else logits[m]
            for i, m in enumerate(modalities)
        }
        losses = model.cls_head.loss_by_feat(
            self.linear_star(sum(logits.values())), data_samples)
        for m in modalities:
            losses[f'loss_{m}'] = model.cls_head.loss_by_feat(
                logits[m], data_samples)['loss_cls']
        with torch.no_grad():
            first = logits[modalities[0]]
            shares = logit_shares([logits[m].detach() for m in modalities])
            totals = torch.cat([shares, first.new_tensor([first.shape[0]])])
            # The whole batch's shares, as one process would have them.
            all_reduce(totals)
            shares = totals[:-1] / totals[-1]
            self.dependent.copy_(shares > self.sigma)
        losses['amco_masked'] = first.new_tensor(float(num_masked))
        for m, share in zip(modalities, shares):
            losses[f'amco_share_{m}'] = share
        return losses

    def predict_scores(self, model: 'MultiModalRecognizer',
                       feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The extra layer on the fused logits, without masks.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: (N, num_classes) scores.
        """
        return self.linear_star(
            sum(model.unimodal_logits(feats, 'fused_head').values()))

    def extra_repr(self) -> str:
        return (f'sigma={self.sigma}, eps={self.eps}, '
                f'epochs {self.begin_epoch}-{self.end_epoch or "end"}')
