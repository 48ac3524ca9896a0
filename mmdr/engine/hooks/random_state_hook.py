from typing import List, Optional

from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

from mmdr.registry import HOOKS
from mmdr.utils.random_state import get_random_state, set_random_state


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make a resumed run draw the same random numbers as an uninterrupted one.

    mmengine seeds the generators when a run starts, also on ``--resume``, so
    a resumed run's dropout masks and random augmentations are not those the
    uninterrupted run would have drawn. This hook

    - reads every rank's generator states (Python, NumPy, torch, CUDA) at the
      end of every training epoch, before ``CheckpointHook`` saves, and
      writes them into the checkpoint under ``'random_state'``;
    - restores this rank's states when a run resumes from such a checkpoint;
    - fences validation: whatever the
      validation loop draws (its data loader takes a base seed from torch's
      generator each time it starts) is put back, so the training stream does
      not depend on whether the epoch was validated. A resumed run does not
      repeat the validation of the epoch it resumes from, so this is what
      makes the two streams meet.

    With ``num_workers=0`` in the training data loader (and on the CPU) a
    resumed run is then bit-identical to the uninterrupted one. Workers:
    mmengine seeds every worker from the run's seed, rank and worker id when
    it starts, so non-persistent workers (``persistent_workers=False``)
    restart identically; persistent workers carry their generators over
    epochs inside their processes, which a checkpoint cannot hold. A
    checkpoint without random states (written before this hook existed, or
    by another world size) resumes with a warning.

    Epoch-based training loops only: the states are read at epoch ends.
    """

    # After the other hooks' after_train_epoch, before CheckpointHook's
    # (VERY_LOW); before_train restores after every other hook that may
    # still draw (e.g. building models or data).
    priority = 'LOW'

    def __init__(self) -> None:
        self._states: Optional[List[dict]] = None
        self._loaded: Optional[dict] = None
        self._before_val: Optional[dict] = None

    def after_train_epoch(self, runner) -> None:
        """Read every rank's generator states (a collective call).

        Args:
            runner (Runner): The runner.
        """
        self._states = all_gather_object(get_random_state())

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Write the states read at the end of the epoch.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint being saved.
        """
        if self._states is not None:
            checkpoint['random_state'] = dict(
                world_size=len(self._states), states=self._states)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the loaded states until it is known whether we resume.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The loaded checkpoint.
        """
        self._loaded = dict(
            state=checkpoint.get('random_state'),
            epoch=checkpoint.get('meta', {}).get('epoch'))

    def before_train(self, runner) -> None:
        """Restore this rank's states when the run resumes.

        Args:
            runner (Runner): The runner.
        """
        loaded, self._loaded = self._loaded or {}, None
        resumed = runner.epoch > 0 and loaded.get('epoch') == runner.epoch
        if not resumed:
            return
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            runner.logger.warning(
                'RandomStateHook: random states are restored for '
                'epoch-based training loops only; this resumed run draws '
                'other random numbers than an uninterrupted one.')
            return
        saved = loaded.get('state')
        if saved is None:
            runner.logger.warning(
                'RandomStateHook: the resumed checkpoint holds no random '
                'generator states (it was written without this hook, e.g. '
                'by mmdr < 0.2); training resumes, but dropout, '
                'augmentation and other random draws differ from an '
                'uninterrupted run.')
            return
        if saved['world_size'] != get_world_size():
            runner.logger.warning(
                f'RandomStateHook: the checkpoint holds the random states of '
                f'{saved["world_size"]} processes, this run has '
                f'{get_world_size()}; training resumes with freshly seeded '
                'generators.')
            return
        set_random_state(saved['states'][get_rank()])
        runner.logger.info(
            'RandomStateHook: restored the random generator states saved '
            f'after epoch {runner.epoch}.')

    def before_val(self, runner) -> None:
        """Start fencing what validation draws.

        Args:
            runner (Runner): The runner.
        """
        # A plain saved state, not a context manager kept open across
        # hooks: an interrupted validation must not restore the state later,
        # whenever the suspended generator is garbage-collected.
        self._before_val = get_random_state()

    def after_val(self, runner) -> None:
        """Put the generators back as they were before validation.

        Args:
            runner (Runner): The runner.
        """
        if self._before_val is not None:
            state, self._before_val = self._before_val, None
            set_random_state(state)
