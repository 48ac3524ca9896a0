from typing import TYPE_CHECKING, Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.dist import get_rank, get_world_size
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer, true_class_scores

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


def drop_probabilities(scores: torch.Tensor, q_base: float,
                       lam: float) -> torch.Tensor:
    """OPM's per-modality drop probabilities (the authors' ``calcu_q``).

    With two modalities' scores s_0, s_1, the dominant one's discrepancy
    ratio r = tanh(relu(s_dom / s_other - 1)) > 0 gives it
    q = q_base * (1 + lam * r), clipped to [0, 1]; the other modality (and
    both, on a tie) get 0.

    Args:
        scores (torch.Tensor): Shape (2, ): each modality's summed softmax
            probability of the true class over the batch.
        q_base (float): The base drop probability.
        lam (float): How much the discrepancy raises it.

    Returns:
        torch.Tensor: Shape (2, ), the drop probabilities.
    """
    ratios = torch.tanh(
        F.relu(
            torch.stack([scores[0] / scores[1], scores[1] / scores[0]]) - 1))
    probs = torch.where(ratios > 0, q_base * (1 + lam * ratios),
                        torch.zeros_like(ratios))
    return probs.clamp(0.0, 1.0)


def drop_features(feats: Dict[str, torch.Tensor], keep: Dict[str,
                                                             torch.Tensor],
                  probs: Dict[str, float]) -> Dict[str, torch.Tensor]:
    """Zero the dropped samples' features and rescale all of them.

    Every kept feature is divided by 1 - theta, where theta is the drop
    probability averaged over the feature dimensions (the authors'
    ``theta = sum(d_m q_m) / sum(d_m)`` in ``Modality_drop.execute_drop``),
    so that the fused feature keeps its expected size.

    Args:
        feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
        keep (dict[str, torch.Tensor]): (N, ) 1 for a kept sample, 0 for a
            dropped one, per modality.
        probs (dict[str, float]): The drop probability per modality.

    Returns:
        dict[str, torch.Tensor]: The (N, D_m) features the fusion takes.
    """
    widths = {m: f.shape[1] for m, f in feats.items()}
    theta = sum(widths[m] * probs[m] for m in feats) / sum(widths.values())
    return {
        m: f * keep[m].to(f.dtype)[:, None] / (1 - theta)
        for m, f in feats.items()
    }


@MODELS.register_module()
class OPM(BaseBalancer):
    """On-the-fly Prediction Modulation: drop the dominant modality's
    features in the forward pass.

    Per batch, each modality's score is the summed softmax probability of
    the true class under its uni-modal logits (slices of the concatenation
    head, bias shared equally, as OGM-GE); the dominant modality gets the
    drop probability of :func:`drop_probabilities`. With probability
    ``p_exe`` the drop is executed: each sample's feature of that modality
    is zeroed with that probability, every feature is rescaled by
    :func:`drop_features`, and the fused loss is computed on them; otherwise
    the step is plain joint training. The authors also leave out of the
    loss a sample that lost every modality; with two modalities only the
    dominant one has a drop probability, so none does. Prediction is
    unchanged (the authors evaluate without dropping). Before ``begin_epoch`` (the authors'
    warm-up) and after ``end_epoch`` the step is plain joint training.

    Under DDP the scores are summed over all ranks before the ratio (the
    authors train one process on the whole batch). The draws come from a
    generator seeded by the run's seed and the iteration, identical on
    every rank: every rank draws the whole batch's mask and keeps its own
    rows (``DefaultSampler`` deals rank ``r`` every ``W``-th sample), so two
    processes drop what one process with the whole batch drops, and a
    resumed run draws what the uninterrupted one drew.

    The journal's OGM (the same paper's gradient modulation,
    ``--use_modulation``) is :class:`OGMGE` with ``alpha=0.8``,
    ``begin_epoch=7``, ``end_epoch=61``, ``modulated_params='conv'`` and
    ``enhancement=True`` (its script's settings): the same scores, the same
    coefficient and noise, the same 4-d kernels; it differs only on an exact
    tie of the scores, which modulates the second modality there and the
    first in OGM-GE's code.

    Paper: Wei et al., "On-the-fly Modulation for Balanced Multimodal
    Learning", TPAMI 2024. Code: https://github.com/GeWu-Lab/BML_TPAMI2024
    (``code/models/Classifier.py``: ``calcu_q``, ``Modality_drop``,
    ``Classifier.forward``; ``code/main.py``: ``train``).

    Args:
        q_base (float): Base drop probability (the code's ``--q_base``,
            default 0.5 in ``main.py`` and ``scripts/train_opm.sh``).
            Defaults to 0.5.
        lam (float): How much the discrepancy raises it (``--lam``).
            Defaults to 0.5.
        p_exe (float): Probability that a batch drops at all (``--p_exe``).
            Defaults to 0.7.
        begin_epoch (int): First epoch that drops, counted from 1 (the code
            warms up in its epochs 0 to 5). Defaults to 7.
        end_epoch (int, optional): Last epoch that drops; None (the code):
            to the end of training. Defaults to None.
        init_cfg (dict, optional): Initialisation config.
    """
    max_modalities = 2
    unimodal_logits_from = 'fused_head'

    def __init__(self,
                 q_base: float = 0.5,
                 lam: float = 0.5,
                 p_exe: float = 0.7,
                 begin_epoch: int = 7,
                 end_epoch: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value in (('q_base', q_base), ('p_exe', p_exe)):
            if not 0 <= value <= 1:
                raise ValueError(
                    f'OPM: {name}={value} is not a probability in [0, 1]')
        if lam < 0:
            raise ValueError(f'OPM: lam={lam} must not be negative')
        self.q_base = q_base
        self.lam = lam
        self.p_exe = p_exe
        self.begin_epoch = begin_epoch
        self.end_epoch = end_epoch
        # The run's seed: the Runner seeds torch before it builds the model,
        # identically on every rank and again on resume.
        self.drop_seed = torch.initial_seed() % (2**31)

    def active(self) -> bool:
        """bool: Whether the current epoch drops features."""
        return self.in_epochs(self.begin_epoch, self.end_epoch)

    def drop_generator(self) -> torch.Generator:
        """The same CPU generator on every rank, a new stream per
        iteration (CPU, so that a GPU run draws the same masks)."""
        return torch.Generator().manual_seed(self.drop_seed * 1_000_003 +
                                             self.current_iter())

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The fused loss on the features after the drop.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls``, accuracies, and the
            logged ``opm_ratio``, ``opm_executed`` and drop probabilities.
        """
        if not self.active():
            return self.fused_loss(model, feats, data_samples)
        modalities = model.modalities
        device = feats[modalities[0]].device
        scores = true_class_scores(model, feats, data_samples)
        with torch.no_grad():
            probs = drop_probabilities(scores, self.q_base, self.lam).cpu()
        generator = self.drop_generator()
        executed = bool(torch.rand((), generator=generator) >= 1 - self.p_exe)
        if executed:
            num, world = len(data_samples), get_world_size()
            keep = torch.bernoulli(
                (1 - probs).expand(num * world, len(modalities)),
                generator=generator)[get_rank()::world].to(device)
            feats = drop_features(feats, {
                m: keep[:, i]
                for i, m in enumerate(modalities)
            }, dict(zip(modalities, probs.tolist())))
        losses = self.fused_loss(model, feats, data_samples)
        losses['opm_ratio'] = (scores[1] / scores[0]).detach()
        losses['opm_executed'] = scores.new_tensor(float(executed))
        for m, q in zip(modalities, probs.tolist()):
            losses[f'opm_q_{m}'] = scores.new_tensor(q)
        return losses

    def extra_repr(self) -> str:
        return (f'q_base={self.q_base}, lam={self.lam}, p_exe={self.p_exe}, '
                f'epochs {self.begin_epoch}-{self.end_epoch or "end"}')
