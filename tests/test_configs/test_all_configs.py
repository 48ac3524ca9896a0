"""Every config in configs/ builds its model and data set types, trains one
batch of its data set and validates one, and is what its name says of it
(a ``jt_`` config its ``dr_`` twin less D&R, a method config joint
training plus the method)."""
import glob
import math
import os.path as osp

import pytest
import torch
from config_groups import CONFIGS, config_data, is_method_config, model_options
from conftest import REPO, data_root_cfg_options
from dr_test_hooks import Interrupt, InterruptHook
from mmengine.config import Config
from runs import build_runner, parse_options

from mmdr.registry import DATASETS, MODELS
from mmdr.utils import register_all_modules

register_all_modules()

#: A method's config is jt_avdigits.py plus its fragment (checked below) and
#: builds (test_config_builds); its Runner trains and validates it in its
#: resume test (test_resume_every_config.py), not again here.
#: VGGSound's and BalancedAV's configs, Kinetics-Sounds's model and
#: pipeline on another list, step in the slow tier beside their data sets'
#: train-and-test runs (test_prepare_vggsound.py, ..._balanced_av.py).
STEPPED_CONFIGS = [
    pytest.param(
        c,
        id=osp.basename(c),
        marks=pytest.mark.slow if c.endswith(
            ('_vggsound.py', '_balanced_av.py')) else ()) for c in CONFIGS
    if not is_method_config(c)
]


@pytest.mark.parametrize('path', STEPPED_CONFIGS)
def test_config_steps_on_a_batch_of_its_data_set(path, request, tmp_path):
    """The Runner of the config, on the test data set of its kind: one
    training iteration (data set, pipeline, model, optimiser wrapper,
    balancer and hooks as training builds them), then one validation batch
    through the model and the config's evaluator; for a ``*_tsn-test``
    config, whose training and validation are its base's
    (test_test_protocol_configs_train_as_their_base), one batch of its own
    test protocol instead."""
    data_root, extra = config_data(path, request)
    runner = build_runner(path, tmp_path, [
        *data_root_cfg_options(data_root), *extra,
        'default_hooks.checkpoint.save_last=False',
        'test_dataloader.batch_size=1'
    ])
    if path.endswith('_tsn-test.py'):
        split = 'test'
    else:
        split = 'val'
        runner.register_hook(InterruptHook(1, 'mid_epoch'))
        with pytest.raises(Interrupt):
            runner.train()
        # The Interrupt came after the first iteration's hooks, which
        # logged its loss.
        loss = runner.message_hub.get_scalar('train/loss').current()
        assert math.isfinite(loss) and loss > 0

    batch = next(iter(getattr(runner, f'{split}_dataloader')))
    with torch.no_grad():
        outputs = getattr(runner.model, f'{split}_step')(batch)
    assert len(outputs) == len(batch['data_samples'])
    evaluator = getattr(runner, f'{split}_evaluator')
    evaluator.process(outputs, batch)
    metrics = evaluator.evaluate(len(outputs))
    selected = runner.cfg.default_hooks.checkpoint.save_best
    assert 0.0 <= metrics[selected] <= 1.0


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path, request):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(parse_options(model_options(path, request)))
    assert cfg.default_scope == 'mmdr'
    for encoder in cfg.model.encoders.values():
        # Pretrained weights come from the web here (no network in tests);
        # loading them is tested on local checkpoints of the same formats.
        checkpoint = (encoder.get('init_cfg') or {}).get('checkpoint', '')
        if '://' in checkpoint:
            encoder.pop('init_cfg')
    model = MODELS.build(cfg.model)
    # As the Runner does: every encoder and backbone initialises.
    model.init_weights()
    assert all(m.is_init for m in model.encoders.values())
    assert set(model.modalities) >= {*model.encoders}
    for split in ('train', 'val', 'test'):
        dataset_cfg = cfg[f'{split}_dataloader']['dataset']
        assert DATASETS.get(dataset_cfg['type']) is not None
    # Model selection happens on validation, never on the test split.
    assert cfg.default_hooks.checkpoint.save_best in ('acc/top1',
                                                      'sentiment/acc2')
    assert (_split_of(cfg.val_dataloader.dataset)
            != _split_of(cfg.test_dataloader.dataset))


def _split_of(dataset_cfg):
    """The list file (and split of a multi-split file) a data set reads."""
    if dataset_cfg.get('ann_file'):
        return dataset_cfg.ann_file, dataset_cfg.get('split')
    return DATASETS.get(dataset_cfg.type).split_file(dataset_cfg.split,
                                                     dataset_cfg.subset)


@pytest.mark.parametrize(
    'path', [p for p in CONFIGS if osp.basename(p).startswith('jt_')],
    ids=osp.basename)
def test_every_joint_training_config_has_a_dr_twin(path):
    twin = osp.join(osp.dirname(path), 'dr_' + osp.basename(path)[3:])
    assert osp.isfile(twin), f'{twin} is missing'
    joint, dr = Config.fromfile(path), Config.fromfile(twin)
    (hook, ) = [h for h in dr.custom_hooks if h.type == 'DRHook']
    assert not [h for h in joint.get('custom_hooks', []) if h.type == 'DRHook']
    # The twin differs by the hook only.
    joint_dict, dr_dict = joint.to_dict(), dr.to_dict()
    dr_dict.pop('custom_hooks')
    joint_dict.pop('custom_hooks', None)
    assert joint_dict == dr_dict


#: What a config that only changes the test protocol may change.
TESTING_KEYS = ('test_dataloader', 'test_cfg', 'test_evaluator',
                'tsn_test_pipeline')


@pytest.mark.parametrize(
    'path', [p for p in CONFIGS if p.endswith('_tsn-test.py')],
    ids=osp.basename)
def test_test_protocol_configs_train_as_their_base(path):
    base = Config.fromfile(path.replace('_tsn-test.py', '.py')).to_dict()
    tested = Config.fromfile(path).to_dict()
    assert tested['test_dataloader'] != base['test_dataloader']
    for key in TESTING_KEYS:
        base.pop(key, None)
        tested.pop(key, None)
    assert tested == base


METHOD_FRAGMENTS = sorted(
    glob.glob(osp.join(REPO, 'configs', '_base_', 'methods', '*.py')))


@pytest.mark.parametrize('fragment', METHOD_FRAGMENTS, ids=osp.basename)
def test_every_method_config_is_joint_training_plus_its_fragment(fragment):
    """configs/<method>_avdigits.py runs the method the benchmark adds to
    any joint-training config: jt_avdigits.py plus the fragment, exactly."""
    method = osp.splitext(osp.basename(fragment))[0].replace('_', '-')
    path = osp.join(REPO, 'configs', f'{method}_avdigits.py')
    assert osp.isfile(path), f'{path} is missing'
    expected = Config.fromfile(osp.join(REPO, 'configs', 'jt_avdigits.py'))
    expected.merge_from_dict(Config.fromfile(fragment).to_dict())
    assert Config.fromfile(path).to_dict() == expected.to_dict()
    assert Config.fromfile(path).model.balancer.type
