"""Reading the numbers of training curves from a work dir
(mmdr.analysis.training_curves) laid out as DRHook and mmengine write it."""
import json

import pytest

from mmdr.analysis import (load_training_curves, purity_series,
                           read_epoch_scalars, relearn_epochs, scalar_logs)
from mmdr.analysis.training_curves import read_test_metrics


def _record(epoch, relearned=None, **modalities):
    record = dict(
        epoch=epoch,
        modalities={
            m:
            dict(train_purity=t, val_purity=v, gap=abs(t - v), strength=0.1)
            for m, (t, v) in modalities.items()
        })
    if relearned is not None:
        record['relearned'] = relearned
    return record


def _scalars(work, timestamp, lines):
    folder = work / timestamp / 'vis_data'
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text(''.join(
        json.dumps(line) + '\n' for line in lines))


def test_series_are_per_modality_in_epoch_order():
    history = [
        _record(3, audio=(0.5, 0.25), visual=(0.75, 0.5)),
        _record(1, False, audio=(0.3, 0.2), visual=(0.6, 0.4)),
        _record(2, False, visual=(0.7, 0.4)),
    ]
    series = purity_series(history)
    assert list(series) == ['audio', 'visual']
    assert series['audio'] == dict(
        epoch=[1, 3],
        train_purity=[0.3, 0.5],
        val_purity=[0.2, 0.25],
        gap=[pytest.approx(0.1), 0.25])
    assert series['visual']['epoch'] == [1, 2, 3]
    assert series['visual']['gap'] == pytest.approx([0.2, 0.3, 0.25])
    # Without 'relearned' a record is a re-learning (histories of runs
    # without monitoring).
    assert relearn_epochs(history) == [3]
    assert relearn_epochs([_record(7), _record(13, True)]) == [7, 13]


def test_validation_metric_merges_resumed_logs_later_wins(tmp_path):
    _scalars(tmp_path, '20260101_120000', [
        dict(lr=0.1, loss=2.0, epoch=1, iter=5, step=5),
        {
            'acc/top1': 0.25,
            'step': 1
        },
        {
            'dr/audio/gap': 0.1,
            'step': 1
        },
        {
            'acc/top1': 0.5,
            'step': 2
        },
    ])
    # Resumed from epoch 1: epoch 2 is trained and validated again.
    _scalars(tmp_path, '20260101_130000', [
        {
            'acc/top1': 0.625,
            'step': 2
        },
        {
            'acc/top1': 0.75,
            'step': 3
        },
    ])
    (tmp_path / 'not_a_run').mkdir()
    assert [p.split('/')[-3] for p in scalar_logs(str(tmp_path))
            ] == ['20260101_120000', '20260101_130000']
    assert read_epoch_scalars(str(tmp_path)) == {1: 0.25, 2: 0.625, 3: 0.75}
    assert read_epoch_scalars(str(tmp_path), 'dr/audio/gap') == {1: 0.1}

    (tmp_path / 'dr_history.json').write_text(
        json.dumps([_record(2, audio=(0.5, 0.25))]))
    curves = load_training_curves(str(tmp_path), label='D&R')
    assert curves.label == 'D&R'
    assert curves.relearn_epochs == [2]
    assert curves.val_metric == dict(
        epoch=[1, 2, 3], value=[0.25, 0.625, 0.75])
    assert curves.purities['audio']['train_purity'] == [0.5]


def test_a_run_without_dr_history_has_only_the_metric(tmp_path):
    _scalars(tmp_path / 'jt', '20260101_120000', [{
        'acc/top1': 0.5,
        'step': 1
    }])
    curves = load_training_curves(str(tmp_path / 'jt'))
    assert curves.label == 'jt'
    assert curves.purities == {} and curves.relearn_epochs == []
    assert curves.val_metric == dict(epoch=[1], value=[0.5])


def test_a_folder_that_is_no_run_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match='is not a directory'):
        load_training_curves(str(tmp_path / 'missing'))
    with pytest.raises(FileNotFoundError, match='holds neither dr_history'):
        load_training_curves(str(tmp_path))


def test_test_metrics_are_those_of_the_latest_test_log(tmp_path):
    assert read_test_metrics(str(tmp_path)) is None
    for timestamp, top1 in (('20240101_000000', 0.5), ('20240102_000000',
                                                       0.75)):
        folder = tmp_path / timestamp
        (folder / 'vis_data').mkdir(parents=True)
        # What LoggerHook.after_test_epoch writes: the metrics and the
        # epoch's timing.
        (folder / f'{timestamp}.json').write_text(
            json.dumps({
                'acc/top1': top1,
                'acc/top5': 1.0,
                'time': 0.3,
                'data_time': 0.1
            }))
        # Scalar logs of training are no test log.
        (folder / 'vis_data' / f'{timestamp}.json').write_text('{"a": 1}\n')
    # A resumed run that has not tested yet.
    (tmp_path / '20240103_000000').mkdir()
    assert read_test_metrics(str(tmp_path)) == {
        'acc/top1': 0.75,
        'acc/top5': 1.0
    }
    assert read_test_metrics(
        str(tmp_path), exclude={'20240102_000000'}) == {
            'acc/top1': 0.5,
            'acc/top5': 1.0
        }
    assert read_test_metrics(
        str(tmp_path), exclude={'20240101_000000', '20240102_000000'}) is None
