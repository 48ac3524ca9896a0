import copy
from typing import TYPE_CHECKING, Dict, List, Optional

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import _load_checkpoint
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from ..utils.umt import (feature_distillation_loss, state_digest,
                         teacher_checkpoint_file, teacher_encoder_state)
from .base_balancer import BaseBalancer

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer


@MODELS.register_module()
class UMT(BaseBalancer):
    """UMT (Uni-Modal Teacher): joint training plus the distillation of every
    encoder's features towards those of a uni-modal teacher.

    The training loss is the fused loss plus, per modality ``m``,
    ``weight * MSE(f_m, t_m)``: the mean squared error between the pooled
    feature ``f_m`` that the multi-modal model's encoder gives the fusion
    and the feature ``t_m`` of the same encoder trained on ``m`` alone
    beforehand (the teacher), on the same batch.

    Paper: Du et al., "On Uni-Modal Feature Learning in Supervised
    Multi-Modal Learning", ICML 2023 (first as "Improving Multi-Modal
    Learning with Uni-Modal Teachers", arXiv 2106.11059): the uni-modal
    features are distilled into the encoders of the late-fusion model. With
    no code of the authors' to follow, this follows BalanceMM
    (GeWu-Lab/BalanceBenchmark, ``balancemm/trainer/UMT_trainer.py``,
    ``UMTTrainer.training_step``): teachers are the toolkit's uni-modal runs
    of the same model, the distance ``nn.MSELoss`` (mean over samples and
    feature dimensions) between the encoders' outputs before the fusion, the
    weight ``scaling`` 10 (``configs/trainer_config.yaml``), over the whole
    of training (its window, epochs 0 to 80, covers its 30 epochs).
    Departure: BalanceMM runs its teachers in training mode (their
    BatchNorm normalises with batch statistics and keeps updating); here
    they are frozen in eval mode, as teachers trained beforehand are meant
    to be.

    Teachers are checkpoints of this recogniser trained with
    ``model.modalities=[m]`` (the benchmark's ``alone`` runs), named per
    modality in ``teachers``: a file, or a finished run's work dir holding
    its one ``best_*.pth``. When the model is built, each teacher is a copy
    of the model's encoder ``m``; when its weights are initialised
    (:meth:`init_weights`, called by the Runner before training and before
    a resume), each copy loads its checkpoint's ``encoders.<m>.*`` with
    mmengine's checkpoint loading (``torch.load`` under torch >= 2.6's
    ``weights_only``, with the types mmdr allows for mmengine checkpoints).
    A missing file, a checkpoint of more than one encoder, or one whose
    encoder differs in keys or shapes stops there, naming the setting and
    the file.

    The teachers are kept outside the module tree: they are no parameters
    of the model, so neither the optimiser, nor DDP, nor ``model.train()``
    sees them; they are frozen, in eval mode, and run under ``no_grad``,
    moved to the batch's device when first used. Nor are they saved in the
    run's checkpoints: they are fully given by their files, and a resumed
    run loads them again before the checkpoint. What the checkpoint keeps is
    the SHA-256 of each teacher's weights (the buffer ``teacher_digests``):
    resuming with teacher files whose weights differ is refused, so a
    resumed run is bit-identical to an uninterrupted one or stops.

    Under DDP nothing is computed from the batch but the losses, whose
    gradients DDP averages (both losses are means over the samples).

    The balancer reads each encoder's input through a forward pre-hook on
    the encoder (a balancer receives the features only), in training mode.

    Args:
        teachers (dict[str, str]): Modality to teacher checkpoint (a file or
            a run's work dir), one per modality of the model.
        weight (float): Weight of every modality's distillation loss.
            Defaults to 10 (BalanceMM's ``scaling``).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 teachers: Dict[str, str],
                 weight: float = 10.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(teachers, dict) or not teachers:
            raise ValueError(
                'UMT: model.balancer.teachers must map every modality to a '
                'checkpoint of this recogniser trained on that modality '
                f'alone, got {teachers!r}')
        if weight < 0:
            raise ValueError(f'UMT: weight must be >= 0, got {weight}')
        self.teacher_paths = dict(teachers)
        self.weight = weight
        self.register_buffer('teacher_digests',
                             torch.zeros(len(teachers), 32, dtype=torch.uint8))
        # Plain containers: not submodules, so not parameters of the model.
        self._teachers: Dict[str, nn.Module] = {}
        self._loaded = False
        self._inputs: Dict[str, torch.Tensor] = {}

    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Check the teachers' modalities and make each a copy of the
        model's encoder (loaded in :meth:`init_weights`)."""
        super().check_model(model)
        if set(self.teacher_paths) != set(model.modalities):
            raise ValueError(
                'UMT: model.balancer.teachers names '
                f'{sorted(self.teacher_paths)}, the model\'s modalities are '
                f'{list(model.modalities)}; name one teacher per modality')
        # Same order as the model's modalities (and the digests' rows).
        self.teacher_paths = {
            m: self.teacher_paths[m]
            for m in model.modalities
        }
        for m, encoder in model.encoders.items():
            teacher = copy.deepcopy(encoder)
            teacher.requires_grad_(False)
            self._teachers[m] = teacher.eval()
            encoder.register_forward_pre_hook(self._remember_input)

    def _remember_input(self, encoder: nn.Module, args: tuple) -> None:
        """Forward pre-hook of every encoder: keep its training input."""
        if encoder.training:
            self._inputs[encoder.modality] = args[0]

    def init_weights(self) -> None:
        """Load every teacher from its checkpoint and record its digest."""
        super().init_weights()
        logger = MMLogger.get_current_instance()
        for row, (m, path) in enumerate(self.teacher_paths.items()):
            key = f'model.balancer.teachers.{m}'
            checkpoint = teacher_checkpoint_file(path, key)
            loaded = _load_checkpoint(checkpoint, map_location='cpu')
            teacher = self._teachers[m]
            state = teacher_encoder_state(
                loaded.get('state_dict', loaded), m, teacher.state_dict(),
                f'{key}={path!r} ({checkpoint})')
            teacher.load_state_dict(state)
            self.teacher_digests[row] = state_digest(state).to(
                self.teacher_digests.device)
            logger.info(f'UMT: the {m} teacher is {checkpoint}')
        self._loaded = True

    def _load_from_state_dict(self, state_dict, prefix, *args,
                              **kwargs) -> None:
        """Refuse a checkpoint trained with other teachers than the loaded
        ones (resuming would not continue that run)."""
        saved = state_dict.get(prefix + 'teacher_digests')
        if self._loaded and saved is not None and saved.shape == (
                self.teacher_digests.shape):
            differ = [
                f'model.balancer.teachers.{m}={path!r}'
                for row, (m, path) in enumerate(self.teacher_paths.items())
                if not torch.equal(saved[row].cpu(),
                                   self.teacher_digests[row].cpu())
            ]
            if differ:
                raise ValueError(
                    'UMT: the checkpoint was trained with other teacher '
                    f'weights than {", ".join(differ)} holds; give the '
                    'teachers of that run')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def teacher_features(self) -> Dict[str, torch.Tensor]:
        """The teachers' features of the batch the encoders last trained on.

        Returns:
            dict[str, torch.Tensor]: Modality to (N, D_m) features, without
            gradients.
        """
        if not self._loaded:
            raise RuntimeError(
                'UMT: the teachers are not loaded; call the model\'s '
                'init_weights() (the Runner does) before training')
        feats = {}
        with torch.no_grad():
            for m, teacher in self._teachers.items():
                inputs = self._inputs.pop(m)
                feats[m] = teacher.to(inputs.device)(inputs)
        return feats

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The fused loss plus one weighted distillation loss per modality.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls``, accuracies and
            ``loss_distill_<modality>`` per modality.
        """
        losses = self.fused_loss(model, feats, data_samples)
        for m, target in self.teacher_features().items():
            losses[f'loss_distill_{m}'] = feature_distillation_loss(
                feats[m], target, self.weight)
        return losses
