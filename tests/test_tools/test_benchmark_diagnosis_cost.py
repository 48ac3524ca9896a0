"""tools/analysis/benchmark_diagnosis_cost.py at a tiny size on the CPU, as
a GPU run takes it at CREMA-D's."""
import json
import os.path as osp
import re

import pytest
from conftest import REPO
from runs import run_tool, run_tool_main

TOOL = 'analysis/benchmark_diagnosis_cost.py'
CONFIG = osp.join(REPO, 'configs', 'dr_cremad.py')
TINY = ('--device', 'cpu', '--sizes', '18', '12', '--shapes',
        'visual=2,3,32,32', 'audio=1,33,24', '--batch-size', '8', '--threads',
        '1', '--repeats', '1')


@pytest.mark.slow
def test_diagnosis_cost_in_forward_passes(tmp_path):
    out = tmp_path / 'cost.json'
    result = run_tool(TOOL, CONFIG, *TINY, '--n-init', '1', '--out', out)
    assert result.returncode == 0, result.stderr[-3000:]
    cost = json.load(open(out))
    assert cost['sizes'] == dict(train=18, val=12)
    assert cost['num_clusters'] == 6  # CREMA-D's classes
    rows = cost['rows']
    assert [(r['backend'], r['features'])
            for r in rows] == [('sklearn', 'extracted'),
                               ('sklearn', 'gaussian'), ('faiss', 'extracted'),
                               ('faiss', 'gaussian')]
    for row in rows:
        assert row['diagnosis_s'] == pytest.approx(cost['extract_s'] +
                                                   row['kmeans_s'])
        assert row['forward_passes'] == pytest.approx(row['diagnosis_s'] /
                                                      cost['forward_s'])
        # Every modality's training and validation matrix, each purity at
        # least that of one cluster holding everything (1/6 here).
        assert list(row['purities']) == [
            'audio/train', 'audio/val', 'visual/train', 'visual/val'
        ]
        assert all(1 / 6 <= p <= 1 for p in row['purities'].values())
    table = [
        line for line in result.stdout.splitlines()
        if line.startswith(('| sklearn', '| faiss'))
    ]
    assert len(table) == len(rows)
    assert f'{rows[0]["forward_passes"]:.2f}' in table[0]


def test_shapes_must_name_every_modality(monkeypatch, capsys):
    with pytest.raises(
            SystemExit,
            match=re.escape("--shapes gives shapes of ['visual']; the model's "
                            "modalities are ['audio', 'visual']")):
        run_tool_main(
            TOOL, [CONFIG, '--device', 'cpu', '--shapes', 'visual=2,3,32,32'],
            monkeypatch, capsys)
    # Malformed shapes: tests/test_analysis/test_synthetic_batches.py.
