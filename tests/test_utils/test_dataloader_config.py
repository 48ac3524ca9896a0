"""The config edits that tools/train.py and tools/test.py share: --data-root
and persistent workers dropped where a loader has none."""
from log_capture import captured_log
from mmengine.config import Config

from mmdr.utils import (apply_data_options, drop_persistent_workers,
                        set_data_root)


def _dataset(name):
    return dict(
        type='MultipleFeaturesDataset',
        data_root='data/mfeat',
        ann_file=f'{name}.txt')


def _config(**loaders):
    """Three loaders (training through a RepeatDataset), D&R with its own
    data sets and another hook with a ``dataset`` key of its own."""
    cfg = dict(
        train_dataloader=dict(
            num_workers=0,
            dataset=dict(
                type='RepeatDataset', times=2, dataset=_dataset('train'))),
        val_dataloader=dict(num_workers=0, dataset=_dataset('val')),
        test_dataloader=dict(num_workers=0, dataset=_dataset('test')),
        custom_hooks=[
            dict(type='OtherHook', dataset=_dataset('other')),
            dict(
                type='DRHook',
                train_dataset=_dataset('train'),
                val_dataset=_dataset('val'))
        ])
    for key, settings in loaders.items():
        cfg[key].update(settings)
    return Config(cfg)


def test_set_data_root_reaches_every_data_set_of_the_config():
    cfg = _config()
    changed = set_data_root(cfg, '/data/mine')
    assert sorted(changed) == [
        'custom_hooks.1.train_dataset.data_root',
        'custom_hooks.1.val_dataset.data_root',
        'test_dataloader.dataset.data_root',
        'train_dataloader.dataset.dataset.data_root',
        'val_dataloader.dataset.data_root'
    ]
    assert cfg.train_dataloader.dataset.dataset.data_root == '/data/mine'
    # The wrapper has no data_root of its own.
    assert 'data_root' not in cfg.train_dataloader.dataset
    for key in ('train_dataset', 'val_dataset'):
        assert cfg.custom_hooks[1][key].data_root == '/data/mine'
    # Only loaders' and D&R's data sets: another hook's is its own.
    assert cfg.custom_hooks[0].dataset.data_root == 'data/mfeat'


def test_persistent_workers_are_dropped_where_there_are_no_workers():
    persistent = dict(persistent_workers=True)
    cfg = _config(
        train_dataloader=persistent,
        val_dataloader=dict(persistent, num_workers=2),
        test_dataloader=dict(persistent_workers=False))
    with captured_log() as records:
        apply_data_options(cfg)
    assert [r.getMessage() for r in records] == [
        'train_dataloader: num_workers=0, so persistent_workers=True is '
        'dropped (PyTorch allows it only with workers)'
    ]
    assert cfg.train_dataloader.persistent_workers is False
    # A loader with workers keeps them persistent.
    assert cfg.val_dataloader.persistent_workers is True
    assert drop_persistent_workers(cfg) == []
