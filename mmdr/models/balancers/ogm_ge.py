from typing import TYPE_CHECKING, Dict, List

import torch
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from .base_balancer import BaseBalancer, true_class_scores

if TYPE_CHECKING:
    from mmdr.models.recognizers import MultiModalRecognizer

PARAM_GROUPS = ('weights', 'conv', 'all')


def modulation_coefficients(scores: torch.Tensor,
                            alpha: float) -> torch.Tensor:
    """OGM's per-modality gradient coefficients (Eq. 10 of the paper, as the
    authors' code computes it).

    With two modalities' scores s_0, s_1 the ratio of the dominant one,
    rho = s_dom / s_other > 1, gives it 1 - tanh(alpha * rho); the other
    modality keeps 1. (The code applies tanh to rho itself, not to rho - 1.)

    Args:
        scores (torch.Tensor): Shape (2, ): each modality's summed softmax
            probability of the true class over the batch.
        alpha (float): Modulation strength.

    Returns:
        torch.Tensor: Shape (2, ), the coefficients.
    """
    coeffs = torch.ones_like(scores)
    ratio = scores[1] / scores[0]
    if ratio > 1:
        coeffs[1] = 1 - torch.tanh(alpha * ratio)
    else:
        coeffs[0] = 1 - torch.tanh(alpha / ratio)
    return coeffs


@MODELS.register_module()
class OGMGE(BaseBalancer):
    """On-the-fly Gradient Modulation with Generalization Enhancement.

    Per batch, each modality's score is the summed softmax probability of the
    true class under its uni-modal logits (slices of the concatenation head,
    bias shared equally); the modality with the higher score has its
    encoder's gradients scaled by 1 - tanh(alpha * ratio), and GE adds
    Gaussian noise with the standard deviation of each (unscaled) gradient.
    The training loss is the fused loss alone. Modulation is active in the
    epochs ``begin_epoch`` to ``end_epoch`` (inclusive, counted from 1; the
    code's defaults 0 to 50 counted from 0 are 1 to 51 here).

    Under DDP the scores are summed over all ranks before the ratio (the
    authors' DataParallel sees the whole batch), the gradients are already
    averaged when they are modulated, and the noise comes from a generator
    seeded by the run's seed and the iteration, so every replica draws the
    same noise and stays identical.

    Paper: Peng et al., "Balanced Multimodal Learning via On-the-fly Gradient
    Modulation", CVPR 2022. Code: https://github.com/GeWu-Lab/OGM-GE_CVPR2022
    (``main.py``, ``train_epoch``).

    Args:
        alpha (float): Modulation strength (the paper uses 0.1 to 0.8).
        begin_epoch (int): First modulated epoch. Defaults to 1.
        end_epoch (int): Last modulated epoch. Defaults to 51.
        enhancement (bool): Add GE's Gaussian noise (OGM-GE); False is plain
            OGM. Defaults to True.
        modulated_params (str): Which encoder parameters are modulated:
            ``'weights'`` (every weight of two or more dimensions: the
            code's conv kernels on ResNet-18 encoders, and the linear
            weights of MLP encoders), ``'conv'`` (kernels of three or more
            dimensions only) or ``'all'``. Defaults to ``'weights'``.
        init_cfg (dict, optional): Initialisation config.
    """
    max_modalities = 2
    unimodal_logits_from = 'fused_head'
    modulates_gradients = True

    def __init__(self,
                 alpha: float,
                 begin_epoch: int = 1,
                 end_epoch: int = 51,
                 enhancement: bool = True,
                 modulated_params: str = 'weights',
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if modulated_params not in PARAM_GROUPS:
            raise ValueError(f'OGMGE: modulated_params={modulated_params!r} '
                             f'is not one of {PARAM_GROUPS}')
        if alpha < 0:
            raise ValueError(f'OGMGE: alpha={alpha} must not be negative')
        self.alpha = alpha
        self.begin_epoch = begin_epoch
        self.end_epoch = end_epoch
        self.enhancement = enhancement
        self.modulated_params = modulated_params
        # The run's seed: the Runner seeds torch before it builds the model,
        # identically on every rank and again on resume.
        self.noise_seed = torch.initial_seed() % (2**31)
        self._coeffs: Dict[str, float] = {}

    def check_model(self, model: 'MultiModalRecognizer') -> None:
        """Also require a modulated parameter in every encoder."""
        super().check_model(model)
        for m, encoder in model.encoders.items():
            if not self._modulated(encoder):
                raise ValueError(
                    f'OGMGE(modulated_params={self.modulated_params!r}) '
                    f'finds no parameter to modulate in encoder {m!r}; use '
                    "modulated_params='weights' or 'all'")

    def _modulated(self, encoder: torch.nn.Module) -> List[torch.Tensor]:
        min_dim = dict(weights=2, conv=3, all=0)[self.modulated_params]
        return [
            p for p in encoder.parameters()
            if p.requires_grad and p.dim() >= min_dim
        ]

    def active(self) -> bool:
        """bool: Whether the current epoch is modulated."""
        return self.in_epochs(self.begin_epoch, self.end_epoch)

    def loss(self, model: 'MultiModalRecognizer', feats: Dict[str,
                                                              torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """The fused loss; the batch's coefficients are kept for the step.

        Args:
            model (MultiModalRecognizer): The recogniser.
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls``, accuracies, and the
            logged ``ogm_ratio`` and coefficients.
        """
        self.check_step_owner()
        losses = self.fused_loss(model, feats, data_samples)
        scores = true_class_scores(model, feats, data_samples)
        with torch.no_grad():
            coeffs = modulation_coefficients(scores, self.alpha)
        self._coeffs = dict(zip(model.modalities, coeffs.tolist()))
        losses['ogm_ratio'] = (scores[1] / scores[0]).detach()
        for m, c in self._coeffs.items():
            losses[f'ogm_coeff_{m}'] = coeffs.new_tensor(c)
        return losses

    def before_optimizer_step(self, model: 'MultiModalRecognizer') -> None:
        """Scale the encoders' gradients, and add GE's noise.

        Args:
            model (MultiModalRecognizer): The recogniser.
        """
        if not self._coeffs or not self.active():
            return
        generator = None
        for m, encoder in model.encoders.items():
            for param in self._modulated(encoder):
                if param.grad is None:
                    continue
                grad = param.grad
                if not self.enhancement:
                    grad.mul_(self._coeffs[m])
                    continue
                if generator is None:
                    generator = self._noise_generator(grad.device)
                noise = torch.empty_like(grad).normal_(
                    0, self._std(grad) + 1e-8, generator=generator)
                param.grad = grad * self._coeffs[m] + noise

    @staticmethod
    def _std(grad: torch.Tensor) -> float:
        # torch.std of one element is nan; the code would then add nan.
        return grad.std().item() if grad.numel() > 1 else 0.0

    def _noise_generator(self, device: torch.device) -> torch.Generator:
        """The same generator on every rank, a new stream per iteration."""
        generator = torch.Generator(device=device)
        generator.manual_seed(self.noise_seed * 1_000_003 +
                              self.current_iter())
        return generator

    def extra_repr(self) -> str:
        return (f'alpha={self.alpha}, epochs {self.begin_epoch}-'
                f'{self.end_epoch}, enhancement={self.enhancement}, '
                f'modulated_params={self.modulated_params!r}')
