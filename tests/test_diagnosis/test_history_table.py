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


def test_record_log_text_names_the_step_and_the_most_relearnings():
    from mmdr.diagnosis import format_dr_record
    stats = dict(train_purity=0.9, val_purity=0.5, gap=0.4, strength=0.83)
    record = dict(
        index=2,
        epoch=7,
        num_train_samples=30,
        num_val_samples=12,
        time_s=1.234,
        modalities=dict(audio=stats))
    assert format_dr_record(
        record, max_times=5) == (
            'D&R diagnosis 2/5 after epoch 7 (30 train / 12 val samples, 1.23 '
            's); re-learned encoders train in epoch 8:\n'
            '  audio: train purity 0.9000, val purity 0.5000, gap 0.4000, '
            'strength 0.8300')
    monitor = dict(record, relearned=False)
    assert format_dr_record(
        monitor, max_times=5
    ).startswith(
        'D&R monitoring after epoch 7 (30 train / 12 val samples, 1.23 s); '
        'not re-learned, strengths not applied:\n  audio: ')
