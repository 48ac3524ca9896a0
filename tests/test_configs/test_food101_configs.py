"""The Food-101 configs through tools/dist_train.sh (2 CPU processes,
--test-best) and tools/test.py on a release written in the public layout
and prepared by the tool (slow tier). A ``jt_`` config runs through its
``dr_`` twin (config_groups.py); a ``*_bert.py`` config runs where
transformers is installed, with a tiny local BERT."""
import glob
import json
import os.path as osp

import pytest
from config_groups import is_joint_training_twin, model_options
from conftest import REPO, data_root_cfg_options
from food101_fixtures import food101_options
from runs import dist_train_and_test

FOOD101_CONFIGS = sorted(
    osp.basename(p)
    for p in glob.glob(osp.join(REPO, 'configs', '*_food101*.py'))
    if not is_joint_training_twin(p))


@pytest.mark.slow
@pytest.mark.parametrize('config', FOOD101_CONFIGS)
def test_config_trains_distributed_and_tests(config, food101_root, tmp_path,
                                             request):
    options = [
        *data_root_cfg_options(food101_root), *food101_options(config),
        *model_options(osp.join(REPO, 'configs', config), request)
    ]
    log, metrics, test_metrics = dist_train_and_test(config, options, tmp_path)
    assert test_metrics == metrics
    assert set(metrics) >= {'acc/top1', 'f1/macro', 'f1/weighted'}
    # The release's test part: 2 pages of each of the 3 classes.
    assert 'Epoch(test) [2/2]' in log or 'Epoch(test) [1/1]' in log
    records = json.load(open(tmp_path / 'work' / 'dr_history.json'))
    assert [r['epoch'] for r in records] == [1]
    (record, ) = records
    assert record['world_size'] == 2
    assert set(record['modalities']) == {'visual', 'text'}
    assert record['num_train_samples'] == 18
