"""When D&R diagnoses: the epochs after which it re-learns or only monitors."""
from typing import List, Optional, Sequence


def is_int(value, minimum: int) -> bool:
    """Whether ``value`` is an int (not a bool) of at least ``minimum``."""
    return (isinstance(value, int) and not isinstance(value, bool)
            and value >= minimum)


def relearned(history: Sequence[dict]) -> List[dict]:
    """The re-learning records of a D&R history.

    Args:
        history (Sequence[dict]): Records as :class:`DRHook` writes them; a
            monitor record has ``relearned: False``.

    Returns:
        list[dict]: The records without ``relearned: False``.
    """
    return [r for r in history if r.get('relearned', True)]


class DRSchedule:
    """The diagnosis schedule of D&R, epochs counted from 1.

    Re-learning follows epoch ``E`` when ``E >= begin`` and
    ``(E - begin) % interval == 0``, at most ``max_times`` times; monitoring
    (a diagnosis without re-learning) follows every epoch divisible by
    ``monitor_interval``. No epoch is diagnosed twice.

    Args:
        interval (int): Epochs between re-learnings. Defaults to 20.
        begin (int, optional): First epoch after which to re-learn.
            Defaults to ``interval + 1``.
        max_times (int): Most re-learnings in a run. Defaults to 3.
        monitor_interval (int, optional): Epochs between monitor diagnoses;
            None monitors nothing. Defaults to None.
    """

    def __init__(self,
                 interval: int = 20,
                 begin: Optional[int] = None,
                 max_times: int = 3,
                 monitor_interval: Optional[int] = None) -> None:
        # DRHook's arguments: its messages name them.
        if not is_int(interval, 1):
            raise ValueError(f'DRHook: interval={interval!r} must be an '
                             'int >= 1')
        begin = interval + 1 if begin is None else begin
        if not is_int(begin, 1):
            raise ValueError(f'DRHook: begin={begin!r} must be an int >= 1')
        if not is_int(max_times, 0):
            raise ValueError(f'DRHook: max_times={max_times!r} must be an '
                             'int >= 0')
        if not (monitor_interval is None or is_int(monitor_interval, 1)):
            raise ValueError(
                f'DRHook: monitor_interval={monitor_interval!r} must be '
                'None or an int >= 1')
        self.interval = interval
        self.begin = begin
        self.max_times = max_times
        self.monitor_interval = monitor_interval

    def is_due(self, epoch: int, history: Sequence[dict]) -> bool:
        """Whether re-learning is due after ``epoch``.

        Args:
            epoch (int): The epoch just trained, counted from 1.
            history (Sequence[dict]): The diagnoses done so far.

        Returns:
            bool: True if D&R re-learns after this epoch.
        """
        return (len(relearned(history)) < self.max_times
                and epoch >= self.begin
                and (epoch - self.begin) % self.interval == 0
                and all(r['epoch'] != epoch for r in history))

    def is_monitored(self, epoch: int, history: Sequence[dict]) -> bool:
        """Whether a monitor diagnosis is due after ``epoch``, unless
        :meth:`is_due` re-learns then.

        Args:
            epoch (int): The epoch just trained, counted from 1.
            history (Sequence[dict]): The diagnoses done so far.

        Returns:
            bool: True if monitoring is on, ``epoch`` is a multiple of
            ``monitor_interval`` and was not diagnosed yet.
        """
        return (self.monitor_interval is not None and epoch >= 1
                and epoch % self.monitor_interval == 0
                and all(r['epoch'] != epoch for r in history))

    def planned_epochs(self, max_epochs: int) -> List[int]:
        """The epochs after which re-learning will run, from the start.

        Args:
            max_epochs (int): Epochs of the run.

        Returns:
            list[int]: 1-based epochs, at most ``max_times``; an epoch after
            which no epoch trains is left out.
        """
        return list(range(self.begin, max_epochs,
                          self.interval))[:self.max_times]
