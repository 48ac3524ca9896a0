"""Every CREMA-D and Kinetics-Sounds config through tools/dist_train.sh (2
CPU processes, --test-best) and tools/test.py, on data sets that the real
preparation tools made from release-format files (FLV / MP4, WAV). Sizes
shrink with --cfg-options only (av_options.py). A ``jt_`` config runs
through its ``dr_`` twin (config_groups.py)."""
import glob
import json
import os.path as osp

import pytest
from av_options import av_shrink_options
from config_groups import is_joint_training_twin
from conftest import REPO, data_root_cfg_options
from runs import dist_train_and_test

pytestmark = pytest.mark.slow

AV_CONFIGS = sorted(
    osp.basename(p) for pattern in ('*_cremad*.py', '*_kinetics_sounds*.py')
    for p in glob.glob(osp.join(REPO, 'configs', pattern)))


def _root(config, cremad_root, kinetics_sounds_root):
    return cremad_root if 'cremad' in config else kinetics_sounds_root


@pytest.mark.parametrize(
    'config', [c for c in AV_CONFIGS if not is_joint_training_twin(c)])
def test_config_trains_distributed_and_tests(config, cremad_root,
                                             kinetics_sounds_root, tmp_path):
    root = _root(config, cremad_root, kinetics_sounds_root)
    options = [*data_root_cfg_options(root), *av_shrink_options(config)]
    _, metrics, test_metrics = dist_train_and_test(config, options, tmp_path)
    # Accuracy and both F1 scores, as the reference prints them.
    assert set(metrics) >= {'acc/top1', 'f1/macro', 'f1/weighted'}
    assert all(0.0 <= metrics[k] <= 1.0 for k in ('acc/top1', 'f1/macro'))
    # tools/test.py on the selected checkpoint gives the same numbers.
    assert test_metrics == metrics
    if config.startswith('dr_'):
        (record, ) = json.load(open(tmp_path / 'work' / 'dr_history.json'))
        assert record['epoch'] == 1 and record['world_size'] == 2
        assert set(record['modalities']) == {'audio', 'visual'}
        # Every training clip is diagnosed, as in the reference.
        train_list = DATASET_LISTS[config.split('_', 1)[1]]
        with open(osp.join(root, train_list)) as f:
            num_train = sum(1 for line in f
                            if line.strip() and line[:5] != 'name,')
        assert record['num_train_samples'] == num_train


#: The training list of each data set's default ('reference') split.
DATASET_LISTS = {
    'cremad.py': 'my_train.csv',
    'kinetics_sounds.py': 'mmdr_carve_train.txt'
}
