from typing import TYPE_CHECKING, Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from ..utils.greedy import (MMTMConnection, RebalancingState,
                            next_rebalancing_state, speed_difference,
                            squared_norm_ratio)
from .base_balancer import BaseBalancer, gt_labels

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


@MODELS.register_module()
class Greedy(BaseBalancer):
    """Balanced multi-modal learning: uni-modal branches joined by a
    mid-level connection, and re-balancing steps for the modality that
    learns slower.

    The model is the authors' two branches: each encoder with its own linear
    head (the recogniser's ``unimodal_head``), joined by an MMTM connection
    (:class:`mmdr.models.utils.greedy.MMTMConnection`, built here when the
    recogniser is built) that gates each modality's feature from both. The
    loss is the sum of the heads' cross entropies; the model predicts with
    the mean of the heads' logits (``model.fusion`` and ``model.cls_head``
    are not used and stay as initialised).

    After every backward pass of a normal step, the conditional learning
    speed of each modality is accumulated from the gradients (the squared
    gradient over squared weight norm of the connection's part that feeds a
    branch, over that of the branch: encoder and head); from
    ``starting_epoch`` on, a difference of the two speeds' logarithms larger
    than ``epsilon`` starts ``window_size`` re-balancing steps, in which the
    gate of the modality whose connection learns faster is its running mean,
    so that branch learns from its own modality alone. The math is in
    :mod:`mmdr.models.utils.greedy`.

    Paper: Wu, Jastrzebski, Cho & Geras, "Characterizing and Overcoming the
    Greedy Nature of Learning in Multi-modal Deep Neural Networks", ICML
    2022. Code: https://github.com/nyukat/greedy_multimodal_learning
    (``src/model.py`` ``MMTM_MVCNN``, ``src/balanced_mmtm.py``
    ``MMTM_mitigate``, ``src/callbacks.py`` ``Bias_Mitigation_Strong``,
    ``train.py`` ``blend_loss``); BalanceBenchmark's
    ``balancemm/trainer/Greedy_trainer.py`` and ``BaseClassifierGreedyModel``.

    Where it differs from the authors' code:

    - One connection, on the pooled features (mmdr's encoders pool each
      modality to one vector), instead of three after ResNet's layers 2-4.
      For an average-pooling encoder it is exactly their last one
      (:class:`MMTMConnection`); the earlier ones have no place in mmdr's
      encoders.
    - Each modality's gate has its own running mean; the authors' code
      averages the first modality's gate for both (a slip; BalanceBenchmark
      keeps one per modality). Only training forwards enter the means and
      prediction never fixes a gate; the authors' evaluation passes also
      enter them and run in the current training mode.
    - The connection's part left without a gradient in a re-balancing step
      gets a zero gradient, as the authors' ``zero_grad`` (which zeroes
      rather than clears gradients) leaves it: momentum and Adam's moments
      move as in their loop. Parameters that never train (``fusion``,
      ``cls_head``) keep no gradient, so under DDP the config must set
      ``find_unused_parameters=True`` (the method's fragment sets it;
      refused before the first epoch otherwise).

    BalanceBenchmark trains its concatenation head on the fused loss
    instead, with four connections and no ``starting_epoch``; this follows
    the authors (uni-modal heads, their loss and prediction).

    Under DDP the batch means of the gates are averaged over the ranks; the
    speeds come from gradients already averaged by DDP, so every rank takes
    the same steps.

    ``variant='random'`` is the authors' other algorithm
    (``Bias_Mitigation_Random``, ``configs/training_random.gin``): from
    ``starting_epoch`` on, every step is drawn uniformly among a normal
    step and a re-balancing step of either modality, without speeds or
    windows. The draw comes from a generator seeded by the run's seed and
    the iteration (the authors use Python's ``random``), so every rank and
    a resumed run draw alike.

    Args:
        variant (str): ``'guided'`` (re-balancing chosen by the learning
            speeds, the authors' ``training_guided.gin``) or ``'random'``.
            Defaults to ``'guided'``.
        epsilon (float): Smallest difference of the log speeds that starts
            re-balancing, in the guided variant (the authors'
            ``training_guided.gin``: 0.01; BalanceBenchmark: 0.001).
            Defaults to 0.01.
        window_size (int): Re-balancing steps per window, in the guided
            variant (both codes: 5). Defaults to 5.
        starting_epoch (int): The first epoch (counted from 1) that may
            re-balance; the guided variant accumulates the speeds from the
            first step (the authors' ``starting_epoch=2``). Defaults to 2.
        reduction (float): The connection's reduction ratio (the authors'
            ``MMTM(..., 4)``). Defaults to 4.
        init_cfg (dict, optional): Initialisation config.
    """
    max_modalities = 2
    unimodal_logits_from = 'unimodal_heads'
    modulates_gradients = True
    variants = ('guided', 'random')

    def __init__(self,
                 variant: str = 'guided',
                 epsilon: float = 0.01,
                 window_size: int = 5,
                 starting_epoch: int = 2,
                 reduction: float = 4,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if variant not in self.variants:
            raise ValueError(f'Greedy: variant={variant!r} is not one of '
                             f'{self.variants}')
        if not epsilon >= 0:
            raise ValueError(f'Greedy: epsilon={epsilon} must not be negative')
        if not (isinstance(window_size, int) and window_size >= 1):
            raise ValueError(
                f'Greedy: window_size={window_size!r} must be an int >= 1')
        if not isinstance(starting_epoch, int):
            raise ValueError(
                f'Greedy: starting_epoch={starting_epoch!r} must be an int')
        if not reduction > 0:
            raise ValueError(f'Greedy: reduction={reduction} must be positive')
        self.variant = variant
        self.epsilon = float(epsilon)
        self.window_size = window_size
        self.starting_epoch = starting_epoch
        self.reduction = reduction
        # The run's seed: the Runner seeds torch before it builds the model.
        self.draw_seed = torch.initial_seed() % (2**31)
        # Built by check_model(), which first sees the encoders' widths.
        self.connection: Optional[MMTMConnection] = None
        # Accumulated squared-norm ratios per modality (the authors'
        # M_bypass_modal_i and M_main_modal_i) and the last difference.
        self.register_buffer('bypass_speed',
                             torch.zeros(2, dtype=torch.float64))
        self.register_buffer('main_speed', torch.zeros(2, dtype=torch.float64))
        self.register_buffer('speed_difference',
                             torch.zeros((), dtype=torch.float64))
        # The authors' curation_mode, caring_modality and curation_step.
        self.register_buffer('rebalancing', torch.zeros((), dtype=torch.bool))
        self.register_buffer('rebalanced_modality',
                             torch.zeros((), dtype=torch.long))
        self.register_buffer('rebalancing_step',
                             torch.zeros((), dtype=torch.long))

    @staticmethod
    def _trained(module: nn.Module) -> List[nn.Parameter]:
        return [p for p in module.parameters() if p.requires_grad]

    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Refuse what the method cannot train, then build the connection
        from the encoders' feature widths.

        Args:
            model (MultiModalRecognizer): The recogniser being built.
        """
        super().check_model(model)
        for m, encoder in model.encoders.items():
            width = getattr(encoder, 'feat_dim', None)
            if not isinstance(width, int):
                raise ValueError(
                    f'Greedy connects the encoders\' pooled features, but '
                    f'encoder {m!r} ({type(encoder).__name__}) declares no '
                    'int feat_dim')
            for part, module in (('encoder', encoder),
                                 ('unimodal head', model.unimodal_heads[m])):
                if not self._trained(module):
                    raise ValueError(
                        f'Greedy measures each branch\'s learning speed from '
                        f'its gradients, but the {part} of {m!r} has no '
                        'parameter with requires_grad')
        self.connection = MMTMConnection(
            {
                m: e.feat_dim
                for m, e in model.encoders.items()
            }, self.reduction)

    @property
    def state(self) -> RebalancingState:
        """RebalancingState: The mode of the next training step."""
        return RebalancingState(
            bool(self.rebalancing), int(self.rebalanced_modality),
            int(self.rebalancing_step))

    def _set_state(self, state: RebalancingState) -> None:
        self.rebalancing.fill_(state.rebalancing)
        self.rebalanced_modality.fill_(state.modality)
        self.rebalancing_step.fill_(state.step)

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The uni-modal heads' cross entropies on the gated features.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_unimodal_<modality>``, and the
            logged ``greedy_rebalancing`` (1 in a re-balancing step),
            ``greedy_fixed_<modality>`` (1 where that modality's gate is
            fixed) and ``greedy_speed_difference`` (the last one measured).
        """
        self.check_step_owner()
        self.check_one_batch_per_step(
            'measures the learning speed and chooses the next step after '
            'every batch')
        state = self.state
        fixed = model.modalities[state.modality] if state.rebalancing else None
        gated, _ = self.connection(feats, fixed=fixed, update_averages=True)
        logits = model.unimodal_logits(gated, 'unimodal_heads')
        labels = gt_labels(data_samples, logits[model.modalities[0]].device)
        losses = {
            f'loss_unimodal_{m}': F.cross_entropy(logits[m], labels)
            for m in model.modalities
        }
        flag = logits[model.modalities[0]].new_tensor
        losses['greedy_rebalancing'] = flag(float(state.rebalancing))
        for m in model.modalities:
            losses[f'greedy_fixed_{m}'] = flag(float(m == fixed))
        losses['greedy_speed_difference'] = flag(float(self.speed_difference))
        return losses

    def predict_scores(self, model: 'MultiModalRecognizer',
                       feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The mean of the uni-modal heads' logits on the gated features
        (the authors' ``(x_0 + x_1) / 2``).

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: (N, num_classes) scores.
        """
        gated, _ = self.connection(feats)
        logits = model.unimodal_logits(gated, 'unimodal_heads')
        return sum(logits[m] for m in model.modalities) / len(logits)

    def _measure_speeds(self, model: 'MultiModalRecognizer') -> float:
        """Accumulate this step's squared-norm ratios; the new difference.

        Args:
            model (MultiModalRecognizer): The recogniser.

        Returns:
            float: :func:`speed_difference` of the accumulated ratios.
        """
        shared = self._trained(self.connection.squeeze)
        for i, m in enumerate(model.modalities):
            grads, weights = squared_norm_ratio(
                shared + self._trained(self.connection.excite[m]))
            self.bypass_speed[i] += grads / weights
            grads, weights = squared_norm_ratio(
                self._trained(model.encoders[m]) +
                self._trained(model.unimodal_heads[m]))
            self.main_speed[i] += grads / weights
        difference = speed_difference(self.bypass_speed.tolist(),
                                      self.main_speed.tolist())
        self.speed_difference.fill_(difference)
        return difference

    @torch.no_grad()
    def before_optimizer_step(self, model: 'MultiModalRecognizer') -> None:
        """Measure the learning speeds and choose the next step's mode.

        Args:
            model (MultiModalRecognizer): The recogniser.
        """
        # The authors' zero_grad keeps zero tensors: a connection part
        # unused in this step still steps with a zero gradient.
        for param in self._trained(self.connection):
            if param.grad is None:
                param.grad = torch.zeros_like(param)
        state = self.state
        unlocked = self.current_epoch() >= self.starting_epoch
        if self.variant == 'random':
            self._set_state(self._draw_state(
            ) if unlocked else RebalancingState(False, 0, 0))
            return
        if not unlocked:
            self._measure_speeds(model)
            self._set_state(RebalancingState(False, 0, state.step))
            return
        difference = None if state.rebalancing else self._measure_speeds(model)
        self._set_state(
            next_rebalancing_state(state, difference, self.epsilon,
                                   self.window_size))

    def before_train_epoch(self, runner) -> None:
        """Refuse DDP that waits for every parameter's gradient.

        Args:
            runner (Runner): The runner.
        """
        self.check_ddp_finds_unused_parameters(runner)

    def _draw_state(self) -> RebalancingState:
        """The authors' ``random.choice([0, 1, 2])``: a normal step, or a
        re-balancing step fixing modality 1's or modality 0's gate."""
        generator = torch.Generator()
        generator.manual_seed(self.draw_seed * 1_000_003 + self.current_iter())
        choice = int(torch.randint(3, (1, ), generator=generator))
        return RebalancingState(choice != 0, 1 if choice == 1 else 0, 0)

    def extra_repr(self) -> str:
        return (f'variant={self.variant!r}, epsilon={self.epsilon}, '
                f'window_size={self.window_size}, '
                f'starting_epoch={self.starting_epoch}, '
                f'reduction={self.reduction}')
