from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdr.registry import HOOKS


@HOOKS.register_module()
class BalancerHook(Hook):
    """Give the model's balancing method its epoch-level step.

    Before every training epoch it calls the balancer's
    ``before_train_epoch(runner)`` (e.g. PMR's prototype pass) on every
    rank; a model without a ``balancer`` is left alone, so the hook sits in
    every config's default hooks.

    Priority ``ABOVE_NORMAL``: after :class:`DRHook` (``HIGH``), so that
    what the balancer computes (PMR's prototypes) describes the encoders
    the epoch trains, i.e. after D&R re-learned them; before mmengine's
    ``IterTimerHook`` (``NORMAL``) starts the epoch's clock, so that the
    step is not timed as the epoch's first iteration. mmengine's
    ``DistSamplerSeedHook`` (``NORMAL``) only sets the training sampler's
    epoch, which the balancer does not read. :class:`RandomStateHook`
    (``LOW``) does nothing before an epoch: it reads the generators at the
    end of an epoch and restores them in ``before_train``, before any epoch
    starts; a balancer's epoch step must draw nothing from the training
    stream (PMR fences its pass with
    :func:`mmdr.utils.preserved_random_state`), so its order relative to
    that hook does not matter for a resumed run.
    """

    priority = 'ABOVE_NORMAL'

    def before_train_epoch(self, runner) -> None:
        """Run the balancer's epoch-level step.

        Args:
            runner (Runner): The runner.
        """
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        balancer = getattr(model, 'balancer', None)
        if balancer is not None:
            balancer.before_train_epoch(runner)
