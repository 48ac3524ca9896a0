from typing import TYPE_CHECKING, Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.dist import get_rank, get_world_size
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer, gt_labels

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


def removal_logits(full_logits: torch.Tensor,
                   unimodal_logits: Dict[str, torch.Tensor],
                   removal_order: torch.Tensor,
                   bias_share: torch.Tensor) -> List[torch.Tensor]:
    """The fused head's logits as modalities are removed one by one.

    Each removal subtracts the removed modality's uni-modal logits (its
    slice of the concatenation head plus its share of the bias) and adds
    the bias share back (BalanceMM's ``out_s - unimodal_result[removed] +
    fc_out.bias / M``): the head's output with that modality's features
    replaced by zeros. Every sample removes its modalities in its own order
    (the authors' ``get_multi_mask``).

    Args:
        full_logits (torch.Tensor): (N, C) logits with every modality.
        unimodal_logits (dict[str, torch.Tensor]): Modality to (N, C)
            logits of its slice of the head, in the model's modality order.
        removal_order (torch.Tensor): (N, K) indices into that order: the
            modality each sample removes at each of the K removals.
        bias_share (torch.Tensor): The head's bias divided by the number of
            modalities (0 without a bias).

    Returns:
        list[torch.Tensor]: K tensors of (N, C) logits, after 1 to K
        removals.
    """
    stacked = torch.stack(list(unimodal_logits.values()))
    rows = torch.arange(full_logits.shape[0], device=full_logits.device)
    logits, removed = full_logits, []
    for k in range(removal_order.shape[1]):
        logits = logits - stacked[removal_order[:, k], rows] + bias_share
        removed.append(logits)
    return removed


def calibration_terms(more_logits: torch.Tensor, fewer_logits: torch.Tensor,
                      labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Per-sample CML regulariser of one removal (the authors'
    ``rank_loss``).

    The confidence (largest softmax probability) with fewer modalities
    must not exceed the one with more: ``relu((conf_fewer - conf_more) *
    sign - margin)``, where ``sign`` is 0 for a sample that the fewer
    modalities classify correctly and the more modalities do not (their
    "trick 1": a higher confidence is then deserved), 1 otherwise.

    Args:
        more_logits (torch.Tensor): (N, C) logits before the removal.
        fewer_logits (torch.Tensor): (N, C) logits after it.
        labels (torch.Tensor): (N, ) class indices.
        margin (float): The tolerated excess of confidence.

    Returns:
        torch.Tensor: Shape (N, ).
    """
    conf_more, pred_more = F.softmax(more_logits, dim=1).max(dim=1)
    conf_fewer, pred_fewer = F.softmax(fewer_logits, dim=1).max(dim=1)
    sign = (~((pred_fewer == labels) & (pred_more != labels))).long()
    return F.relu((conf_fewer - conf_more) * sign - margin)


@MODELS.register_module()
class CML(BaseBalancer):
    """Calibrating Multimodal Learning: the confidence must not grow when a
    modality is removed.

    Per batch, every sample removes its modalities one at a time in a
    random order until one is left; removing a modality replaces its
    features by zeros before the concatenation head, computed from the
    head's per-modality slices (:func:`removal_logits`, through the
    recogniser's ``unimodal_logits(feats, 'fused_head')``). The loss is
    the head's loss averaged over the full input and the M - 1 partial ones
    (the authors' ``cls_loss / input_num``, BalanceMM's ``loss / M``), plus
    ``lam`` times the regulariser of :func:`calibration_terms` summed over
    the samples and the consecutive pairs of inputs. From ``begin_epoch``
    to ``end_epoch`` (inclusive, counted from 1); outside them the step is
    plain joint training. Prediction is unchanged.

    The authors' code calibrates incomplete-view models (``cpm/``,
    ``miwae/``); we follow ``cpm/CPM_Nets.py``'s ``rank_loss`` (per-sample
    ``relu`` with trick 1, no margin, summed) and ``miwae/train.py``'s
    per-sample random removal order and averaged classification loss.
    ``miwae/train.py`` itself differs (it counts only samples whose
    prediction with more modalities is right, and adds a term for samples
    both inputs misclassify): we follow ``cpm``. BalanceMM's
    ``CMLTrainer`` applies the same removal to the fused head, but clamps
    the regulariser's batch sum (``max(0, sum(conf_fewer - conf_more))``)
    instead of each sample's term, computes but does not apply the sign,
    and removes the same modality from every sample, in an order drawn per
    epoch; we follow the authors. The removal itself is BalanceMM's (the
    removed modality's features zeroed at the concatenation head, the
    encoders run once); the authors' ``miwae`` replaces a removed view's
    raw input by its training mean, which a network of separate encoders
    has no counterpart of without rerunning them. The head's dropout, if
    any, applies to the full input only (the subtracted slices have none;
    BalanceMM's fusion layer has none).

    The summed regulariser grows with the batch; under DDP, which averages
    gradients over the ranks, each rank's sum is multiplied by the number
    of ranks, so that the step is the one of a single process holding the
    whole batch. The removal orders come from a generator seeded by the
    run's seed and the iteration, identical on every rank: every rank draws
    the whole batch's orders and keeps its own rows (``DefaultSampler``
    deals rank ``r`` every ``W``-th sample), and a resumed run draws what
    the uninterrupted one drew.

    Paper: Ma, Zhang, Zhang, Wu, Fu, Zhou, Hu, "Calibrating Multimodal
    Learning", ICML 2023. Code: https://github.com/QingyangZhang/CML
    (``cpm/CPM_Nets.py``: ``rank_loss``; ``miwae/train.py``:
    ``get_multi_mask`` and the training loop's stage 2). BalanceMM:
    ``balancemm/trainer/CML_trainer.py`` (``training_step``).

    Args:
        lam (float): Weight of the regulariser (BalanceMM's ``lam`` 0.1;
            the authors' ``--beta 10`` of ``miwae``'s README, divided by
            100 in its loss). Defaults to 0.1.
        margin (float): Excess of confidence tolerated per sample (the
            authors' ``--epsilon``, 0 by default; ``cpm``'s 0). Defaults to
            0.
        begin_epoch (int): First epoch with the regulariser, counted from
            1. Defaults to 1.
        end_epoch (int, optional): Last one; None (the authors): to the end
            of training (BalanceMM: its epochs 0 to 80). Defaults to None.
        init_cfg (dict, optional): Initialisation config.
    """
    unimodal_logits_from = 'fused_head'

    def __init__(self,
                 lam: float = 0.1,
                 margin: float = 0.0,
                 begin_epoch: int = 1,
                 end_epoch: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if lam < 0:
            raise ValueError(f'CML: lam={lam} must not be negative')
        if margin < 0:
            raise ValueError(f'CML: margin={margin} must not be negative')
        self.lam = lam
        self.margin = margin
        self.begin_epoch = begin_epoch
        self.end_epoch = end_epoch
        # The run's seed: the Runner seeds torch before it builds the model,
        # identically on every rank and again on resume.
        self.order_seed = torch.initial_seed() % (2**31)

    def active(self) -> bool:
        """bool: Whether the current epoch is regularised."""
        return self.in_epochs(self.begin_epoch, self.end_epoch)

    def order_generator(self) -> torch.Generator:
        """The same CPU generator on every rank, a new stream per
        iteration (CPU, so that a GPU run draws the same orders)."""
        return torch.Generator().manual_seed(self.order_seed * 1_000_003 +
                                             self.current_iter())

    def removal_order(self, num_samples: int,
                      num_modalities: int) -> torch.Tensor:
        """This rank's rows of the whole batch's removal orders.

        Args:
            num_samples (int): The samples on this rank.
            num_modalities (int): M.

        Returns:
            torch.Tensor: (num_samples, M - 1) modality indices, int64: a
            random permutation per sample, its last modality never removed.
        """
        world = get_world_size()
        keys = torch.rand((num_samples * world, num_modalities),
                          generator=self.order_generator())
        return keys.argsort(dim=1)[get_rank()::world, :-1]

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The head's loss averaged over the full and partial inputs, plus
        the regulariser.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls``, the full input's
            accuracies, and ``loss_cml`` (the weighted regulariser).
        """
        if not self.active():
            return self.fused_loss(model, feats, data_samples)
        modalities = model.modalities
        full_logits = model.cls_head(model.fusion(feats))
        bias = model.cls_head.fc_cls.bias
        bias_share = (
            bias /
            len(modalities) if bias is not None else full_logits.new_zeros(()))
        order = self.removal_order(len(data_samples),
                                   len(modalities)).to(full_logits.device)
        partial_logits = removal_logits(
            full_logits, model.unimodal_logits(feats, 'fused_head'), order,
            bias_share)

        losses = model.cls_head.loss_by_feat(full_logits, data_samples)
        losses['loss_cls'] = sum([losses['loss_cls']] + [
            model.cls_head.loss_by_feat(logits, data_samples)['loss_cls']
            for logits in partial_logits
        ]) / len(modalities)
        labels = gt_labels(data_samples, full_logits.device)
        inputs = [full_logits] + partial_logits
        regulariser = sum(
            calibration_terms(more, fewer, labels, self.margin).sum()
            for more, fewer in zip(inputs[:-1], inputs[1:]))
        # DDP averages the gradients: the whole batch's sum is the ranks'.
        losses['loss_cml'] = self.lam * get_world_size() * regulariser
        return losses

    def extra_repr(self) -> str:
        return (f'lam={self.lam}, margin={self.margin}, '
                f'epochs {self.begin_epoch}-{self.end_epoch or "end"}')
