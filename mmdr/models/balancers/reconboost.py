from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer, gt_labels

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer

#: The two phases of a stage: the current modality's boosting epochs, then
#: the global rectification of the whole ensemble.
BOOST, RECTIFY = 'boost', 'rectify'


def reconboost_schedule(epoch: int, epochs_per_stage: int, correct_epochs: int,
                        num_modalities: int) -> Tuple[int, str, int]:
    """Where a training epoch falls in ReconBoost's alternation.

    Stage ``s`` (counted from 0) trains modality ``s % num_modalities`` (the
    authors' fixed schedule, ``schedule_model``) for ``epochs_per_stage``
    epochs, then the whole ensemble for ``correct_epochs`` epochs.

    Args:
        epoch (int): The training epoch, counted from 1.
        epochs_per_stage (int): Boosting epochs of a stage.
        correct_epochs (int): Rectification epochs of a stage.
        num_modalities (int): Number of modalities.

    Returns:
        tuple[int, str, int]: The stage, its phase (``'boost'`` or
        ``'rectify'``) and the index of the stage's modality.
    """
    if epoch < 1:
        raise ValueError(f'epochs are counted from 1, got {epoch}')
    stage, position = divmod(epoch - 1, epochs_per_stage + correct_epochs)
    phase = BOOST if position < epochs_per_stage else RECTIFY
    return stage, phase, stage % num_modalities


def ensemble_order(stage: int, modalities: Sequence[str]) -> List[str]:
    """The modalities in the ensemble after a stage's boosting phase, in the
    order the authors' ``DynamicNet`` sums them.

    ``DynamicNet.add`` appends the stage's learner and removes its earlier
    entry, so the list holds the modalities in the order they were last
    trained; a modality joins at its first stage.

    Args:
        stage (int): The stage, counted from 0 (-1: none trained yet).
        modalities (Sequence[str]): The modalities, in schedule order.

    Returns:
        list[str]: Least recently trained first.
    """
    count = len(modalities)
    return [
        modalities[s % count]
        for s in range(max(0, stage - count + 1), stage + 1)
    ]


def boosting_loss(logits: torch.Tensor, labels: torch.Tensor,
                  ensemble_logits: Optional[torch.Tensor], weight1: float,
                  weight2: float) -> torch.Tensor:
    """ReconBoost's boosting loss of the current modality's learner.

    Per sample ``(-weight1 * t * log p + weight2 * t * q * log p).mean(-1)``
    with ``t`` the one-hot label, ``p`` the learner's and ``q`` the other
    learners' ensemble probabilities (the authors' ``boosting_loss``; the
    mean over classes is theirs), averaged over the batch. Without an
    ensemble (the first stage) ``q`` is 1, as the authors' softmax of their
    one-column constant ``c0``.

    Args:
        logits (torch.Tensor): (N, C) logits of the learner.
        labels (torch.Tensor): (N, ) class indices.
        ensemble_logits (torch.Tensor, optional): (N, C) logits of the
            ensemble of the other learners (no gradient flows into them);
            None when they form no ensemble yet.
        weight1 (float): Weight of the learner's cross entropy.
        weight2 (float): Weight of the term that discounts the samples the
            ensemble already classifies.

    Returns:
        torch.Tensor: The loss, a scalar.
    """
    target = F.one_hot(labels, logits.shape[1]).to(logits.dtype)
    log_probs = logits.log_softmax(1)
    if ensemble_logits is None:
        ensemble_probs = logits.new_ones(logits.shape[0], 1)
    else:
        ensemble_probs = ensemble_logits.detach().softmax(1)
    per_sample = (-weight1 * (target * log_probs).mean(-1) + weight2 *
                  (target * ensemble_probs * log_probs).mean(-1))
    return per_sample.mean()


def reconcilement_loss(logits: torch.Tensor,
                       previous_logits: torch.Tensor) -> torch.Tensor:
    """The authors' reconcilement ("GA") term: the mean squared difference
    of the current and the previous stage's learner's probabilities.

    Both are detached, as in the authors' ``ga_loss``: the term adds to the
    loss value and no gradient.

    Args:
        logits (torch.Tensor): (N, C) logits of the current learner.
        previous_logits (torch.Tensor): (N, C) logits of the learner of the
            previous stage.

    Returns:
        torch.Tensor: A scalar without gradient.
    """
    return F.mse_loss(logits.detach().softmax(1),
                      previous_logits.detach().softmax(1))


@MODELS.register_module()
class ReconBoost(BaseBalancer):
    """ReconBoost: alternating boosting of the modality learners with a
    reconcilement term and global rectification.

    Each modality's learner is its encoder and its own linear head (the
    recogniser's ``unimodal_head``); the model predicts with their ensemble,
    ``boost_rate * sum`` of the learners' logits (:meth:`predict_scores`).
    Training alternates in stages of ``epochs_per_stage + correct_epochs``
    epochs; stage ``s`` (counted from 0) belongs to modality
    ``s % num_modalities`` in the order of ``model.encoders``:

    - boosting (``epochs_per_stage`` epochs): only that modality's learner
      trains, on :func:`boosting_loss` against the ensemble of the learners
      already in the ensemble (no gradient), plus ``alpha`` times
      :func:`reconcilement_loss` against the previous stage's learner from
      the second stage on (which, detached as in the authors' code, changes
      the loss value only);
    - rectification (``correct_epochs`` epochs, 0 to skip): the learners of
      the ensemble and ``boost_rate`` train on the cross entropy of the
      ensemble's logits.

    A modality joins the ensemble at its first stage. The authors build a
    new SGD optimiser for every phase over the phase's parameters; here the
    run's optimiser steps only the phase's parameters (the gradients of all
    others are None, so optimisers skip them: no momentum, no weight
    decay), and with ``fresh_optimizer`` its state is cleared when a phase
    begins (:meth:`before_train_epoch`).

    Decisions where the authors' code is silent or does not carry over:

    - The authors' default shares one MLP head among the modalities
      (``common_space``, which needs equal feature widths); here every
      modality has its own head, their ``common_space=False``.
    - They start from uni-modal pretrained encoders (``--use_pretrain``);
      here the encoders are the run's, so the first stage boosts against no
      ensemble (their path without pretraining).
    - Their learning rates (SGD 0.01, momentum 0.9, weight decay 5e-4, both
      phases) and per-stage decay are the run's optimiser and schedule here.
    - The run's validation after every epoch uses the ensemble of the
      modalities trained so far, the current one included (the authors add
      it after its boosting phase and test after rectification).
    - Every encoder runs once per step (the recogniser's forward pass); the
      authors run the other learners for the ensemble and again for the
      reconcilement term, and not at all before they join. Parameters are
      the same; the other encoders' BatchNorm statistics are updated once
      per step here.

    BalanceMM's ``ReconBoostTrainer`` differs from the authors: one
    optimiser throughout (its state carried across phases), all modalities
    in every epoch (1 boosting and 1 rectification epoch each, its
    ``T_epochs``), ``boost_rate`` starting at 0.01 and the reconcilement
    term from its second epoch; here the authors' loop is followed, with
    its stage lengths as arguments.

    Under DDP the method needs ``find_unused_parameters=True`` (the config
    fragment sets it): a phase leaves parameters unused,
    and DDP then keeps their gradients None, as in one process. Its losses
    are batch means, so DDP's gradient averaging is its reduction over the
    ranks. The stage is a buffer (``stage``, -1 before training) and
    ``boost_rate`` a parameter, so checkpoints hold the ensemble.

    Paper: Hua et al., "ReconBoost: Boosting Can Achieve Modality
    Reconcilement", ICML 2024. Code: https://github.com/huacong/ReconBoost
    (``train.py``: ``main``, ``models/dynamic_net.py``: ``DynamicNet``,
    ``schedule.py``; defaults of ``train.py``).

    Args:
        epochs_per_stage (int): Boosting epochs per stage (the code's
            ``epochs_per_stage``). Defaults to 4.
        correct_epochs (int): Rectification epochs per stage (the code's
            ``correct_epoch``); 0 skips rectification. Defaults to 4.
        weight1 (float): Weight of the learner's cross entropy (the code's
            ``weight1``). Defaults to 5.0.
        weight2 (float): Weight of the ensemble-discounted term (the code's
            ``weight2``). Defaults to 1.0.
        alpha (float): Weight of the reconcilement term (the code's
            ``alpha``). Defaults to 0.5.
        boost_rate (float): Initial ensemble weight (the code's
            ``boost_rate``). Defaults to 1.0.
        fresh_optimizer (bool): Clear the optimiser's state when a phase
            begins, as the authors' new optimiser per phase. Defaults to
            True.
        init_cfg (dict, optional): Initialisation config.
    """
    unimodal_logits_from = 'unimodal_heads'
    modulates_gradients = True

    def __init__(self,
                 epochs_per_stage: int = 4,
                 correct_epochs: int = 4,
                 weight1: float = 5.0,
                 weight2: float = 1.0,
                 alpha: float = 0.5,
                 boost_rate: float = 1.0,
                 fresh_optimizer: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        checks = dict(
            epochs_per_stage=isinstance(epochs_per_stage, int)
            and epochs_per_stage >= 1,
            correct_epochs=isinstance(correct_epochs, int)
            and correct_epochs >= 0,
            alpha=alpha >= 0)
        values = dict(
            epochs_per_stage=epochs_per_stage,
            correct_epochs=correct_epochs,
            alpha=alpha)
        for name, ok in checks.items():
            if not ok:
                raise ValueError(
                    f'ReconBoost: {name}={values[name]!r} is invalid '
                    '(epochs_per_stage an integer >= 1, correct_epochs an '
                    'integer >= 0, alpha >= 0)')
        self.epochs_per_stage = epochs_per_stage
        self.correct_epochs = correct_epochs
        self.weight1 = float(weight1)
        self.weight2 = float(weight2)
        self.alpha = float(alpha)
        self.fresh_optimizer = fresh_optimizer
        self.boost_rate = nn.Parameter(torch.tensor(float(boost_rate)))
        self.register_buffer('stage', torch.tensor(-1, dtype=torch.long))
        self.modalities: tuple = ()
        # The parameters the current step trains (set by loss()).
        self._trained: Optional[set] = None
        self._phase = BOOST

    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Check the model and remember its modalities, the schedule's
        order.

        Args:
            model (MultiModalRecognizer): The recogniser being built.
        """
        super().check_model(model)
        self.modalities = tuple(model.modalities)

    def schedule(self, epoch: int) -> Tuple[int, str, str]:
        """The stage, phase and modality of a training epoch.

        Args:
            epoch (int): The epoch, counted from 1.

        Returns:
            tuple[int, str, str]: See :func:`reconboost_schedule`; the
            modality by name.
        """
        stage, phase, index = reconboost_schedule(epoch, self.epochs_per_stage,
                                                  self.correct_epochs,
                                                  len(self.modalities))
        return stage, phase, self.modalities[index]

    def _ensemble_logits(self, logits: Dict[str, torch.Tensor],
                         members: Sequence[str]) -> torch.Tensor:
        """``boost_rate`` times the sum of the members' logits, summed in
        the authors' order."""
        total = logits[members[0]]
        for m in members[1:]:
            total = total + logits[m]
        return self.boost_rate * total

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The boosting or the rectification loss of the current epoch.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_boost`` (and from the second
            stage ``loss_reconcile``) or ``loss_rectify``; the logged
            ``reconboost_stage`` and ``boost_rate``.
        """
        self.check_step_owner()
        stage, phase, current = self.schedule(self.current_epoch())
        self.stage.fill_(stage)
        labels = gt_labels(data_samples, self.boost_rate.device)
        losses = {}
        if phase == BOOST:
            others = [
                m for m in ensemble_order(stage - 1, self.modalities)
                if m != current
            ]
            previous = self.modalities[(self.modalities.index(current) - 1) %
                                       len(self.modalities)]
            used = {current, *others}
            if stage > 0:
                used.add(previous)
            logits = model.unimodal_logits({m: feats[m]
                                            for m in used}, 'unimodal_heads')
            ensemble = None
            if others:
                with torch.no_grad():
                    ensemble = self._ensemble_logits(logits, others)
            losses['loss_boost'] = boosting_loss(logits[current], labels,
                                                 ensemble, self.weight1,
                                                 self.weight2)
            if stage > 0:
                losses['loss_reconcile'] = self.alpha * reconcilement_loss(
                    logits[current], logits[previous])
            self._trained = {current}
        else:
            members = ensemble_order(stage, self.modalities)
            logits = model.unimodal_logits({m: feats[m]
                                            for m in members},
                                           'unimodal_heads')
            losses['loss_rectify'] = F.cross_entropy(
                self._ensemble_logits(logits, members), labels)
            self._trained = set(members)
        losses['reconboost_stage'] = self.stage.float()
        losses['boost_rate'] = self.boost_rate.detach().clone()
        self._phase = phase
        return losses

    def trained_parameters(self, model: 'MultiModalRecognizer',
                           modalities: Sequence[str],
                           phase: str) -> List[nn.Parameter]:
        """The parameters a phase trains: the authors' optimiser's.

        Args:
            model (MultiModalRecognizer): The recogniser.
            modalities (Sequence[str]): The learners that train.
            phase (str): ``'boost'`` or ``'rectify'`` (which also trains
                ``boost_rate``).

        Returns:
            list[nn.Parameter]: Encoders and heads of ``modalities``, and
            ``boost_rate`` when rectifying.
        """
        params = []
        for m in modalities:
            params.extend(model.encoders[m].parameters())
            params.extend(model.unimodal_heads[m].parameters())
        if phase == RECTIFY:
            params.append(self.boost_rate)
        return params

    def before_optimizer_step(self, model: 'MultiModalRecognizer') -> None:
        """Leave gradients only on the phase's parameters.

        They are None elsewhere already (one process, or DDP with
        ``find_unused_parameters``); this keeps an optimiser from stepping
        a parameter outside the phase where something left a zero gradient
        (weight decay and momentum would move it).

        Args:
            model (MultiModalRecognizer): The recogniser (unwrapped).
        """
        if self._trained is None:
            return
        keep = {
            id(p)
            for p in self.trained_parameters(model, sorted(self._trained),
                                             self._phase)
        }
        for param in model.parameters():
            if id(param) not in keep:
                param.grad = None

    def predict_scores(self, model: 'MultiModalRecognizer',
                       feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The ensemble's logits: ``boost_rate`` times the sum of the
        learners trained so far (zeros before any training, as the
        authors' constant ``c0``).

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: (N, num_classes) scores.
        """
        members = ensemble_order(int(self.stage), self.modalities)
        if not members:
            first = next(iter(feats.values()))
            return first.new_zeros(first.shape[0], model.cls_head.num_classes)
        logits = model.unimodal_logits({m: feats[m]
                                        for m in members}, 'unimodal_heads')
        return self._ensemble_logits(logits, members)

    def start_epoch(self, epoch: int, optim_wrapper: OptimWrapper) -> bool:
        """Clear the optimiser's state if a phase begins with ``epoch``
        and ``fresh_optimizer`` is set.

        Args:
            epoch (int): The epoch about to train, counted from 1.
            optim_wrapper (OptimWrapper): The run's optimiser wrapper (or
                an :class:`OptimWrapperDict`).

        Returns:
            bool: Whether the state was cleared.
        """
        position = (epoch - 1) % (self.epochs_per_stage + self.correct_epochs)
        if not self.fresh_optimizer or position not in (0,
                                                        self.epochs_per_stage):
            return False
        wrappers = (
            optim_wrapper.values() if isinstance(
                optim_wrapper, OptimWrapperDict) else [optim_wrapper])
        for wrapper in wrappers:
            wrapper.optimizer.state.clear()
        return True

    def before_train_epoch(self, runner) -> None:
        """Check the run, and start a phase's optimiser afresh.

        Args:
            runner (Runner): The runner; ``runner.epoch`` epochs are done.
        """
        self.check_epoch_based_loop(runner,
                                    'alternates the modalities by epochs')
        self.check_ddp_finds_unused_parameters(runner)
        epoch = runner.epoch + 1
        if self.start_epoch(epoch, runner.optim_wrapper):
            stage, phase, modality = self.schedule(epoch)
            runner.logger.info(
                f'ReconBoost: stage {stage} ({modality}), {phase} phase from '
                f'epoch {epoch}; optimiser state cleared.')
