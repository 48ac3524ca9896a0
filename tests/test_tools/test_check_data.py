"""tools/analysis/check_data.py: every file of a config's data sets
decoded, the unusable ones named and written as a skip list."""
import importlib.util
import os.path as osp
import shutil

import pytest
import torch
from av_fixtures import truncate_file
from mmengine.config import Config

from mmdr.datasets.base_multimodal_dataset import read_skip_lists
from mmdr.registry import DATASETS
from mmdr.utils import register_all_modules

register_all_modules()

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'check_data', osp.join(REPO, 'tools', 'analysis', 'check_data.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def _dataset(root, ann_file):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'dr_avdigits.py'))
    dataset = dict(cfg.train_dataloader.dataset)
    dataset.update(data_root=root, ann_file=ann_file)
    return DATASETS.build(dataset)


def _line(root, ann_file, index):
    with open(osp.join(root, ann_file)) as f:
        return f.read().splitlines()[index]


@pytest.fixture
def root(avdigits_root, tmp_path):
    # A copy: the session fixture is shared and must stay intact.
    return shutil.copytree(avdigits_root, str(tmp_path / 'avdigits'))


def test_check_data_tool(root, tmp_path, capsys):
    tool = _load_tool()
    config = osp.join(REPO, 'configs', 'dr_avdigits.py')

    out = str(tmp_path / 'clean.txt')
    assert tool.main(
        [config, '--data-root', root, '--out', out, '--workers', '1']) == 0
    printed = capsys.readouterr().out
    assert 'train: 20 samples, 40 files' in printed
    assert 'val: 10 samples' in printed and 'test: 10 samples' in printed
    assert 'Every file of the 40 samples decodes' in printed
    with open(out) as f:
        assert read_skip_lists(out) == {} and f.read().startswith('# ')

    train = _dataset(root, 'train.txt')
    test = _dataset(root, 'test.txt')
    bad_png = train.get_data_info(2)['img_path']
    bad_wav = test.get_data_info(4)['audio_path']
    truncate_file(bad_png, 0.5)
    with open(bad_wav, 'wb'):
        pass
    out = str(tmp_path / 'unreadable.txt')
    assert tool.main(
        [config, '--data-root', root, '--out', out, '--workers', '2']) == 1
    printed = capsys.readouterr().out
    assert f'2 of 40 samples hold an unusable file; wrote them to {out}' \
        in printed
    assert f'{bad_png} (cannot be decoded as an image (OpenCV))' in printed
    assert f'{bad_wav} (empty (0 bytes))' in printed
    assert 'without skip lists: replace or regenerate their files' in printed
    # AV-Digits samples have no clip name: named by their annotation line,
    # as comments, so that the list stays a valid (empty) skip list.
    with open(out) as f:
        written = f.read().splitlines()
    assert written[1:] == [
        f"# {osp.join(root, 'train.txt')}, line 3 "
        f"({_line(root, 'train.txt', 2)!r})  # {bad_png} (cannot be decoded "
        'as an image (OpenCV))', f"# {osp.join(root, 'test.txt')}, line 5 "
        f"({_line(root, 'test.txt', 4)!r})  # {bad_wav} (empty (0 bytes))"
    ]
    assert read_skip_lists(out) == {}
    # An earlier result is never overwritten.
    assert tool.main([config, '--data-root', root, '--out', out]) == 2
    assert 'exists; choose another --out or pass --overwrite' in \
        capsys.readouterr().err
    # Training data still builds without the start-up check.
    assert torch.is_tensor(train[0]['inputs']['audio'])
