"""The D&R hook in real mmengine runs on small Multiple Features data."""
import json
import math
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from conftest import REPO, mfeat_cfg_options
from dr_test_hooks import (Interrupt, InterruptHook, PoisonEncoderHook,
                           WeightProbeHook, unwrap)
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmdr.engine.hooks import DRHook
from mmdr.utils import register_all_modules

register_all_modules()
CONFIG = osp.join(REPO, 'configs/dr_mfeat.py')
TESTS = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def options(data_root, epochs, **hook):
    opts = [
        *mfeat_cfg_options(data_root), f'train_cfg.max_epochs={epochs}',
        f'param_scheduler.0.T_max={epochs}', 'default_hooks.logger.interval=1'
    ]
    opts += [f'custom_hooks.0.{k}={v}' for k, v in hook.items()]
    return opts


def build_runner(data_root, work_dir, epochs, name, extra=(), **hook):
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({
        k: DictAction._parse_iterable(v)
        for k, v in (o.split('=', 1)
                     for o in [*options(data_root, epochs, **hook), *extra])
    })
    cfg.custom_hooks[0]['progress'] = False
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = name
    return Runner.from_cfg(cfg)


def dr_hook(runner):
    (hook, ) = [h for h in runner.hooks if isinstance(h, DRHook)]
    return hook


def test_schedule_of_the_reference_code():
    hook = DRHook()  # H = 20, N = 3
    due = []
    for epoch in range(90):
        if hook.is_due(epoch):
            due.append(epoch)
            hook.history.append(dict(epoch=epoch + 1))
    assert due == [20, 40, 60]
    hook = DRHook(interval=5, begin=3, max_times=10)
    assert [e for e in range(20) if hook.is_due(e)] == [3, 8, 13, 18]


@pytest.mark.parametrize('kwargs, name', [
    (dict(interval=0), 'interval'),
    (dict(begin=0), 'begin'),
    (dict(lam=-1), 'lam'),
    (dict(max_train_samples='train'), 'max_train_samples'),
])
def test_invalid_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f'DRHook: {name}='):
        DRHook(**kwargs)


def test_relearning_blends_encoders_toward_init(mfeat_root, tmp_path):
    runner = build_runner(
        mfeat_root, tmp_path, 3, 'dr_blend', interval=1, max_times=2)
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
        # Diagnosed on the whole training split (84) and on validation (12),
        # with max_train_samples='val': as many training samples as val.
        assert record['num_train_samples'] == 12
        assert record['num_val_samples'] == 12
        for m, stats in record['modalities'].items():
            assert stats['gap'] == pytest.approx(
                abs(stats['train_purity'] - stats['val_purity']))
            assert stats['strength'] == pytest.approx(
                math.tanh(3.0 * stats['gap']))

    init = hook.init_state
    for record in hook.history:
        epoch = record['epoch'] - 1
        old, new = before.states[epoch], after.states[epoch]
        for key in old:
            modality = key.split('.')[1] if key.startswith(
                'encoders.') else None
            if modality is None:
                # Fusion and head are untouched.
                assert torch.equal(old[key], new[key]), key
                continue
            name = key.split('.', 2)[2]
            a = record['modalities'][modality]['strength']
            buffers = ('running_mean', 'running_var', 'num_batches_tracked')
            if name.endswith(buffers):
                assert torch.equal(old[key], new[key]), key  # buffers kept
            else:
                expected = (1 - a) * old[key] + a * init[modality][name]
                torch.testing.assert_close(new[key], expected)

    # The history file and TensorBoard hold every diagnosis.
    saved = json.load(open(tmp_path / 'dr_history.json'))
    assert saved == json.loads(json.dumps(hook.history))
    scalars = [
        json.loads(line) for line in open(
            next((tmp_path / d / 'vis_data' / 'scalars.json'
                  for d in os.listdir(tmp_path)
                  if (tmp_path / d / 'vis_data').is_dir())))
    ]
    strengths = [s for s in scalars if 'dr/fou/strength' in s]
    assert [s['step'] for s in strengths] == [2, 3]
    # The epoch checkpoint holds theta_init and the history.
    ckpt = torch.load(tmp_path / 'epoch_3.pth')
    assert ckpt['dr_hook']['history'] == hook.history
    for m in init:
        for key, value in init[m].items():
            assert torch.equal(ckpt['dr_hook']['init_state'][m][key], value)


def test_options_blend_buffers_and_reset_optimizer_state(mfeat_root, tmp_path):
    runner = build_runner(
        mfeat_root,
        tmp_path,
        2,
        'dr_options',
        interval=1,
        max_times=1,
        blend_buffers=True,
        reset_optimizer_state=True,
        max_train_samples=None,
        modalities=['kar'])
    before, after = WeightProbeHook('before'), WeightProbeHook('after')
    runner.register_hook(before)
    runner.register_hook(after)
    runner.train()
    hook = dr_hook(runner)
    (record, ) = hook.history
    assert record['num_train_samples'] == 84
    assert list(record['modalities']) == ['kar']
    a = record['modalities']['kar']['strength']
    assert a > 0
    old, new = before.states[1], after.states[1]
    key = 'encoders.kar.layers.0.running_mean'
    torch.testing.assert_close(
        new[key], (1 - a) * old[key] +
        a * hook.init_state['kar']['layers.0.running_mean'])
    for key in old:
        if key.startswith('encoders.fou.'):
            assert torch.equal(old[key], new[key]), key
    # Adam's state of the re-learned encoder was dropped after epoch 2's
    # re-learning, the other encoders' kept.
    model = unwrap(runner.model)
    state = runner.optim_wrapper.optimizer.state
    assert all(p not in state for p in model.encoders['kar'].parameters())
    assert all(p in state for p in model.encoders['fou'].parameters())


def test_bad_set_ups_fail_before_training(mfeat_root, tmp_path):
    runner = build_runner(
        mfeat_root, tmp_path / 'a', 2, 'dr_bad_modality', modalities=['audio'])
    with pytest.raises(
            KeyError, match=r"modalities \['audio'\] are not encoders"):
        runner.train()
    assert not list((tmp_path / 'a').glob('*.pth'))

    small_val = tmp_path / 'small_val.txt'
    small_val.write_text(''.join(
        open(osp.join(mfeat_root, 'val.txt')).readlines()[:5]))
    runner = build_runner(
        mfeat_root,
        tmp_path / 'b',
        2,
        'dr_small_val',
        extra=[f'val_dataloader.dataset.ann_file={small_val}'])
    with pytest.raises(
            ValueError, match='5 samples, fewer than the 10 classes'):
        runner.train()

    runner = build_runner(mfeat_root, tmp_path / 'c', 2, 'dr_no_features')
    runner.model.extract_modality_features = None
    with pytest.raises(TypeError, match='extract_modality_features'):
        runner.train()


def test_non_finite_features_change_no_weight(mfeat_root, tmp_path):
    runner = build_runner(
        mfeat_root, tmp_path, 3, 'dr_nan', interval=1, max_times=2)
    poison = PoisonEncoderHook('fou', epoch=1)
    runner.register_hook(poison)
    with pytest.raises(
            RuntimeError,
            match='non-finite values .* modality '
            "'fou'; no weight was changed"):
        runner.train()
    now = unwrap(runner.model).state_dict()
    for key, value in poison.before.items():
        assert torch.equal(value,
                           now[key]) or (torch.isnan(value).all()
                                         and torch.isnan(now[key]).all()), key


def test_resumed_run_matches_an_uninterrupted_one(mfeat_root, tmp_path):
    # No dropout, so a resumed run retraces the uninterrupted one exactly.
    extra = [f'model.encoders.{v}.dropout=0.0' for v in ('fou', 'kar', 'mor')]
    straight = build_runner(
        mfeat_root,
        tmp_path / 'straight',
        4,
        'dr_straight',
        extra=extra,
        interval=1,
        max_times=2)
    straight.train()
    reference = dr_hook(straight).history
    assert [r['epoch'] for r in reference] == [2, 3]

    work = tmp_path / 'interrupted'
    first = build_runner(
        mfeat_root, work, 4, 'dr_first', extra=extra, interval=1, max_times=2)
    first.register_hook(InterruptHook(after_epoch=2))
    with pytest.raises(Interrupt):
        first.train()  # after the first re-learning (epoch 2) was saved
    init = dr_hook(first).init_state

    resumed = build_runner(
        mfeat_root,
        work,
        4,
        'dr_resumed',
        extra=[*extra, 'resume=True'],
        interval=1,
        max_times=2)
    resumed.train()
    hook = dr_hook(resumed)
    # theta_init came from the checkpoint, not from the resumed weights.
    for m in init:
        for k in init[m]:
            assert torch.equal(hook.init_state[m][k], init[m][k])
    assert [r['epoch'] for r in hook.history] == [2, 3]  # not re-done
    for got, want in zip(hook.history, reference):
        assert got['weights_sha256'] == want['weights_sha256']
        for m in want['modalities']:
            for key, value in want['modalities'][m].items():
                assert got['modalities'][m][key] == pytest.approx(value)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _train(work, opts, nproc, config=CONFIG):
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join(
            [REPO, TESTS, os.environ.get('PYTHONPATH', '')]))
    launcher = [sys.executable]
    if nproc > 1:
        launcher += [
            '-m', 'torch.distributed.run', f'--nproc_per_node={nproc}',
            f'--master_port={_free_port()}'
        ]
    cmd = [
        *launcher,
        osp.join(REPO, 'tools/train.py'),
        str(config), '--work-dir',
        str(work), '--cfg-options', *opts
    ]
    if nproc > 1:
        cmd.insert(cmd.index('--work-dir'), '--launcher')
        cmd.insert(cmd.index('--work-dir'), 'pytorch')
    result = subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return json.load(open(work / 'dr_history.json'))


def test_two_ranks_diagnose_like_one_process(mfeat_root, tmp_path):
    # With lr = 0 and no batch statistics the weights stay at their (seeded)
    # initialisation, so one and two processes hold the same model and must
    # diagnose identically; 41 training samples leave one rank a padded one.
    frozen = [
        *options(mfeat_root, 2, interval=1, max_times=1, max_train_samples=41),
        'optim_wrapper.optimizer.lr=0.0', *[
            f'model.encoders.{v}.input_norm=False'
            for v in ('fou', 'kar', 'mor')
        ]
    ]
    one = _train(tmp_path / 'one', frozen, 1)
    two = _train(tmp_path / 'two', frozen, 2)
    assert two[0]['world_size'] == 2 and one[0]['world_size'] == 1
    assert two[0]['num_train_samples'] == one[0]['num_train_samples'] == 41
    assert two[0]['modalities'] == one[0]['modalities']


def test_two_ranks_end_with_bit_identical_encoders(mfeat_root, tmp_path):
    work = tmp_path / 'dist'
    config = tmp_path / 'dr_dump.py'
    config.write_text(
        f'_base_ = [{CONFIG!r}]\n'
        "custom_imports = dict(imports=['dr_test_hooks'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='DRHook', interval=1, max_times=2, "
        "max_train_samples='val'), dict(type='RankWeightDumpHook')]\n")
    history = _train(work, options(mfeat_root, 3), 2, config)
    assert [r['epoch'] for r in history] == [2, 3]
    assert all(r['world_size'] == 2 for r in history)
    assert any(s['strength'] > 0 for r in history
               for s in r['modalities'].values())
    for epoch in (2, 3):
        rank0 = torch.load(work / f'rank0_epoch{epoch}.pth')
        rank1 = torch.load(work / f'rank1_epoch{epoch}.pth')
        assert rank0.keys() == rank1.keys()
        for key in rank0:
            assert torch.equal(rank0[key], rank1[key]), key
