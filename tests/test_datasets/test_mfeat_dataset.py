import os.path as osp
import shutil

import numpy as np
import pytest
import torch

from mmdr.datasets import MFEAT_VIEWS, MultipleFeaturesDataset
from mmdr.utils import register_all_modules

register_all_modules()


def _dataset(root, views=('fou', 'mor'), ann_file='train.txt', **kwargs):
    return MultipleFeaturesDataset(
        ann_file=ann_file,
        views=views,
        data_root=root,
        pipeline=[dict(type='PackMultiModalInputs')],
        **kwargs)


def test_loads_selected_views_as_modalities(mfeat_root):
    dataset = _dataset(mfeat_root, views=('kar', 'pix', 'mor'))
    assert dataset.modalities == ('kar', 'pix', 'mor')
    assert len(dataset) == 84  # 70 % of 120
    info = dataset.get_data_info(0)
    table = np.loadtxt(
        osp.join(mfeat_root, 'mfeat-pix.csv'), delimiter=',', skiprows=1)
    row = info['sample_idx']
    np.testing.assert_allclose(info['pix'], table[row, :-1], rtol=1e-6)
    assert info['label'] == int(table[row, -1])
    assert info['modalities'] == ('kar', 'pix', 'mor')

    packed = dataset[0]
    assert set(packed['inputs']) == {'kar', 'pix', 'mor'}
    for view, tensor in packed['inputs'].items():
        assert tensor.shape == (MFEAT_VIEWS[view], )
        assert tensor.dtype == torch.float32
    assert packed['data_samples'].gt_labels.item.item() == info['label']
    assert packed['data_samples'].metainfo['sample_idx'] == row


def test_unknown_view_is_named(mfeat_root):
    with pytest.raises(ValueError, match=r"unknown views \['audio'\]") as err:
        _dataset(mfeat_root, views=('fou', 'audio'))
    assert 'fou' in str(err.value) and 'mor' in str(err.value)


def test_missing_data_root_names_the_prepare_command(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        _dataset(str(tmp_path / 'nowhere'))
    assert 'nowhere' in str(err.value)
    assert 'python tools/data/mfeat/prepare_mfeat.py' in str(err.value)


def _copy(root, tmp_path):
    target = tmp_path / 'mfeat'
    shutil.copytree(root, target)
    return target


def test_unknown_label_names_file_and_line(mfeat_root, tmp_path):
    root = _copy(mfeat_root, tmp_path)
    lines = (root / 'val.txt').read_text().splitlines()
    row = lines[2].split()[0]
    lines[2] = f'{row} 12'
    (root / 'val.txt').write_text('\n'.join(lines) + '\n')
    with pytest.raises(ValueError) as err:
        _dataset(str(root), ann_file='val.txt')
    message = str(err.value)
    assert 'val.txt, line 3' in message and 'unknown label 12' in message


def test_label_disagreeing_with_csv_is_refused(mfeat_root, tmp_path):
    root = _copy(mfeat_root, tmp_path)
    row, label = (root / 'test.txt').read_text().split('\n')[0].split()
    wrong = (int(label) + 1) % 10
    text = (root / 'test.txt').read_text().replace(f'{row} {label}\n',
                                                   f'{row} {wrong}\n', 1)
    (root / 'test.txt').write_text(text)
    with pytest.raises(ValueError, match='disagrees with mfeat-fou.csv'):
        _dataset(str(root), ann_file='test.txt')


def test_malformed_rows_and_missing_files(mfeat_root, tmp_path):
    root = _copy(mfeat_root, tmp_path)
    (root / 'bad.txt').write_text('3\n')
    with pytest.raises(ValueError, match=r'bad.txt, line 1 .*"<row> <label>"'):
        _dataset(str(root), ann_file='bad.txt')
    (root / 'bad.txt').write_text('99999 0\n')
    with pytest.raises(ValueError, match='row 99999 is out of range'):
        _dataset(str(root), ann_file='bad.txt')
    (root / 'mfeat-mor.csv').unlink()
    with pytest.raises(FileNotFoundError, match='mfeat-mor.csv is missing'):
        _dataset(str(root))
    with pytest.raises(FileNotFoundError, match='annotation file'):
        _dataset(str(root), views=('fou', ), ann_file='nope.txt')
