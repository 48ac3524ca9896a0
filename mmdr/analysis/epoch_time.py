"""Training time per epoch of a run, read from its mmengine log (pure
Python).

mmengine logs a line when an epoch's training ends (``Epoch(train)
[k][N/N]``, ``LoggerHook(ignore_last=False)``, as mmdr's runtime) and when
its validation ends (``Epoch(val) [k][n/n] ... time: t``, the mean
iteration time). Between the end of a process's first epoch and the end of
its last, the wall clock holds the training of the epochs after the first,
with their hooks (e.g. D&R's diagnosis, PMR's prototypes, Gradient-Blending's
estimates), and the validations in between, which are subtracted (``n * t``
each). The log's timestamps have whole seconds, so the span is known to
about a second however many epochs it holds.
"""
import re
from datetime import datetime
from typing import Iterable, Optional, Tuple

#: ``2026/12/06 09:58:12`` (the file log) or ``12/06 09:58:12`` (stdout).
_LINE = re.compile(r'^(?:(?P<year>\d{4})/)?(?P<month>\d{2})/(?P<day>\d{2}) '
                   r'(?P<clock>\d{2}:\d{2}:\d{2}) - mmengine - INFO - '
                   r'Epoch\((?P<mode>train|val)\)\s*\[(?P<epoch>\d+)\]'
                   r'\[(?P<iter>\d+)/(?P<iters>\d+)\](?P<rest>.*)$')
_ITER_TIME = re.compile(r'(?:^|\s)time: (\d+(?:\.\d+)?)')


def _timestamp(match: re.Match) -> float:
    # A leap year where the stdout format has none: any date parses.
    year = match['year'] or '2000'
    stamp = f'{year}/{match["month"]}/{match["day"]} {match["clock"]}'
    return datetime.strptime(stamp, '%Y/%m/%d %H:%M:%S').timestamp()


def _process_span(lines: Iterable[str]) -> Optional[Tuple[float, int]]:
    """Training seconds and epochs of one process's log after its first
    epoch, or None (fewer than two epochs ended)."""
    first = last = None
    validation = 0.
    pending_val = {}
    for line in lines:
        match = _LINE.match(line.rstrip('\n'))
        if match is None or match['iter'] != match['iters']:
            continue
        epoch, stamp = int(match['epoch']), _timestamp(match)
        if match['mode'] == 'val':
            iter_time = _ITER_TIME.search(match['rest'])
            if iter_time is not None:
                # The last line of the epoch's validation counts.
                pending_val[epoch] = int(match['iters']) * float(
                    iter_time.group(1))
            continue
        if first is None:
            first = (epoch, stamp)
        elif epoch > last[0]:
            validation += sum(pending_val.values())
        last = (epoch, stamp)
        pending_val = {}
    if first is None or last[0] <= first[0] or last[1] < first[1]:
        return None
    return last[1] - first[1] - validation, last[0] - first[0]


def train_epoch_seconds(log_text: str,
                        process_marker: str = '$ ') -> Optional[float]:
    """Mean wall-clock seconds of a training epoch in a run's log.

    Args:
        log_text (str): The output of the run's training processes, one
            after the other (a resumed run's log holds several).
        process_marker (str): Lines starting with it begin a process's
            output (the benchmark writes the command line so). Defaults to
            ``'$ '``.

    Returns:
        float, optional: Seconds per epoch over the epochs after each
        process's first (whose time holds the process's start), or None if
        no process ended two epochs.
    """
    processes, current = [], []
    for line in log_text.splitlines():
        if line.startswith(process_marker) and current:
            processes.append(current)
            current = []
        current.append(line)
    processes.append(current)
    spans = [s for s in map(_process_span, processes) if s is not None]
    epochs = sum(n for _, n in spans)
    if not epochs:
        return None
    return max(0., sum(s for s, _ in spans)) / epochs
