"""Training seconds per epoch read from hand-written mmengine logs."""
import pytest

from mmdr.analysis.epoch_time import train_epoch_seconds

PREFIX = ' - mmengine - INFO - '


def _train(stamp, epoch, i=4, n=4):
    return (f'{stamp}{PREFIX}Epoch(train)  [{epoch}][{i}/{n}]  lr: 1e-03  '
            'eta: 0:00:10  time: 0.5000  data_time: 0.0100  loss: 1.0')


def _val(stamp, epoch, i=2, n=2, time=1.5):
    return (f'{stamp}{PREFIX}Epoch(val) [{epoch}][{i}/{n}]    acc/top1: 0.5'
            f'  data_time: 0.0100  time: {time:.4f}')


def test_epochs_after_the_first_without_their_validation():
    log = '\n'.join([
        '$ python tools/train.py config.py --seed 0',
        '12/06 10:00:00 - mmengine - INFO - Checkpoints will be saved to x',
        _train('12/06 10:00:07', 1, i=2),  # not the end of the epoch
        _train('12/06 10:00:09', 1),
        _val('12/06 10:00:12', 1, i=1),  # a progress line
        _val('12/06 10:00:12', 1),  # 2 x 1.5 s of validation
        _train('12/06 10:00:20', 2),
        _val('12/06 10:00:23', 2),
        _train('12/06 10:00:31', 3),
        _val('12/06 10:00:34', 3),  # after the last epoch: not counted
    ])
    # (31 - 9 - 2 * 3) s over epochs 2 and 3.
    assert train_epoch_seconds(log) == pytest.approx(8.)


def test_processes_of_a_resumed_run_and_the_file_log_format():
    log = '\n'.join([
        '$ python tools/train.py config.py',
        _train('2026/12/31 23:59:50', 1),
        _train('2026/12/31 23:59:55', 2),  # no validation in between
        '$ python tools/train.py config.py --resume',
        _train('2027/01/01 00:10:00', 3),  # the first of the process
        _train('2027/01/01 00:10:06', 4),
        _train('2027/01/01 00:10:13', 5),
    ])
    assert train_epoch_seconds(log) == pytest.approx((5 + 6 + 7) / 3)


def test_no_time_without_two_epochs_in_a_process():
    assert train_epoch_seconds('') is None
    assert train_epoch_seconds(_train('12/06 10:00:09', 1)) is None
    assert train_epoch_seconds('\n'.join([
        _train('12/06 10:00:09', 1), '$ resumed',
        _train('12/06 10:05:09', 2)
    ])) is None
