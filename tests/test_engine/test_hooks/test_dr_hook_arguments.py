"""Every DRHook argument reaches its effect: one run with a non-default
value of each (the schedule's arguments are proved in
tests/test_diagnosis/test_schedule.py and by the runs of test_dr_hook.py,
``modalities``, ``blend_buffers``, ``reset_optimizer_state`` and
``kmeans_backend`` there too)."""
import math
import os.path as osp

import numpy as np
import torch
from conftest import REPO, data_root_cfg_options
from runs import build_runner

from mmdr.engine.hooks import DRHook
from mmdr.utils import epoch_seed, register_all_modules

register_all_modules()
CONFIG = osp.join(REPO, 'configs/dr_mfeat.py')


def _split_file(path, lines):
    path.write_text(''.join(lines))
    return str(path)


def test_non_default_arguments_change_the_diagnosis_as_documented(
        mfeat_root, tmp_path, monkeypatch, capsys, request):
    # Two threads: side by side, the six clusterings would share them.
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    kmeans_calls = []
    import mmdr.diagnosis.side_by_side as side_by_side
    purity = side_by_side.clustering_purity

    def recording_purity(features, labels, num_clusters, **kwargs):
        kmeans_calls.append(dict(num_clusters=num_clusters, **kwargs))
        return purity(features, labels, num_clusters, **kwargs)

    monkeypatch.setattr(side_by_side, 'clustering_purity', recording_purity)
    diagnosed = []
    import mmdr.engine.hooks.dr_hook as dr_hook_module
    diagnose = dr_hook_module.diagnose_modalities

    def recording_diagnose(features, labels, *args, **kwargs):
        diagnosed.append(labels)
        return diagnose(features, labels, *args, **kwargs)

    monkeypatch.setattr(dr_hook_module, 'diagnose_modalities',
                        recording_diagnose)

    train_lines = open(osp.join(mfeat_root, 'train.txt')).readlines()[::2]
    val_lines = open(osp.join(mfeat_root, 'val.txt')).readlines()[:8]
    pipeline = [dict(type='PackMultiModalInputs')]
    views = ('fou', 'kar', 'mor')
    dataset = dict(
        type='MultipleFeaturesDataset',
        data_root=mfeat_root,
        views=views,
        pipeline=pipeline,
        test_mode=True)
    hook_cfg = dict(
        type='DRHook',
        interval=1,
        begin=1,
        max_times=1,
        lam=1.5,
        seed=3,
        num_clusters=4,
        kmeans_n_init=2,
        kmeans_side_by_side=False,
        max_train_samples=20,
        train_dataset=dict(
            dataset,
            ann_file=_split_file(tmp_path / 'train_half.txt', train_lines)),
        val_dataset=dict(
            dataset, ann_file=_split_file(tmp_path / 'val_8.txt', val_lines)),
        batch_size=5,
        num_workers=1,
        history_file='dr.json',
        progress=True)
    runner = build_runner(
        CONFIG,
        tmp_path / 'work',
        [*data_root_cfg_options(mfeat_root), 'train_cfg.max_epochs=2'],
        custom_hooks=[hook_cfg])
    capsys.readouterr()
    runner.train()
    (hook, ) = [h for h in runner.hooks if isinstance(h, DRHook)]
    (record, ) = hook.history

    # lam: a = tanh(1.5 * gap).
    stats = record['modalities']
    assert any(s['gap'] > 0 for s in stats.values())
    for s in stats.values():
        assert s['strength'] == math.tanh(1.5 * s['gap'])
    # num_clusters, seed, kmeans_n_init and kmeans_side_by_side reach every
    # k-means run (one at a time: no thread share although 2 threads).
    assert kmeans_calls == [
        dict(
            num_clusters=4,
            seed=3,
            n_init=2,
            backend='sklearn',
            num_threads=None)
    ] * 6
    # train_dataset, max_train_samples and seed: 20 of its 42 samples, the
    # subset that seed 3 draws; val_dataset: its 8 samples.
    assert record['num_train_samples'] == 20
    assert record['num_val_samples'] == 8
    chosen = np.sort(np.random.default_rng(3).choice(42, 20, replace=False))
    want = [int(train_lines[i].split()[1]) for i in chosen]
    (labels, ) = diagnosed
    assert labels['train'].tolist() == want
    assert labels['val'].tolist() == [int(x.split()[1]) for x in val_lines]
    # seed, batch_size and num_workers: the loaders of the diagnosis.
    for loader in hook.data.loaders.values():
        assert loader.generator.initial_seed() == epoch_seed(3, 1)
        assert loader.batch_size == 5
        assert loader.num_workers == 1
    # history_file.
    work = tmp_path / 'work'
    assert (work / 'dr.json').is_file()
    assert not (work / 'dr_history.json').exists()
    # progress: one bar per side (4 and 2 batches of 5).
    out = capsys.readouterr().out
    assert '4/4' in out and '2/2' in out and 'task/s' in out
