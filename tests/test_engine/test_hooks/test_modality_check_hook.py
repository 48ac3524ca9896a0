"""ModalityCheckHook holds the data against the model before any step: the
heads' class counts here (modalities and feature widths: test_train.py)."""
import glob
import os.path as osp
from types import SimpleNamespace

import pytest
from conftest import REPO, data_root_cfg_options
from runs import build_runner

from mmdr.engine.hooks import ModalityCheckHook
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()
# Joint training: no D&R, whose k-means used to be the only place that
# noticed the class count.
CONFIG = osp.join(REPO, 'configs/jt_mfeat.py')


def test_head_of_another_class_count_stops_before_training(
        mfeat_root, tmp_path):
    work = tmp_path / 'work'
    runner = build_runner(
        CONFIG, work,
        [*data_root_cfg_options(mfeat_root), 'model.cls_head.num_classes=101'])
    with pytest.raises(ValueError) as err:
        runner.train()
    assert str(err.value) == (
        'model.cls_head.num_classes=101 does not match the 10 classes of '
        'train_dataloader.dataset (MultipleFeaturesDataset, '
        f"{mfeat_root}/train.txt) (in its metainfo['classes']); set "
        '--cfg-options model.cls_head.num_classes=10')
    assert not glob.glob(str(work / '*.pth'))
    (log_file, ) = glob.glob(str(work / '*' / '*.log'))
    assert 'Epoch(train)' not in open(log_file).read()

    # Testing a checkpoint checks the test data the same way.
    with pytest.raises(ValueError, match='10 classes of test_dataloader'):
        runner.test()


def _model(**parts):
    return MODELS.build(
        dict(
            type='MultiModalRecognizer',
            encoders=dict(a=dict(type='MLPEncoder', in_channels=4)),
            fusion=dict(type='ConcatFusion'),
            **parts))


class _Dataset:
    """A built data set as the hook sees it: metainfo, maybe a class
    source, no modalities (as mmaction2's data sets)."""

    def __init__(self, classes, **attributes):
        self.metainfo = dict(classes=classes)
        self.__dict__.update(attributes)


def _check(model, dataset):
    loader = SimpleNamespace(dataset=dataset)
    runner = SimpleNamespace(
        model=model, train_dataloader=loader, val_loop=None)
    ModalityCheckHook().before_train(runner)


def test_class_counts_of_every_head_and_where_the_classes_came_from():
    three = _Dataset(('x', 'y', 'z'), class_source='lists/classInd.txt')
    with pytest.raises(ValueError) as err:
        _check(
            _model(cls_head=dict(type='LinearClsHead', num_classes=101)),
            three)
    assert str(err.value) == (
        'model.cls_head.num_classes=101 does not match the 3 classes of '
        'train_dataloader.dataset (_Dataset) (from lists/classInd.txt); set '
        '--cfg-options model.cls_head.num_classes=3')
    # A uni-modal head that names its own count is a setting of its own.
    model = _model(
        cls_head=dict(type='LinearClsHead', num_classes=3),
        unimodal_head=dict(type='LinearClsHead', num_classes=7))
    with pytest.raises(
            ValueError,
            match=r'^model\.unimodal_head\.num_'
            r'classes=7 does not match .* set --cfg-options '
            r'model\.unimodal_head\.num_classes=3$'):
        _check(model, three)

    # Left alone: a regression head (no classes), data without classes.
    _check(_model(cls_head=dict(type='LinearRegHead')), three)
    _check(
        _model(cls_head=dict(type='LinearClsHead', num_classes=101)),
        _Dataset(None))
