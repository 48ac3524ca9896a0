"""tools/analysis/benchmark_training_speed.py at a tiny size on the CPU, as a
GPU run takes it at CREMA-D's."""
import json
import math
import os.path as osp

import pytest
from conftest import REPO
from runs import run_tool, run_tool_main

TOOL = 'analysis/benchmark_training_speed.py'
TINY = ('--device', 'cpu', '--shapes', 'visual=2,3,32,32', 'audio=1,33,24',
        '--batch-size', '6', '--iters', '2', '--warmup', '1', '--threads', '1')


@pytest.mark.slow
def test_speed_and_projection(tmp_path):
    out = tmp_path / 'speed.json'
    result = run_tool(TOOL, osp.join(REPO, 'configs', 'dr_cremad.py'), *TINY,
                      '--train-size', '600', '--out', out)
    assert result.returncode == 0, result.stderr[-3000:]
    speed = json.load(open(out))
    # Every shipped schedule's wrapper, and the reference's 90 epochs.
    assert speed['optim_wrapper'] == 'BalancedOptimWrapper'
    assert speed['max_epochs'] == 90
    assert speed['samples_per_s'] == pytest.approx(6 / speed['step_s'])
    assert speed['epoch_s'] == pytest.approx(600 / speed['samples_per_s'])
    assert math.isfinite(speed['final_loss'])
    assert speed['peak_memory_gib'] is None  # CUDA only
    assert f'| samples/s | {speed["samples_per_s"]:.1f} |' in result.stdout
    assert (f'| 90 epochs (h) | {speed["epoch_s"] * 90 / 3600:.2f} |'
            in result.stdout)


def test_refuses_what_it_cannot_time(monkeypatch, capsys):
    with pytest.raises(SystemExit, match='PMR also acts before every epoch'):
        run_tool_main(
            TOOL,
            [osp.join(REPO, 'configs', 'pmr_avdigits.py'), '--device', 'cpu'],
            monkeypatch, capsys)
    with pytest.raises(
            SystemExit,
            match='--amp trains in mixed precision on a GPU; the device is '
            'cpu'):
        run_tool_main(
            TOOL, [osp.join(REPO, 'configs', 'dr_cremad.py'), *TINY, '--amp'],
            monkeypatch, capsys)
