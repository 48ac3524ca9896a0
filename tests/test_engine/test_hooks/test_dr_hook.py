"""The D&R hook in real mmengine runs on small Multiple Features data.

Epochs are counted from 1 (mmengine's log and ``epoch_N.pth``): the
diagnosis "after epoch E" runs when epoch E + 1 starts.
"""
import json
import math
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, data_root_cfg_options
from dr_test_hooks import (Interrupt, InterruptHook, PoisonEncoderHook,
                           StopAfterStartUp, StopAfterStartUpHook,
                           WeightProbeHook, unwrap)
from log_capture import captured_log
from mmengine.dataset import pseudo_collate
from runs import build_runner, without_timings

from mmdr.diagnosis import clustering_purity
from mmdr.engine.hooks import DRHook
from mmdr.registry import DATASETS, MODELS
from mmdr.utils import register_all_modules

register_all_modules()
CONFIG = osp.join(REPO, 'configs/dr_mfeat.py')
BUFFERS = ('running_mean', 'running_var', 'num_batches_tracked')


def options(data_root, epochs, **hook):
    opts = [
        *data_root_cfg_options(data_root), f'train_cfg.max_epochs={epochs}',
        'default_hooks.logger.interval=1'
    ]
    opts += [f'custom_hooks.0.{k}={v}' for k, v in hook.items()]
    return opts


def runner_for(data_root, work_dir, epochs, extra=(), **hook):
    return build_runner(CONFIG, work_dir,
                        [*options(data_root, epochs, **hook), *extra])


def dr_hook(runner):
    (hook, ) = [h for h in runner.hooks if isinstance(h, DRHook)]
    return hook


@pytest.mark.parametrize('kwargs, message', [
    (dict(interval=0), 'interval=0 must be an int >= 1'),
    (dict(begin=0), 'begin=0 must be an int >= 1'),
    (dict(max_times=-1), 'max_times=-1 must be an int >= 0'),
    (dict(lam=-1), 'lam=-1 must be a number >= 0'),
    (dict(max_train_samples='train'),
     "max_train_samples='train' must be None, 'val' or an int >= 1"),
    (dict(max_train_samples=0), 'max_train_samples=0 must be None'),
    (dict(num_clusters=0), 'num_clusters=0 must be None or an int >= 1'),
    (dict(kmeans_n_init=0), 'kmeans_n_init=0 must be an int >= 1'),
    (dict(kmeans_backend='cuml'),
     r"kmeans_backend='cuml' must be one of \['sklearn', 'faiss'\]"),
    (dict(kmeans_side_by_side='yes'),
     "kmeans_side_by_side='yes' must be a bool"),
    (dict(seed=-1), 'seed=-1 must be an int >= 0'),
    (dict(init_state_device='cuda:0'),
     "init_state_device='cuda:0' must be 'cpu' or 'model'"),
    (dict(batch_size=0), 'batch_size=0 must be None or an int >= 1'),
    (dict(num_workers=-1), 'num_workers=-1 must be None or an int >= 0'),
    (dict(monitor_interval=0), 'monitor_interval=0 must be None or an int'),
])
def test_each_bad_argument_is_named_with_its_value(kwargs, message):
    with pytest.raises(ValueError, match=f'^DRHook: {message}'):
        DRHook(**kwargs)


def test_missing_kmeans_library_fails_at_construction(monkeypatch):
    monkeypatch.setitem(sys.modules, 'faiss', None)
    with pytest.raises(ImportError, match='pip install "faiss-cpu'):
        DRHook(kmeans_backend='faiss')


def test_relearning_follows_validation_in_the_reference_order(
        mfeat_root, tmp_path):
    runner = runner_for(mfeat_root, tmp_path, 4, interval=1, max_times=2)
    before, after = WeightProbeHook('before'), WeightProbeHook('after')
    runner.register_hook(before)
    runner.register_hook(after)
    runner.train()
    hook = dr_hook(runner)

    assert [r['epoch'] for r in hook.history] == [2, 3]
    assert all(
        any(s['strength'] > 0 for s in r['modalities'].values())
        for r in hook.history)
    for record in hook.history:
        # max_train_samples='val': as many training samples (of 84) as
        # validation samples (12).
        assert record['num_train_samples'] == 12
        assert record['num_val_samples'] == 12
        for m, stats in record['modalities'].items():
            assert stats['gap'] == pytest.approx(
                abs(stats['train_purity'] - stats['val_purity']))
            assert stats['strength'] == pytest.approx(
                math.tanh(3.0 * stats['gap']))

    init = hook.init_state
    for record in hook.history:
        epoch = record['epoch']
        old, new = before.states[epoch], after.states[epoch]
        # Epoch E was validated and checkpointed as it was trained; the
        # re-learned encoders are what epoch E + 1 starts from.
        saved = torch.load(tmp_path / f'epoch_{epoch}.pth')['state_dict']
        for key in old:
            assert torch.equal(before.validated[epoch][key], old[key]), key
            assert torch.equal(saved[key], old[key]), key
        for key in old:
            if not key.startswith('encoders.'):
                # Fusion and head are untouched.
                assert torch.equal(old[key], new[key]), key
                continue
            modality, name = key.split('.', 2)[1:]
            a = record['modalities'][modality]['strength']
            if name.endswith(BUFFERS):
                assert torch.equal(old[key], new[key]), key  # buffers kept
            else:
                expected = (1 - a) * old[key] + a * init[modality][name]
                torch.testing.assert_close(new[key], expected)

    # The history file, TensorBoard and the log number epochs as mmengine.
    saved = json.load(open(tmp_path / 'dr_history.json'))
    assert saved == json.loads(json.dumps(hook.history))
    (vis_dir, ) = [
        tmp_path / d / 'vis_data' for d in os.listdir(tmp_path)
        if (tmp_path / d / 'vis_data').is_dir()
    ]
    scalars = [json.loads(line) for line in open(vis_dir / 'scalars.json')]
    strengths = [s for s in scalars if 'dr/fou/strength' in s]
    assert [s['step'] for s in strengths] == [2, 3]
    (log, ) = [
        tmp_path / d / f'{d}.log' for d in os.listdir(tmp_path)
        if (tmp_path / d).is_dir()
    ]
    text = log.read_text()
    assert 'D&R diagnosis 1/2 after epoch 2 ' in text
    assert 'diagnoses after epochs [2, 3] of 4' in text
    # The last checkpoint holds theta_init and the history.
    ckpt = torch.load(tmp_path / 'epoch_4.pth')
    assert ckpt['dr_hook']['history'] == hook.history
    assert ckpt['dr_hook']['version'] == 2
    for m in init:
        for key, value in init[m].items():
            assert torch.equal(ckpt['dr_hook']['init_state'][m][key], value)


def test_options_blend_buffers_and_reset_optimizer_state(mfeat_root, tmp_path):
    runner = runner_for(
        mfeat_root,
        tmp_path,
        3,
        interval=1,
        max_times=1,
        blend_buffers=True,
        reset_optimizer_state=True,
        max_train_samples=None,
        init_state_device='model',
        modalities=['kar'])
    before, after = WeightProbeHook('before'), WeightProbeHook('after')
    runner.register_hook(before)
    runner.register_hook(after)
    removed = {}

    class OptimizerStateProbe(WeightProbeHook):
        priority = 'LOW'

        def before_train_epoch(self, runner):
            state = runner.optim_wrapper.optimizer.state
            model = unwrap(runner.model)
            removed[runner.epoch] = [
                all(p not in state for p in model.encoders[m].parameters())
                for m in ('kar', 'fou')
            ]

    runner.register_hook(OptimizerStateProbe('after'))
    runner.train()
    hook = dr_hook(runner)
    (record, ) = hook.history
    assert record['epoch'] == 2
    assert record['num_train_samples'] == 84
    assert list(record['modalities']) == ['kar']
    a = record['modalities']['kar']['strength']
    assert a > 0
    old, new = before.states[2], after.states[2]
    key = 'encoders.kar.layers.0.running_mean'
    torch.testing.assert_close(
        new[key], (1 - a) * old[key] +
        a * hook.init_state['kar']['layers.0.running_mean'])
    for key in old:
        if key.startswith('encoders.fou.'):
            assert torch.equal(old[key], new[key]), key
    # Adam's state of the re-learned encoder was dropped by the re-learning,
    # the other encoders' kept.
    assert removed[2] == [True, False]


def test_bad_set_ups_fail_before_training(mfeat_root, tmp_path):
    runner = runner_for(mfeat_root, tmp_path / 'a', 2, modalities=['audio'])
    with pytest.raises(
            KeyError, match=r"modalities \['audio'\] are not encoders"):
        runner.train()
    assert not list((tmp_path / 'a').glob('*.pth'))

    small_val = tmp_path / 'small_val.txt'
    small_val.write_text(''.join(
        open(osp.join(mfeat_root, 'val.txt')).readlines()[:5]))
    runner = runner_for(
        mfeat_root,
        tmp_path / 'b',
        2,
        extra=[f'val_dataloader.dataset.ann_file={small_val}'])
    with pytest.raises(ValueError) as err:
        runner.train()
    assert str(err.value).startswith(
        'DRHook: the validation split has 5 samples, fewer than the 10 '
        'classes of val_dataloader.dataset (MultipleFeaturesDataset, '
        f"{small_val}) (in its metainfo['classes']) (k-means clusters); "
        'diagnosis needs at least one sample per cluster. Diagnose on a '
        'larger validation split (at least 50 samples): ')

    runner = runner_for(mfeat_root, tmp_path / 'c', 2)
    runner.model.extract_modality_features = None
    with pytest.raises(TypeError, match='extract_modality_features'):
        runner.train()

    # Re-learning happens between epochs: an iteration-based loop is
    # refused before the first step.
    runner = build_runner(
        CONFIG,
        tmp_path / 'd',
        options(mfeat_root, 2),
        train_cfg=dict(_delete_=True, type='IterBasedTrainLoop', max_iters=4))
    with pytest.raises(TypeError, match='between epochs.*IterBasedTrainLoop'):
        runner.train()
    assert not list((tmp_path / 'd').glob('*.pth'))


def test_non_finite_features_change_no_weight(mfeat_root, tmp_path):
    runner = runner_for(mfeat_root, tmp_path, 3, interval=1, max_times=2)
    poison = PoisonEncoderHook('fou', epoch=2)
    runner.register_hook(poison)
    with pytest.raises(
            RuntimeError,
            match='non-finite values .* modality '
            "'fou'; no weight was changed") as err:
        runner.train()
    # The error of the main process is chained, not flattened to text.
    assert isinstance(err.value.__cause__, FloatingPointError)
    now = unwrap(runner.model).state_dict()
    for key, value in poison.before.items():
        assert torch.equal(value,
                           now[key]) or (torch.isnan(value).all()
                                         and torch.isnan(now[key]).all()), key


def _features(model, dataset):
    """Pooled features of a data set, computed without the hook."""
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=7, shuffle=False, collate_fn=pseudo_collate)
    feats, labels = {}, []
    for batch in loader:
        for m, f in model.extract_modality_features(batch).items():
            feats.setdefault(m, []).append(f.numpy())
        labels += [int(s.gt_labels.item) for s in batch['data_samples']]
    return {m: np.concatenate(f) for m, f in feats.items()}, np.array(labels)


@pytest.mark.parametrize('backend', ['sklearn', 'faiss'])
def test_purities_equal_an_independent_computation(mfeat_root, tmp_path,
                                                   backend, request):
    if backend == 'faiss':
        pytest.importorskip('faiss')
        # faiss follows torch's threads; with one, its OpenMP pool does not
        # fight torch's on a busy 2-core runner (20 s instead of 2 s).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        request.addfinalizer(lambda: torch.set_num_threads(threads))
    runner = runner_for(
        mfeat_root,
        tmp_path,
        3,
        interval=1,
        max_times=1,
        max_train_samples=None,
        kmeans_backend=repr(backend))
    runner.train()
    (record, ) = dr_hook(runner).history
    assert record['epoch'] == 2
    # The diagnosis after epoch 2 saw the weights of epoch_2.pth; recompute
    # it from the checkpoint, the data files and clustering_purity alone.
    cfg = runner.cfg
    model = MODELS.build(cfg.model)
    model.load_state_dict(torch.load(tmp_path / 'epoch_2.pth')['state_dict'])
    val_cfg = cfg.val_dataloader.dataset
    train_cfg = dict(
        cfg.train_dataloader.dataset,
        pipeline=val_cfg.pipeline,
        test_mode=True)
    sides = {
        'train': _features(model, DATASETS.build(train_cfg)),
        'val': _features(model, DATASETS.build(val_cfg))
    }
    assert len(sides['train'][1]) == record['num_train_samples'] == 84
    for m, stats in record['modalities'].items():
        for side, (feats, labels) in sides.items():
            assert stats[f'{side}_purity'] == clustering_purity(
                feats[m],
                labels,
                num_clusters=10,
                seed=0,
                n_init=10,
                backend=backend), (m, side)


def test_val_interval_does_not_move_relearning(mfeat_root, tmp_path):
    runner = runner_for(
        mfeat_root,
        tmp_path,
        4,
        extra=['train_cfg.val_interval=3'],
        interval=1,
        begin=1,
        max_times=3)
    probe = WeightProbeHook('before')
    runner.register_hook(probe)
    runner.train()
    # Validated after epochs 3 and 4 (the last) only; diagnosed after
    # 1, 2 and 3 all the same.
    assert sorted(probe.validated) == [3, 4]
    assert [r['epoch'] for r in dr_hook(runner).history] == [1, 2, 3]


@pytest.mark.parametrize('where', ['after_val', 'mid_epoch'])
def test_interrupted_run_applies_every_relearning_once(mfeat_root, tmp_path,
                                                       where):
    # Dropout (0.1) and BatchNorm on, as dr_mfeat.py ships.
    straight = runner_for(
        mfeat_root, tmp_path / 'straight', 4, interval=1, max_times=2)
    straight.train()
    reference = dr_hook(straight).history
    assert [r['epoch'] for r in reference] == [2, 3]

    work = tmp_path / 'interrupted'
    first = runner_for(mfeat_root, work, 4, interval=1, max_times=2)
    # 'after_val': epoch 2 was trained, saved and validated, its D&R step
    # has not run; 'mid_epoch': it ran when epoch 3 started, which is lost.
    stop_epoch = 2 if where == 'after_val' else 3
    first.register_hook(InterruptHook(stop_epoch, where))
    with pytest.raises(Interrupt):
        first.train()
    init = dr_hook(first).init_state
    assert [r['epoch'] for r in dr_hook(first).history
            ] == ([] if where == 'after_val' else [2])
    assert not (work / 'epoch_3.pth').exists()

    resumed = runner_for(
        mfeat_root, work, 4, extra=['resume=True'], interval=1, max_times=2)
    resumed.train()
    hook = dr_hook(resumed)
    # theta_init came from the checkpoint, not from the resumed weights.
    for m in init:
        for k in init[m]:
            assert torch.equal(hook.init_state[m][k], init[m][k])
    assert without_timings(hook.history) == without_timings(reference)
    final = torch.load(work / 'epoch_4.pth')['state_dict']
    want = torch.load(tmp_path / 'straight' / 'epoch_4.pth')['state_dict']
    assert final.keys() == want.keys()
    for key in want:
        assert torch.equal(final[key], want[key]), key


def test_load_from_starts_a_fresh_history(mfeat_root, tmp_path):
    first = runner_for(mfeat_root, tmp_path / 'a', 3, interval=1, max_times=1)
    first.train()
    weights = torch.load(tmp_path / 'a' / 'epoch_3.pth')['state_dict']
    second = runner_for(
        mfeat_root,
        tmp_path / 'b',
        3,
        extra=[f'load_from={tmp_path / "a" / "epoch_3.pth"}'],
        interval=1,
        max_times=1)
    second.train()
    hook = dr_hook(second)
    assert [r['epoch'] for r in hook.history] == [2]
    for m, state in hook.init_state.items():
        for key, value in state.items():
            assert torch.equal(value, weights[f'encoders.{m}.{key}']), key


def start_up_log(runner):
    """Start a run up to its first epoch; its log."""
    runner.register_hook(StopAfterStartUpHook())
    with captured_log() as records:
        with pytest.raises(StopAfterStartUp):
            runner.train()
    return [(r.levelname, r.getMessage()) for r in records]


def test_k_and_tiny_split_warnings_come_from_the_data(mfeat_root, tmp_path):
    # A head without classes (regression): k from the validation data set.
    runner = build_runner(
        CONFIG,
        tmp_path / 'a',
        options(mfeat_root, 2),
        model=dict(cls_head=dict(_delete_=True, type='LinearRegHead')))
    log = start_up_log(runner)
    assert dr_hook(runner).num_clusters == 10
    val_source = ('10 classes of val_dataloader.dataset (MultipleFeaturesData'
                  f"set, {mfeat_root}/val.txt) (in its metainfo['classes'])")
    (start, ) = [m for _, m in log if m.startswith('DRHook: diagnoses')]
    assert f'k=10 ({val_source})' in start
    # 12 validation samples and, with max_train_samples='val', 12 training
    # samples for 10 clusters: both sides warn, with the strength bound.
    warnings = [
        m for level, m in log if level == 'WARNING' and m.startswith('DRHook')
    ]
    assert warnings == [
        'DRHook: the validation side has 12 samples for k = 10 clusters (1.2 '
        'per cluster, fewer than 5). k-means on so few samples finds nearly '
        'pure clusters whatever the features: the validation purity will be '
        'near 1, the gap up to 1 - P_train and the re-learning strength up '
        'to tanh(lam * gap) = tanh(3 * (1 - 1/10)) = 0.99, from the split\'s '
        'size alone. Diagnose on a larger validation split (at least 50 '
        'samples): val_dataloader.dataset with an annotation file that lists '
        "more samples (e.g. the preparation tool's option for the size of "
        'the validation carve). DRHook(max_train_samples=...) caps the '
        'training side only and does not help.',
        'DRHook: the training side has 12 samples for k = 10 clusters (1.2 '
        'per cluster, fewer than 5). k-means on so few samples finds nearly '
        'pure clusters whatever the features: the training purity will be '
        'near 1, the gap up to 1 - P_val and the re-learning strength up to '
        'tanh(lam * gap) = tanh(3 * (1 - 1/10)) = 0.99, from the split\'s '
        "size alone. max_train_samples='val' diagnoses as many training "
        'samples as validation samples: a larger validation split raises '
        'both, or set max_train_samples to at least 50 (None: every training '
        'sample).'
    ]

    # An explicit num_clusters wins; 6 samples per cluster are enough on the
    # validation side, a cap of 8 training samples is not.
    runner = runner_for(
        mfeat_root,
        tmp_path / 'b',
        2,
        num_clusters=2,
        max_train_samples=8,
        lam=2.0)
    log = start_up_log(runner)
    assert dr_hook(runner).num_clusters == 2
    (start, ) = [m for _, m in log if m.startswith('DRHook: diagnoses')]
    assert 'k=2 (k = 2 clusters of DRHook(num_clusters=2))' in start
    (warning, ) = [
        m for level, m in log if level == 'WARNING' and m.startswith('DRHook')
    ]
    assert warning.startswith('DRHook: the training side has 8 samples for '
                              'k = 2 clusters (4.0 per cluster')
    assert 'tanh(2 * (1 - 1/2)) = 0.76' in warning
    assert warning.endswith('Raise max_train_samples=8 to at least 10 (None: '
                            'every training sample).')
