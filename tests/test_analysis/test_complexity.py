"""Parameters and FLOPs of models against hand counts."""
import os.path as osp

from balancer_models import batch, build
from conftest import REPO, data_root_cfg_options
from mmengine.config import Config

from mmdr.analysis.complexity import (model_complexity, parameter_count,
                                      prediction_flops)
from mmdr.utils import register_all_modules


def test_tiny_model_by_hand():
    register_all_modules()
    model = build()
    # audio: BatchNorm(6) 12, Linear(6, 8) 56, Linear(8, 7) 63; visual:
    # BatchNorm(5) 10, Linear(5, 9) 54; head Linear(7 + 9, 4) 68.
    assert parameter_count(model) == 12 + 56 + 63 + 10 + 54 + 68
    # 2 FLOPs per multiply-add of the linear layers; BatchNorm, ReLU and
    # the bias additions are not counted.
    per_sample = 2 * (6 * 8 + 8 * 7 + 5 * 9 + 16 * 4)
    model.train()
    assert prediction_flops(model, batch(1)) == per_sample
    assert prediction_flops(model, batch(3)) == 3 * per_sample
    assert model.training  # restored


def test_config_model_by_hand(mfeat_root):
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'jt_mfeat.py'))
    cfg.merge_from_dict(
        dict(o.split('=', 1) for o in data_root_cfg_options(mfeat_root)))
    # Three MLP encoders (input BatchNorm, two layers of 128) of 76, 64
    # and 6 features, a linear head on the 384 concatenated ones.
    widths = (76, 64, 6)
    macs = sum(w * 128 + 128 * 128 for w in widths) + 384 * 10
    biases = 3 * 2 * 128 + 10
    batch_norm = 2 * sum(widths)
    assert model_complexity(cfg) == dict(
        params=macs + biases + batch_norm, flops=2 * macs)
