from contextlib import contextmanager
from typing import Optional

import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper

from mmdr.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class BalancedOptimWrapper(OptimWrapper):
    """mmengine's :class:`OptimWrapper` that lets the model's balancer
    change the gradients between the backward pass and the step.

    mmengine's ``train_step`` (of a model and of its DDP wrapper alike)
    enters :meth:`optim_context` with the model, runs the forward pass and
    calls :meth:`update_params`; this wrapper remembers the model there, and
    :meth:`step` calls its balancer's ``before_optimizer_step`` first (after
    DDP has averaged the gradients, before any gradient clipping). A model
    without a balancer trains exactly as with :class:`OptimWrapper`, so the
    shipped schedules use this wrapper throughout and a balancing method is
    switched on by ``model.balancer`` alone.

    Args:
        **kwargs: Arguments of :class:`OptimWrapper`.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._model: Optional[nn.Module] = None

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Remember the model, then enter :class:`OptimWrapper`'s context.

        Args:
            model (nn.Module): The model (or its DDP wrapper) of this step.
        """
        self._model = model.module if is_model_wrapper(model) else model
        balancer = getattr(self._model, 'balancer', None)
        if balancer is not None:
            balancer.step_owner = self
        with super().optim_context(model):
            yield

    def step(self, **kwargs) -> None:
        """Let the balancer change the gradients, then step.

        Args:
            **kwargs: Passed to the optimiser's ``step``.
        """
        balancer = getattr(self._model, 'balancer', None)
        if balancer is not None:
            balancer.before_optimizer_step(self._model)
        super().step(**kwargs)
