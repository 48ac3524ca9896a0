"""tools/analysis/shapley.py on checkpoints of the Multiple Features
model, as a user runs it."""
import csv
import json
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import REPO, data_root_cfg_options
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from runs import run_tool, run_tool_main

from mmdr.registry import DATASETS, MODELS
from mmdr.utils import register_all_modules

CONFIG = osp.join(REPO, 'configs', 'jt_mfeat.py')


def _config(mfeat_root):
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(
        dict(o.split('=', 1) for o in data_root_cfg_options(mfeat_root)))
    return cfg


def _accuracy(cfg, checkpoint, split):
    """The model's accuracy on a split with every modality, computed here
    through its own prediction."""
    model = MODELS.build(cfg.model)
    model.load_state_dict(torch.load(checkpoint)['state_dict'])
    model.eval()
    dataset = DATASETS.build(cfg.get(f'{split}_dataloader').dataset)
    samples = model.test_step(
        pseudo_collate([dataset[i] for i in range(len(dataset))]))
    return np.mean([
        s.pred_labels.item.item() == s.gt_labels.item.item() for s in samples
    ])


def _check_result(result, accuracy):
    """The values are Shapley values of the stored coalitions' accuracies
    (2 ** 3 of them), the samples' values average to them."""
    modalities = result['modalities']
    assert modalities == ['fou', 'kar', 'mor']
    acc = {
        frozenset(c['modalities']): c['accuracy']
        for c in result['coalitions']
    }
    assert len(acc) == 8
    assert acc[frozenset(modalities)] == pytest.approx(accuracy, abs=1e-12)
    # Efficiency: they add up to all minus none.
    assert sum(result['dataset'].values()) == pytest.approx(
        acc[frozenset(modalities)] - acc[frozenset()])
    # fou's value by the formula: weights 1/3, 1/6, 1/6, 1/3.
    fou = ((acc[frozenset(['fou'])] - acc[frozenset()]) / 3 +
           (acc[frozenset(['fou', 'kar'])] - acc[frozenset(['kar'])]) / 6 +
           (acc[frozenset(['fou', 'mor'])] - acc[frozenset(['mor'])]) / 6 +
           (acc[frozenset(modalities)] - acc[frozenset(['kar', 'mor'])]) / 3)
    assert result['dataset']['fou'] == pytest.approx(fou)
    for m in modalities:
        values = np.array(result['sample_values'][m])
        assert len(values) == len(result['labels'])
        assert values.mean() == pytest.approx(result['dataset'][m])
        assert result['samples'][m]['mean'] == pytest.approx(values.mean())
    shares = [result['samples'][m]['most_share'] for m in modalities]
    assert sum(shares) + result['tie_share'] == pytest.approx(1)


@pytest.fixture
def untrained_checkpoint(tmp_path):
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG).model)
    path = tmp_path / 'jt_mfeat.pth'
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def test_contributions_of_a_checkpoint(mfeat_root, untrained_checkpoint,
                                       tmp_path, monkeypatch, capsys):
    out = tmp_path / 'shapley.json'
    args = [
        CONFIG, untrained_checkpoint, '--cfg-options',
        *data_root_cfg_options(mfeat_root)
    ]
    _, output = run_tool_main('analysis/shapley.py', [*args, '--out', out],
                              monkeypatch, capsys)
    result = json.load(open(out))
    assert (result['split'], result['replace']) == ('test', 'features')
    _check_result(result,
                  _accuracy(_config(mfeat_root), untrained_checkpoint, 'test'))
    assert 'test split, missing modalities: zero features' in output
    rows = [line for line in output.splitlines() if line.startswith('| ')]
    assert rows[
        1] == f'| (none) | {100 * result["coalitions"][0]["accuracy"]:.2f} |'
    for m in result['modalities']:
        assert (f'| {m} | {100 * result["dataset"][m]:+.2f} | '
                f'{100 * result["samples"][m]["mean"]:+.2f} | '
                f'{100 * result["samples"][m]["most_share"]:.2f} |') in rows

    # --out .csv: a row per sample.
    sample_csv = tmp_path / 'samples.csv'
    run_tool_main('analysis/shapley.py', [*args, '--out', sample_csv],
                  monkeypatch, capsys)
    table = list(csv.DictReader(open(sample_csv)))
    assert [int(row['label']) for row in table] == result['labels']
    for m in result['modalities']:
        assert [float(row[m]) for row in table] == result['sample_values'][m]


def test_a_checkpoint_of_another_model_is_refused(mfeat_root,
                                                  untrained_checkpoint,
                                                  tmp_path, monkeypatch,
                                                  capsys):
    out = tmp_path / 'shapley.json'
    with pytest.raises(SystemExit) as exit_info:
        run_tool_main('analysis/shapley.py', [
            osp.join(REPO, 'configs',
                     'jt_mfeat_pix_zer.py'), untrained_checkpoint, '--out',
            out, '--cfg-options', *data_root_cfg_options(mfeat_root)
        ], monkeypatch, capsys)
    assert str(exit_info.value.code).startswith(
        f'shapley.py: {untrained_checkpoint} does not fit the model of the '
        "config (encoders ['fou', 'kar', 'mor'] in the checkpoint, ['pix', "
        "'zer'] in the model)")
    assert not out.exists()


def test_out_must_be_json_or_csv(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_tool_main('analysis/shapley.py',
                      [CONFIG, 'x.pth', '--out', 'shapley.txt'], monkeypatch,
                      capsys)
    assert exit_info.value.code == 2
    assert '--out shapley.txt: give a .json or .csv file' in (
        capsys.readouterr().err)


@pytest.mark.slow
def test_trained_checkpoint_with_zero_inputs_on_val(mfeat_root,
                                                    jt_mfeat_checkpoint,
                                                    tmp_path):
    out = tmp_path / 'shapley.json'
    result = run_tool('analysis/shapley.py', CONFIG, jt_mfeat_checkpoint,
                      '--split', 'val', '--replace', 'inputs', '--out', out,
                      '--cfg-options', *data_root_cfg_options(mfeat_root))
    assert result.returncode == 0, result.stderr[-3000:]
    contributions = json.load(open(out))
    assert (contributions['split'], contributions['replace']) == ('val',
                                                                  'inputs')
    _check_result(contributions,
                  _accuracy(_config(mfeat_root), jt_mfeat_checkpoint, 'val'))
