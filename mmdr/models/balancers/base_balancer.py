import copy
from abc import ABCMeta, abstractmethod
from typing import TYPE_CHECKING, Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmengine.logging import MessageHub
from mmengine.model import BaseModule
from mmengine.structures import BaseDataElement
from torch.nn.parallel import DistributedDataParallel

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


def gt_labels(data_samples: List[BaseDataElement],
              device: torch.device) -> torch.Tensor:
    """The class labels of a batch, as mmaction2's heads read them.

    Args:
        data_samples (list[ActionDataSample]): Annotations.
        device (torch.device): Where the labels go.

    Returns:
        torch.Tensor: Shape (N, ), int64.
    """
    return torch.stack([s.gt_labels.item for s in data_samples]).view(-1).to(
        device=device, dtype=torch.long)


def true_class_scores(model: 'MultiModalRecognizer', feats: Dict[str,
                                                                 torch.Tensor],
                      data_samples: List[BaseDataElement]) -> torch.Tensor:
    """Each modality's score of the batch: the summed softmax probability
    of the true class under its slice of the concatenation head (OGM-GE's
    and OPM's score), summed over the ranks, without gradients.

    Args:
        model (MultiModalRecognizer): The recogniser.
        feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
        data_samples (list[ActionDataSample]): Annotations.

    Returns:
        torch.Tensor: Shape (M, ), in the model's modality order.
    """
    with torch.no_grad():
        logits = model.unimodal_logits(
            {
                m: f.detach()
                for m, f in feats.items()
            }, 'fused_head')
        labels = gt_labels(data_samples, feats[model.modalities[0]].device)
        # float32 under autocast too: the scores are sums over the batch.
        scores = torch.stack([
            F.softmax(logits[m].float(), dim=1).gather(1, labels[:,
                                                                 None]).sum()
            for m in model.modalities
        ])
        all_reduce(scores)  # the authors' DataParallel sees the whole batch
    return scores


class BaseBalancer(BaseModule, metaclass=ABCMeta):
    """Base class of the balancing methods a recogniser trains with.

    A balancer replaces the recogniser's training loss (:meth:`loss`, which
    receives the per-modality features of the batch) and may change the
    gradients between the backward pass and the optimiser step
    (:meth:`before_optimizer_step`, run by
    :class:`mmdr.engine.optimizers.BalancedOptimWrapper`). It is a submodule
    of the recogniser, so any state it keeps as buffers is saved in
    checkpoints and resumed. A method that also changes how the model
    predicts (cosine-normalised logits, a weighted ensemble of uni-modal
    heads) returns its class scores from :meth:`predict_scores`; every other
    method leaves prediction to the fusion and the head.

    Subclasses declare what they need, and the recogniser checks it when it
    is built, before any training:

    - ``max_modalities``: the most modalities the method is defined for
      (None: any number);
    - ``unimodal_logits_from``: ``'unimodal_heads'`` (one linear head per
      encoder, the recogniser's ``unimodal_head``), ``'fused_head'``
      (slices of a concatenation head) or None;
    - ``modulates_gradients``: whether :meth:`before_optimizer_step` acts.

    Args:
        init_cfg (dict, optional): Initialisation config.
    """
    max_modalities: Optional[int] = None
    unimodal_logits_from: Optional[str] = None
    modulates_gradients: bool = False

    def __init__(self, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        # Set by BalancedOptimWrapper on every step it owns; a method that
        # modulates gradients refuses to train without it.
        self.step_owner: Optional[object] = None

    @property
    def name(self) -> str:
        """str: The method's name in messages."""
        return type(self).__name__

    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Raise if the recogniser cannot be trained with this method.

        Args:
            model (MultiModalRecognizer): The recogniser being built.
        """
        modalities = model.modalities
        if (self.max_modalities is not None
                and len(modalities) > self.max_modalities):
            raise ValueError(
                f'{self.name} is defined for at most {self.max_modalities} '
                f'modalities, but model.encoders has {len(modalities)}: '
                f'{list(modalities)}. Use a method that takes '
                f'{len(modalities)} (D&R, MMPareto, UnimodalAuxLoss) or '
                'train fewer modalities.')
        if len(modalities) < 2:
            raise ValueError(
                f'{self.name} balances two or more modalities; the model '
                f'trains only {list(modalities)}')
        if (self.unimodal_logits_from == 'unimodal_heads'
                and model.unimodal_heads is None):
            raise ValueError(
                f'{self.name} needs one linear head per encoder; set '
                "model.unimodal_head=dict(type='LinearClsHead') in the "
                'config')
        if self.unimodal_logits_from == 'fused_head':
            model.check_fused_head_slices(self.name)

    @abstractmethod
    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The training losses of a batch.

        Args:
            model (MultiModalRecognizer): The recogniser (unwrapped).
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality,
                with gradients.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: Loss components (keys with ``loss`` are
            summed by mmengine) and logged values.
        """

    @staticmethod
    def fused_loss(
            model: 'MultiModalRecognizer', feats: Dict[str, torch.Tensor],
            data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The joint-training loss: the head's loss on the fused feature.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: The head's ``loss_cls`` and accuracies.
        """
        return model.cls_head.loss(model.fusion(feats), data_samples)

    def predict_scores(
            self, model: 'MultiModalRecognizer',
            feats: Dict[str, torch.Tensor]) -> Optional[torch.Tensor]:
        """The class scores the model predicts with, where the method
        defines its own.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality,
                without gradients.

        Returns:
            torch.Tensor, optional: (N, num_classes) scores, or None (the
            default): the head's scores on the fused feature.
        """
        return None

    def before_optimizer_step(self, model: 'MultiModalRecognizer') -> None:
        """Change the gradients after the backward pass, before the step.

        Under DDP the gradients are already averaged over the ranks here.

        Args:
            model (MultiModalRecognizer): The recogniser (unwrapped).
        """

    def before_train_epoch(self, runner) -> None:
        """Epoch-level work (e.g. PMR's prototypes), on every rank.

        Called by :class:`mmdr.engine.hooks.BalancerHook` before each
        training epoch.

        Args:
            runner (Runner): The runner.
        """

    def check_epoch_based_loop(self, runner, needs: str) -> None:
        """Raise unless the run trains by epochs.

        Args:
            runner (Runner): The runner.
            needs (str): What the method does by epochs, for the message
                (e.g. ``'computes prototypes before every epoch'``).
        """
        from mmengine.runner import EpochBasedTrainLoop
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            raise TypeError(f'{self.name} {needs}; train_cfg builds a '
                            f'{type(runner.train_loop).__name__}. Use '
                            "train_cfg=dict(type='EpochBasedTrainLoop', ...).")

    @staticmethod
    def training_set_loader(runner,
                            shuffle: bool = False,
                            sampler: Optional[dict] = None):
        """A loader of the training data set for a method's epoch-level
        pass, with the training loader's settings, seeded on its own.

        Args:
            runner (Runner): The runner.
            shuffle (bool): Whether the default sampler shuffles. Defaults
                to False.
            sampler (dict, optional): The sampler's config, in place of the
                default ``DefaultSampler`` without round-up (each rank its
                own samples, every sample once).

        Returns:
            DataLoader: The loader.
        """
        from mmengine.runner import Runner
        cfg = copy.deepcopy(dict(runner.cfg.train_dataloader))
        for key in ('sampler', 'batch_sampler', 'dataset', 'generator',
                    'worker_init_fn'):
            cfg.pop(key, None)
        if sampler is None:
            # Each rank its own samples, none repeated to pad the ranks.
            sampler = dict(
                type='DefaultSampler', shuffle=shuffle, round_up=False)
        cfg.update(
            # The data set the run trains on, with its pipeline.
            dataset=runner.train_dataloader.dataset,
            sampler=sampler,
            # Persistent workers would carry random states across epochs
            # that no checkpoint holds.
            persistent_workers=False,
            # Its own generator: a loader's base seed does not come out of
            # the training stream.
            generator=torch.Generator())
        return Runner.build_dataloader(cfg, seed=runner.seed)

    def in_epochs(self, begin: int, end: Optional[int] = None) -> bool:
        """Whether the current epoch is in ``[begin, end]``.

        Args:
            begin (int): The first epoch, counted from 1.
            end (int, optional): The last one; None: to the end of training.

        Returns:
            bool: True from ``begin`` to ``end``, both included.
        """
        epoch = self.current_epoch()
        return begin <= epoch and (end is None or epoch <= end)

    def check_one_batch_per_step(self, needs: str) -> None:
        """Raise if the optimiser wrapper accumulates several batches per
        step.

        Args:
            needs (str): Why the method needs one batch per step, for the
                message (e.g. ``'weighs the gradients of one batch'``).
        """
        counts = getattr(self.step_owner, '_accumulative_counts', 1)
        if counts != 1:
            raise ValueError(
                f'{self.name} {needs}, but optim_wrapper.accumulative_counts='
                f'{counts} accumulates {counts} batches per step; use '
                'accumulative_counts=1 (a larger batch_size instead)')

    def check_ddp_finds_unused_parameters(self, runner) -> None:
        """Raise if DDP would wait for gradients that a step of this method
        leaves out (one modality per step, a fused head never trained).

        DDP stops at the second iteration otherwise, with a message that
        names no setting; with ``find_unused_parameters=True`` it reduces
        what is there and leaves the rest as one process would.

        Args:
            runner (Runner): The runner.
        """
        if (isinstance(runner.model, DistributedDataParallel)
                and not runner.model.find_unused_parameters):
            raise RuntimeError(
                f'{self.name} leaves some parameters without gradients in a '
                'step, which DDP refuses unless find_unused_parameters=True; '
                'set find_unused_parameters = True in the config (its '
                'fragment in configs/_base_/methods/ does)')

    def check_step_owner(self) -> None:
        """Raise if gradients must be modulated but nothing will call
        :meth:`before_optimizer_step`."""
        if self.modulates_gradients and self.step_owner is None:
            raise RuntimeError(
                f'{self.name} changes the gradients between the backward '
                "pass and the optimiser step through mmdr's "
                'BalancedOptimWrapper, but this run\'s optimiser wrapper is '
                "another; set optim_wrapper.type='BalancedOptimWrapper' in "
                'the config')

    @staticmethod
    def current_epoch() -> int:
        """int: The epoch being trained, counted from 1 (mmengine's log);
        1 outside a Runner."""
        return int(MessageHub.get_current_instance().get_info('epoch', 0)) + 1

    @staticmethod
    def current_iter() -> int:
        """int: The training iteration, counted from 0 over the whole run;
        0 outside a Runner."""
        return int(MessageHub.get_current_instance().get_info('iter', 0))
