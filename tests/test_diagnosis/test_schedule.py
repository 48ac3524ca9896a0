"""D&R's schedule: re-learning after the reference code's epochs, monitoring
in between, no epoch twice, and the checks of its arguments."""
import pytest

from mmdr.diagnosis import DRSchedule, relearned


def _run(schedule, epochs):
    """The (epoch, kind) steps of a run of ``epochs`` epochs."""
    history, steps = [], []
    for epoch in range(1, epochs + 1):
        if schedule.is_due(epoch, history):
            steps.append((epoch, 'relearn'))
            history.append(dict(epoch=epoch))
        elif schedule.is_monitored(epoch, history):
            steps.append((epoch, 'monitor'))
            history.append(dict(epoch=epoch, relearned=False))
    return steps, history


def test_defaults_are_the_reference_codes_schedule():
    schedule = DRSchedule()  # H = 20, N = 3, begin = H + 1
    steps, history = _run(schedule, 90)
    # The reference's 0-based epochs 20, 40 and 60.
    assert steps == [(21, 'relearn'), (41, 'relearn'), (61, 'relearn')]
    assert schedule.planned_epochs(90) == [21, 41, 61]
    assert [r['epoch'] for r in relearned(history)] == [21, 41, 61]


@pytest.mark.parametrize('kwargs, relearning', [
    (dict(interval=5), [6, 11, 16]),
    (dict(interval=5, begin=3), [3, 8, 13]),
    (dict(interval=5, begin=3, max_times=10), [3, 8, 13, 18]),
    (dict(interval=5, begin=3, max_times=1), [3]),
    (dict(interval=5, max_times=0), []),
])
def test_interval_begin_and_max_times_move_the_relearning(kwargs, relearning):
    schedule = DRSchedule(**kwargs)
    steps, _ = _run(schedule, 20)
    assert [e for e, kind in steps if kind == 'relearn'] == relearning
    # No re-learning after the last epoch: nothing would train the result.
    assert schedule.planned_epochs(18) == [e for e in relearning if e < 18]


def test_monitoring_fills_the_epochs_between_relearnings():
    steps, history = _run(DRSchedule(6, max_times=3, monitor_interval=2), 20)
    # Re-learning as without monitoring (after 7, 13, 19); monitoring after
    # every even epoch; no epoch is diagnosed twice.
    assert [e for e, kind in steps if kind == 'relearn'] == [7, 13, 19]
    assert [e for e, kind in steps
            if kind == 'monitor'] == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert [r['epoch'] for r in relearned(history)] == [7, 13, 19]
    assert not DRSchedule().is_monitored(1, [])
    # An epoch already diagnosed (e.g. by a resumed run) is not monitored.
    assert not DRSchedule(monitor_interval=1).is_monitored(
        3, [dict(epoch=3, relearned=False)])


@pytest.mark.parametrize('kwargs, message', [
    (dict(interval=0), 'interval=0 must be an int >= 1'),
    (dict(interval=2.0), 'interval=2.0 must be an int >= 1'),
    (dict(begin=0), 'begin=0 must be an int >= 1'),
    (dict(max_times=-1), 'max_times=-1 must be an int >= 0'),
    (dict(max_times=True), 'max_times=True must be an int >= 0'),
    (dict(monitor_interval=0), 'monitor_interval=0 must be None or an int'),
    (dict(monitor_interval='1'), "monitor_interval='1' must be None or an"),
])
def test_each_bad_argument_is_named_with_its_value(kwargs, message):
    with pytest.raises(ValueError, match=f'^DRHook: {message}'):
        DRSchedule(**kwargs)
