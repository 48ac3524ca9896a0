"""End-to-end runs of tools/train.py and tools/test.py with the real Runner.

Small synthetic Multiple Features data (the real file format) keep every run
to seconds on a CPU.
"""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from conftest import REPO, data_root_cfg_options
from log_capture import captured_log
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner
from runs import free_port, read_tested_metrics, run_tool, run_tool_main

from mmdr.utils import register_all_modules

CONFIG = osp.join(REPO, 'configs/jt_mfeat.py')


def short_run_options(data_root, epochs):
    return [
        *data_root_cfg_options(data_root), f'train_cfg.max_epochs={epochs}'
    ]


def options_dict(options):
    """Parse ``key=value`` strings as ``--cfg-options`` does."""
    return {
        key: DictAction._parse_iterable(value)
        for key, value in (o.split('=', 1) for o in options)
    }


def val_history(work_dir):
    """Epoch -> val acc/top1 from mmengine's scalars.json."""
    (scalars, ) = glob.glob(
        osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    history = {}
    for line in open(scalars):
        record = json.loads(line)
        if 'acc/top1' in record:
            history[record['step']] = record['acc/top1']
    return history


@pytest.mark.slow
def test_train_selects_on_val_tests_best_and_logs_tensorboard(
        mfeat_root, tmp_path):
    work = tmp_path / 'work'
    result = run_tool('train.py', CONFIG, '--work-dir', work, '--test-best',
                      '--seed', 1, '--cfg-options',
                      *short_run_options(mfeat_root, 3))
    assert result.returncode == 0, result.stderr[-3000:]

    best, metrics = read_tested_metrics(result.stdout)
    history = val_history(str(work))
    assert sorted(history) == [1, 2, 3]
    best_epoch = int(re.search(r'best_acc_top1_epoch_(\d+)\.pth', best)[1])
    # The first epoch with the highest validation accuracy is kept.
    assert history[best_epoch] == max(history.values())
    assert best_epoch == min(e for e, a in history.items()
                             if a == max(history.values()))
    assert set(metrics) == {'acc/top1', 'acc/top5', 'acc/mean1'}
    assert 0.0 <= metrics['acc/top1'] <= 1.0

    # TensorBoard event files next to mmengine's logs, holding the scalars.
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    (events, ) = glob.glob(osp.join(work, '*', 'vis_data', 'events.out.*'))
    accumulator = EventAccumulator(events)
    accumulator.Reload()
    tags = accumulator.Tags()['scalars']
    assert 'acc/top1' in tags and 'loss' in tags
    assert [e.step for e in accumulator.Scalars('acc/top1')] == [1, 2, 3]

    # tools/test.py on the selected checkpoint reproduces the test metrics.
    tested = run_tool('test.py', CONFIG, best, '--work-dir', tmp_path / 'test',
                      '--cfg-options', *data_root_cfg_options(mfeat_root))
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert read_tested_metrics(tested.stdout)[1] == metrics


class Interrupt(Exception):
    """Raised to simulate a run killed after a given epoch."""


class InterruptHook(Hook):

    def __init__(self, after_epoch):
        self.after_epoch = after_epoch

    def after_val_epoch(self, runner, metrics=None):
        if runner.epoch == self.after_epoch:
            raise Interrupt(f'interrupted after epoch {runner.epoch}')


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_end(mfeat_root, tmp_path):
    register_all_modules()
    work = tmp_path / 'work'
    options = short_run_options(mfeat_root, 4)
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(options_dict(options))
    cfg.work_dir = str(work)
    cfg.experiment_name = 'interrupted'
    runner = Runner.from_cfg(cfg)
    runner.register_hook(InterruptHook(after_epoch=2), priority='LOWEST')
    with pytest.raises(Interrupt):
        runner.train()
    assert sorted(os.listdir(work)).count('epoch_2.pth') == 1
    assert not osp.exists(work / 'epoch_3.pth')

    # Starting a new run in the same work dir would overwrite it: refused.
    refused = run_tool('train.py', CONFIG, '--work-dir', work, '--cfg-options',
                       *options)
    assert refused.returncode != 0
    assert 'already holds checkpoints of an earlier run' in refused.stderr
    assert not osp.exists(work / 'epoch_3.pth')

    resumed = run_tool('train.py', CONFIG, '--work-dir', work, '--resume',
                       '--cfg-options', *options)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 2' in log
    assert 'Epoch(train) [1]' not in log  # nothing trained twice

    final = torch.load(work / 'epoch_4.pth')  # torch's weights_only default
    assert final['meta']['epoch'] == 4
    (best, ) = glob.glob(str(work / 'best_acc_top1_epoch_*.pth'))
    # The message hub, HistoryBuffers included, survives the round trip.
    runtime_info = final['message_hub']['runtime_info']
    assert osp.samefile(runtime_info['best_ckpt'], best)
    assert len(final['message_hub']['log_scalars']['train/loss'].data[0]) > 0
    state = torch.load(best)['state_dict']
    assert any(k.startswith('encoders.fou.') for k in state)
    assert any(k.startswith('cls_head.fc_cls') for k in state)


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='the refusal is for CPU machines')
def test_amp_without_a_gpu_is_refused_before_training(mfeat_root, tmp_path,
                                                      monkeypatch, capsys):
    with pytest.raises(
            SystemExit,
            match='--amp trains in mixed precision on a GPU; this machine '
            'has no CUDA device'):
        run_tool_main('train.py', [
            CONFIG, '--amp', '--work-dir', tmp_path / 'work', '--cfg-options',
            *short_run_options(mfeat_root, 1)
        ], monkeypatch, capsys)
    assert not osp.exists(tmp_path / 'work')


@pytest.mark.slow
@pytest.mark.skipif(
    not torch.cuda.is_available(), reason='--amp trains on a GPU')
def test_amp_trains_a_balancer_on_a_gpu(mfeat_root, tmp_path):
    # Every shipped schedule has BalancedOptimWrapper; --amp makes it
    # BalancedAmpOptimWrapper, under which MMPareto rewrites gradients.
    config = tmp_path / 'mmpareto_mfeat.py'
    config.write_text(
        f"_base_ = [{CONFIG!r}, "
        f"{osp.join(REPO, 'configs/_base_/methods/mmpareto.py')!r}]\n")
    work = tmp_path / 'work'
    result = run_tool('train.py', config, '--amp', '--work-dir', work,
                      '--cfg-options', *short_run_options(mfeat_root, 2))
    assert result.returncode == 0, result.stderr[-3000:]
    state = torch.load(work / 'epoch_2.pth')['optim_wrapper']
    assert 'loss_scaler' in state
    assert 'mmpareto_cos_fou' in result.stdout + result.stderr


@pytest.mark.slow
def test_two_process_training_on_cpu(mfeat_root, tmp_path):
    work = tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        f'--master_port={free_port()}',
        osp.join(REPO, 'tools/train.py'), CONFIG, '--launcher', 'pytorch',
        '--work-dir',
        str(work), '--test-best', '--cfg-options',
        *short_run_options(mfeat_root, 2)
    ]
    result = subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, env=env)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log
    # 84 training samples, 64 per batch and rank: each of the 2 ranks sees
    # 42 samples, one iteration per epoch (one process would need 2).
    assert 'Epoch(train) [1][1/1]' in log
    # Only the main process prints the test metrics.
    assert log.count('Test metrics of') == 1
    assert osp.isfile(work / 'epoch_2.pth')


def test_missing_modality_stops_before_training(mfeat_root, tmp_path):
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(options_dict(short_run_options(mfeat_root, 1)))
    cfg.model.encoders['audio'] = dict(type='MLPEncoder', in_channels=8)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = 'missing_modality'
    runner = Runner.from_cfg(cfg)
    with pytest.raises(KeyError) as err:
        runner.train()
    message = str(err.value)
    assert "['audio']" in message
    assert 'train_dataloader.dataset (MultipleFeaturesDataset)' in message
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))


def test_wrong_feature_width_stops_before_training(mfeat_root, tmp_path,
                                                   monkeypatch, capsys):
    with pytest.raises(
            ValueError,
            match=re.escape(
                'train_dataloader.dataset (MultipleFeaturesDataset) has other '
                'feature widths than the encoders expect (fou: 75 (model) vs '
                '76 (data)); set model.encoders.fou.in_channels=76')):
        run_tool_main('train.py', [
            CONFIG, '--work-dir', tmp_path / 'work', '--cfg-options',
            *short_run_options(mfeat_root, 1),
            'model.encoders.fou.in_channels=75',
            'experiment_name=wrong_feature_width'
        ], monkeypatch, capsys)
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))


@pytest.mark.slow
def test_no_validate_still_relearns_after_the_diagnosed_epochs(
        mfeat_root, tmp_path):
    work = tmp_path / 'work'
    result = run_tool('train.py', osp.join(REPO, 'configs/dr_mfeat.py'),
                      '--work-dir', work, '--no-validate',
                      '--test-best', '--cfg-options',
                      *short_run_options(mfeat_root,
                                         4), 'custom_hooks.0.interval=1',
                      'custom_hooks.0.max_times=2',
                      'custom_hooks.0.progress=False')
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert 'Epoch(val)' not in log
    # D&R still diagnoses on the validation split (12 samples), after
    # epochs 2 and 3, and the last epoch's checkpoint is tested.
    history = json.load(open(work / 'dr_history.json'))
    assert [r['epoch'] for r in history] == [2, 3]
    assert all(r['num_val_samples'] == 12 for r in history)
    best, _ = read_tested_metrics(result.stdout)
    assert best.endswith('epoch_4.pth')
    # The diagnoses are printed last, as a table: a row per diagnosis and
    # modality, with the values of dr_history.json.
    table = result.stdout.split('D&R diagnoses of this run')[-1]
    rows = [line for line in table.splitlines() if line.startswith('| ')]
    assert len(rows) == 2 + 2 * 3
    epoch, modality, *values = rows[2].strip('| ').split(' | ')
    stats = history[0]['modalities'][modality]
    assert int(epoch) == 2
    assert [float(v) for v in values] == pytest.approx(
        [stats[k] for k in ('train_purity', 'val_purity', 'gap', 'strength')],
        abs=5e-5)


def test_num_workers_0_alone_trains_and_data_root_reaches_every_loader(
        mfeat_root, tmp_path, monkeypatch, capsys):
    # Persistent training workers, as the video configs have, and a
    # data_root that does not exist in every loader. (Loaders that keep
    # persistent workers: test_dataloader_config.py; here they would only
    # add the seconds in which PyTorch shuts them down at the end.)
    config = tmp_path / 'jt_mfeat_workers.py'
    missing = "dataset=dict(data_root='/nonexistent/mfeat')"
    config.write_text(
        f'_base_ = [{CONFIG!r}]\n'
        f'train_dataloader = dict(num_workers=2, persistent_workers=True, '
        f'{missing})\n' + ''.join(f'{split}_dataloader = dict({missing})\n'
                                  for split in ('val', 'test')))
    work = tmp_path / 'work'
    with captured_log() as records:
        _, out = run_tool_main('train.py', [
            config, '--work-dir', work, '--data-root', mfeat_root,
            '--test-best', '--cfg-options', 'train_dataloader.num_workers=0',
            'train_cfg.max_epochs=1', 'experiment_name=workers_train'
        ], monkeypatch, capsys)
    assert [r.getMessage() for r in records
            if 'is dropped' in r.getMessage()] == [
                'train_dataloader: num_workers=0, so persistent_workers=True '
                'is dropped (PyTorch allows it only with workers)'
            ]
    assert osp.isfile(work / 'epoch_1.pth')
    best, metrics = read_tested_metrics(out)

    # tools/test.py with --data-root alone gives the same test metrics.
    _, out = run_tool_main('test.py', [
        config, best, '--work-dir', tmp_path / 'test', '--data-root',
        mfeat_root, '--cfg-options', 'experiment_name=workers_test'
    ], monkeypatch, capsys)
    assert read_tested_metrics(out)[1] == metrics
