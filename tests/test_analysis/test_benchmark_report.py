"""The benchmark report's Shapley and complexity cells and runs.csv columns,
from hand-made run results, with runs of earlier versions among them."""
import csv

from mmdr.analysis.benchmark_report import (fmt_count, fmt_ratio, markdown,
                                            write_csv)
from mmdr.analysis.benchmark_statistics import summarize


def _run(method, seed, shapley=None, epoch_s=None, measured=True):
    modalities = ['a'] if method == 'alone-a' else ['a', 'b']
    result = dict(
        setting='s',
        method=method,
        seed=seed,
        metric='acc/top1',
        best_epoch=3,
        val=0.5,
        test={'acc/top1': 0.6},
        probe={m: dict(val=0.5, test=0.4)
               for m in modalities},
        wall_s=10.0)
    if measured:  # what a run of this version stores
        result.update(
            shapley=None if shapley is None else dict(
                split='test',
                replace='features',
                dataset=shapley,
                most_share={m: 0.5
                            for m in shapley},
                tie_share=0.),
            params=72750,
            flops=143360,
            epoch_s=epoch_s,
            measures_wall_s=1.0)
    return result


RESULTS = [
    _run('jt', 0, measured=False),  # an earlier version's run
    _run('jt', 1, dict(a=0.1, b=0.3), 2.0),
    _run('jt', 2, dict(a=0.2, b=0.2), 4.0),
    _run('opm', 0, dict(a=0.3, b=0.1), 3.0),
    _run('opm', 1, dict(a=0.4, b=0.0), 3.0),
    _run('opm', 2, dict(a=0.5, b=0.1), 5.0),
    # A model that does not classify: no Shapley contributions; a log of
    # one epoch per process: no time per epoch.
    _run('alone-a', 1, None, None),
]


def _rows(text):
    lines = [line for line in text.splitlines() if line.startswith('|')]
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    return {
        row['method']: row
        for row in (
            dict(zip(header, (c.strip() for c in line.strip('|').split('|'))))
            for line in lines[2:])
    }


def test_shapley_and_complexity_cells():
    rows = _rows(markdown(RESULTS, ['header']))
    jt, opm, alone = rows['jt'], rows['opm'], rows['alone-a']
    # Mean ± std over the seeds that have them, in percentage points.
    assert jt['Shapley a (pp)'] == '15.00 ± 7.07'
    assert jt['Shapley b (pp)'] == '25.00 ± 7.07'
    assert opm['Shapley a (pp)'] == '40.00 ± 10.00'
    assert alone['Shapley a (pp)'] == '–'
    assert alone['Shapley b (pp)'] == '–'
    assert jt['params'] == opm['params'] == '72.75 K'
    assert jt['FLOPs / sample'] == '143.36 K'
    assert jt['train s / epoch'] == '3.00 ± 1.41'
    assert jt['s / epoch ÷ jt'] == '–'
    # Paired by seed: 3 / 2 and 5 / 4 (seed 0's jt has no time).
    assert opm['s / epoch ÷ jt'] == fmt_ratio(summarize([1.5, 1.25]), 3)
    assert opm['s / epoch ÷ jt'].startswith('×1.38 [')
    assert opm['s / epoch ÷ jt'].endswith('] (n=2)')
    assert alone['train s / epoch'] == '–'
    assert alone['s / epoch ÷ jt'] == '–'


def test_runs_of_earlier_versions_alone_report_dashes():
    rows = _rows(markdown(RESULTS[:1], ['header']))
    assert rows['jt']['test acc/top1 (%)'] == '60.00'
    for column in ('Shapley a (pp)', 'Shapley b (pp)', 'params',
                   'FLOPs / sample', 'train s / epoch', 's / epoch ÷ jt'):
        assert rows['jt'][column] == '–'


def test_csv_columns(tmp_path):
    path = tmp_path / 'runs.csv'
    write_csv(str(path), RESULTS)
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == [
        'setting', 'method', 'seed', 'metric', 'best_epoch', 'val', 'test',
        'probe_val_a', 'probe_test_a', 'probe_val_b', 'probe_test_b',
        'shapley_a', 'shapley_b', 'params', 'flops', 'epoch_s', 'wall_s'
    ]
    assert [rows[0][k]
            for k in ('shapley_a', 'params', 'epoch_s')] == ['', '', '']
    assert [
        rows[3][k]
        for k in ('shapley_a', 'shapley_b', 'params', 'flops', 'epoch_s')
    ] == ['0.3', '0.1', '72750', '143360', '3.0']
    assert [rows[6][k]
            for k in ('shapley_a', 'params', 'epoch_s')] == ['', '72750', '']


def test_count_cells():
    assert fmt_count(None) == '–'
    assert fmt_count(950) == '950'
    assert fmt_count(72750) == '72.75 K'
    assert fmt_count(11.2e6) == '11.20 M'
    assert fmt_count(1.8e9) == '1.80 G'
