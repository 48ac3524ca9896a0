"""tools/analysis/probe.py on a checkpoint that tools/train.py wrote, as a
user runs them."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, data_root_cfg_options
from mmengine.config import Config

from mmdr.analysis import (extract_modality_features, fit_linear_probe,
                           load_model_checkpoint)
from mmdr.utils import register_all_modules

CONFIG = osp.join(REPO, 'configs', 'jt_mfeat.py')


def _tool(*args):
    return subprocess.run([sys.executable, *map(str, args)],
                          capture_output=True,
                          text=True,
                          cwd=REPO)


@pytest.fixture(scope='module')
def checkpoint(mfeat_root, tmp_path_factory):
    work = tmp_path_factory.mktemp('probe') / 'work'
    trained = _tool(
        osp.join(REPO, 'tools/train.py'),
        CONFIG, '--work-dir', work, '--cfg-options',
        *data_root_cfg_options(mfeat_root), 'train_cfg.max_epochs=2')
    assert trained.returncode == 0, trained.stderr[-3000:]
    return str(work / 'epoch_2.pth')


def test_probe_reports_val_and_test_per_modality(mfeat_root, checkpoint,
                                                 tmp_path):
    out = tmp_path / 'probe.json'
    result = _tool(
        osp.join(REPO, 'tools/analysis/probe.py'), CONFIG, checkpoint, '--out',
        out, '--cfg-options', *data_root_cfg_options(mfeat_root))
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

    # The same numbers from the features of the checkpoint, computed here.
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(
        dict(o.split('=', 1) for o in data_root_cfg_options(mfeat_root)))
    model = load_model_checkpoint(cfg, checkpoint)
    train_cfg = dict(
        cfg.train_dataloader.dataset,
        pipeline=cfg.val_dataloader.dataset.pipeline,
        test_mode=True)
    train_x, train_y = extract_modality_features(model, train_cfg)
    test_x, test_y = extract_modality_features(model,
                                               cfg.test_dataloader.dataset)
    assert len(test_y) == 24 and set(np.unique(test_y)) == set(range(10))
    for m in probes:
        expected = fit_linear_probe(train_x[m], train_y,
                                    {'test': (test_x[m], test_y)})
        assert probes[m]['test'] == expected['test']


def test_a_checkpoint_of_another_model_is_refused(mfeat_root, checkpoint,
                                                  tmp_path):
    out = tmp_path / 'probe.json'
    result = _tool(
        osp.join(REPO, 'tools/analysis/probe.py'),
        osp.join(REPO, 'configs', 'jt_mfeat_pix_zer.py'), checkpoint, '--out',
        out, '--cfg-options', *data_root_cfg_options(mfeat_root))
    assert result.returncode == 1
    assert (f"probe.py: {checkpoint} does not fit the model of the config "
            "(encoders ['fou', 'kar', 'mor'] in the checkpoint, ['pix', "
            "'zer'] in the model)") in result.stderr
    assert not out.exists()
