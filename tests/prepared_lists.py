"""Read what the clip preparation tools write (lists, ``skipped.txt``), and
train and test a config on a prepared tree as a user types it."""
import json
import os.path as osp
from typing import Dict, List

from av_options import av_shrink_options
from runs import read_tested_metrics, run_tool


def list_rows(path) -> List[List[str]]:
    """The columns of every row of a list ``<name>,<n>,<label>``."""
    with open(path) as f:
        return [line.split(',') for line in f.read().splitlines()]


def skipped_entries(out) -> Dict[str, str]:
    """``skipped.txt`` under ``out``: clip to reason."""
    with open(osp.join(out, 'skipped.txt')) as f:
        lines = [line.rstrip('\n') for line in f if not line.startswith('#')]
    return dict(line.split('  # ', 1) for line in lines)


def train_and_test(config: str, data_root: str, tmp_path) -> dict:
    """tools/train.py ``--data-root`` ``--test-best`` (shrunk for a CPU),
    then tools/test.py on the selected checkpoint; both must pass and
    give the same metrics. A D&R config diagnoses every training clip.

    Args:
        config (str): The config's file name under ``configs/``.
        data_root (str): The prepared tree.
        tmp_path: Test folder; the work dir is ``tmp_path / 'work'``.

    Returns:
        dict: The test metrics.
    """
    options = av_shrink_options(config)
    train = run_tool('train.py', f'configs/{config}', '--data-root', data_root,
                     '--work-dir', tmp_path / 'work', '--test-best',
                     '--cfg-options', *options)
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    best, metrics = read_tested_metrics(train.stdout)
    tested = run_tool('test.py', f'configs/{config}', best, '--data-root',
                      data_root, '--work-dir', tmp_path / 'test',
                      '--cfg-options', *options)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert read_tested_metrics(tested.stdout)[1] == metrics
    assert 0.0 <= metrics['acc/top1'] <= 1.0
    if config.startswith('dr_'):
        (record, ) = json.load(open(tmp_path / 'work' / 'dr_history.json'))
        with open(osp.join(data_root, 'mmdr_carve_train.txt')) as f:
            assert record['num_train_samples'] == len(f.readlines())
    return metrics
