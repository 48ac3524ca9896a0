"""tools/analysis/probe.py on a checkpoint of a real run, as a user runs
it."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import REPO, data_root_cfg_options
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from runs import run_tool, run_tool_main
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mmdr.registry import DATASETS, MODELS
from mmdr.utils import register_all_modules

CONFIG = osp.join(REPO, 'configs', 'jt_mfeat.py')


@pytest.fixture
def checkpoint(jt_mfeat_checkpoint):
    return jt_mfeat_checkpoint


@pytest.mark.slow
def test_probe_reports_val_and_test_per_modality(mfeat_root, checkpoint,
                                                 tmp_path):
    out = tmp_path / 'probe.json'
    result = run_tool('analysis/probe.py', CONFIG, checkpoint, '--out', out,
                      '--cfg-options', *data_root_cfg_options(mfeat_root))
    assert result.returncode == 0, result.stderr[-3000:]
    probes = json.load(open(out))['probes']
    assert list(probes) == ['fou', 'kar', 'mor']
    rows = [
        line for line in result.stdout.splitlines()
        if line.startswith('| ') and not line.startswith('| modality')
    ]
    assert len(rows) == 3
    for row in rows:
        m, val, test = row.strip('| ').split(' | ')
        assert float(val) == pytest.approx(100 * probes[m]['val'], abs=5e-3)
        assert float(test) == pytest.approx(100 * probes[m]['test'], abs=5e-3)

    # The same numbers computed here, apart from mmdr.analysis: the
    # checkpoint's weights, every sample of the training split (validation
    # pipeline) and of the test split through the encoders, scikit-learn.
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(
        dict(o.split('=', 1) for o in data_root_cfg_options(mfeat_root)))
    model = MODELS.build(cfg.model)
    model.load_state_dict(torch.load(checkpoint)['state_dict'])

    def features(dataset_cfg):
        dataset = DATASETS.build(dataset_cfg)
        batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
        feats = model.extract_modality_features(batch)
        labels = [int(s.gt_labels.item) for s in batch['data_samples']]
        return {m: f.numpy() for m, f in feats.items()}, np.array(labels)

    train_x, train_y = features(
        dict(
            cfg.train_dataloader.dataset,
            pipeline=cfg.val_dataloader.dataset.pipeline,
            test_mode=True))
    test_x, test_y = features(cfg.test_dataloader.dataset)
    assert len(test_y) == 24 and set(np.unique(test_y)) == set(range(10))
    for m in probes:
        probe = make_pipeline(StandardScaler(),
                              LogisticRegression(max_iter=2000))
        probe.fit(train_x[m], train_y)
        assert probes[m]['test'] == pytest.approx(
            probe.score(test_x[m], test_y), abs=1e-12)


def test_a_checkpoint_of_another_model_is_refused(mfeat_root, tmp_path,
                                                  monkeypatch, capsys):
    # An untrained jt_mfeat model's checkpoint: what matters is its keys.
    register_all_modules()
    checkpoint = tmp_path / 'jt_mfeat.pth'
    model = MODELS.build(Config.fromfile(CONFIG).model)
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    out = tmp_path / 'probe.json'
    with pytest.raises(SystemExit) as exit_info:
        run_tool_main('analysis/probe.py', [
            osp.join(REPO, 'configs', 'jt_mfeat_pix_zer.py'), checkpoint,
            '--out', out, '--cfg-options', *data_root_cfg_options(mfeat_root)
        ], monkeypatch, capsys)
    assert str(exit_info.value.code).startswith(
        f"probe.py: {checkpoint} does not fit the model of the config "
        "(encoders ['fou', 'kar', 'mor'] in the checkpoint, ['pix', "
        "'zer'] in the model)")
    assert not out.exists()
