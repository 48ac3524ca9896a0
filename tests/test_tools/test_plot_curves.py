"""tools/analysis/plot_curves.py on a monitored D&R run that tools/train.py
wrote and resumed, as a user runs them."""
import glob
import json
import os.path as osp

import matplotlib.image as mpimg
import pytest
from conftest import REPO, data_root_cfg_options
from runs import build_runner, run_tool

pytestmark = pytest.mark.slow

CONFIG = osp.join(REPO, 'configs/dr_mfeat.py')
#: Re-learning after epoch 1 only, monitoring after every epoch.
HOOK = [
    'custom_hooks.0.interval=1', 'custom_hooks.0.begin=1',
    'custom_hooks.0.max_times=1', 'custom_hooks.0.monitor_interval=1',
    'custom_hooks.0.progress=False'
]


@pytest.fixture(scope='module')
def resumed_run(mfeat_root, tmp_path_factory):
    """2 epochs (in this process), then resumed to 3 by tools/train.py:
    two timestamp folders of logs."""
    work = tmp_path_factory.mktemp('curves') / 'dr'
    build_runner(
        CONFIG, work,
        [*data_root_cfg_options(mfeat_root), 'train_cfg.max_epochs=2', *HOOK
         ]).train()
    resumed = run_tool('train.py', CONFIG, '--work-dir', work, '--resume',
                       '--cfg-options', *data_root_cfg_options(mfeat_root),
                       'train_cfg.max_epochs=3', *HOOK)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return work, resumed.stdout


def _val_acc(path):
    return {
        entry['step']: entry['acc/top1']
        for entry in map(json.loads,
                         open(path).read().splitlines()) if 'acc/top1' in entry
    }


def test_history_of_a_resumed_monitored_run_and_its_table(resumed_run):
    work, stdout = resumed_run
    history = json.load(open(work / 'dr_history.json'))
    # Re-learned after epoch 1; monitored after 2 (again by the resumed
    # run, which starts from epoch_2.pth) and after the last epoch, 3.
    assert [(r['epoch'], r.get('relearned', True))
            for r in history] == [(1, True), (2, False), (3, False)]
    # tools/train.py prints every record, marking the re-learnings.
    table = stdout.split('D&R diagnoses of this run')[-1]
    rows = [line for line in table.splitlines() if line.startswith('| ')]
    assert rows[0].endswith('| strength | re-learned |')
    assert len(rows) == 2 + 3 * 3
    for row, (record, modality) in zip(rows[2:], [(r, m) for r in history
                                                  for m in r['modalities']]):
        epoch, name, *values, relearned = row.strip('| ').split(' | ')
        stats = record['modalities'][modality]
        assert (int(epoch), name) == (record['epoch'], modality)
        assert [float(v) for v in values] == pytest.approx([
            stats[k] for k in ('train_purity', 'val_purity', 'gap', 'strength')
        ],
                                                           abs=5e-5)
        assert relearned == ('yes' if record.get('relearned', True) else 'no')


def test_plot_shows_the_numbers_of_the_logs(resumed_run, tmp_path):
    work, _ = resumed_run
    out, data = tmp_path / 'curves.png', tmp_path / 'curves.json'
    result = run_tool('analysis/plot_curves.py', work, '--labels', 'D&R',
                      '--out', out, '--data-out', data)
    assert result.returncode == 0, result.stderr[-3000:]
    # Three modality columns: 13.5 x 10 inches at 120 dpi.
    assert f'Wrote {out} (1620 x 1200 pixels)' in result.stdout
    assert mpimg.imread(out).shape[:2] == (1200, 1620)
    (run, ) = json.load(open(data))
    assert run['label'] == 'D&R' and run['metric'] == 'acc/top1'

    history = json.load(open(work / 'dr_history.json'))
    assert run['relearn_epochs'] == [1]
    assert list(run['purities']) == ['fou', 'kar', 'mor']
    for m, series in run['purities'].items():
        assert series['epoch'] == [1, 2, 3]
        for key in ('train_purity', 'val_purity', 'gap'):
            assert series[key] == [r['modalities'][m][key] for r in history]

    # Validation accuracy: epochs 1-2 from the first run's log, 3 from the
    # resumed run's, exactly as mmengine wrote them.
    logs = sorted(glob.glob(str(work / '*' / 'vis_data' / 'scalars.json')))
    assert len(logs) == 2
    first, second = map(_val_acc, logs)
    assert sorted(first) == [1, 2] and sorted(second) == [3]
    assert run['val_metric'] == dict(
        epoch=[1, 2, 3], value=[first[1], first[2], second[3]])
    assert 're-learning after epochs [1], 3 validations' in result.stdout
