from mmengine.optim import AmpOptimWrapper

from mmdr.registry import OPTIM_WRAPPERS
from .balanced_optim_wrapper import BalancedOptimWrapper


@OPTIM_WRAPPERS.register_module()
class BalancedAmpOptimWrapper(BalancedOptimWrapper, AmpOptimWrapper):
    """:class:`BalancedOptimWrapper` under automatic mixed precision.

    What ``tools/train.py --amp`` makes of a ``BalancedOptimWrapper``:
    mmengine's :class:`AmpOptimWrapper` (autocast in the forward pass, a
    scaled loss in the backward pass) whose step lets the model's balancer
    change the gradients first. The gradients are unscaled before the
    balancer sees them, since its rules (OGM-GE's noise, MMPareto's norms)
    are written for true gradients; the loss scaler remembers that they
    were, so gradient clipping does not unscale them again, and a step with
    infinite or NaN gradients is still skipped (the scaler found them when
    it unscaled, before the balancer acted).

    Args:
        **kwargs: Arguments of :class:`AmpOptimWrapper` (``loss_scale``,
            ``dtype``) and :class:`OptimWrapper`.
    """

    def step(self, **kwargs) -> None:
        """Unscale, let the balancer change the gradients, clip, then step
        through the loss scaler.

        Args:
            **kwargs: Passed to the optimiser's ``step``.
        """
        balancer = getattr(self._model, 'balancer', None)
        if balancer is not None or self.clip_grad_kwargs:
            self.loss_scaler.unscale_(self.optimizer)
        if balancer is not None:
            balancer.before_optimizer_step(self._model)
        if self.clip_grad_kwargs:
            self._clip_grad()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update(self._scale_update_param)
