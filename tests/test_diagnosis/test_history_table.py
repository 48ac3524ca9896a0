from mmdr.diagnosis import format_dr_history


def _record(epoch, **modalities):
    return dict(
        epoch=epoch,
        modalities={
            m: dict(train_purity=t, val_purity=v, gap=t - v, strength=s)
            for m, (t, v, s) in modalities.items()
        })


def test_one_row_per_diagnosis_and_modality():
    table = format_dr_history([
        _record(6, audio=(0.5, 0.25, 0.1), visual=(0.9, 0.875, 0.02)),
        _record(11, audio=(0.625, 0.5, 0.3), visual=(1.0, 0.875, 0.05)),
    ])
    lines = table.splitlines()
    assert lines[0] == ('| after epoch | modality | train purity | '
                        'val purity | gap | strength |')
    assert lines[1] == '| --- | --- | --- | --- | --- | --- |'
    assert lines[2:] == [
        '| 6 | audio | 0.5000 | 0.2500 | 0.2500 | 0.1000 |',
        '| 6 | visual | 0.9000 | 0.8750 | 0.0250 | 0.0200 |',
        '| 11 | audio | 0.6250 | 0.5000 | 0.1250 | 0.3000 |',
        '| 11 | visual | 1.0000 | 0.8750 | 0.1250 | 0.0500 |',
    ]


def test_empty_history_says_so():
    assert format_dr_history([]) == 'no D&R diagnosis ran'
