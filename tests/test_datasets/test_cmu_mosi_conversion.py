"""MulT's pickle converted once into memory-mapped arrays: the data set's
samples are bit for bit those that reading the pickle gave, non-finite values
are counted once, and unreadable files are named."""
import importlib.util
import json
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

from mmdr.datasets.cmu_mosi_conversion import convert_mult_pickle
from mmdr.datasets.cmu_mosi_dataset import CMUMOSIDataset
from mmdr.testing.cmu_mosi import write_mosi_pickle
from mmdr.utils import register_all_modules

register_all_modules()

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PACK = [
    dict(type='PackMultiModalInputs', meta_keys=('sample_idx', 'sentiment'))
]


def _tool():
    """tools/data/cmu_mosi/convert_mult_pickle.py as a module."""
    spec = importlib.util.spec_from_file_location(
        'convert_mult_pickle',
        osp.join(REPO, 'tools', 'data', 'cmu_mosi', 'convert_mult_pickle.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def _expected_features(array: np.ndarray) -> np.ndarray:
    """What the data set fed the model when it read the pickle itself:
    C-contiguous float32, non-finite values replaced with 0."""
    array = np.ascontiguousarray(array, dtype=np.float32).copy()
    array[~np.isfinite(array)] = 0
    return array


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_samples_are_bit_identical_to_the_pickles(tmp_path, dtype):
    path = str(tmp_path / 'mosi_data.pkl')
    data = write_mosi_pickle(
        path, sizes=(12, 4, 5), inf_in_audio=7, dtype=dtype)
    _tool().main([path])
    for split in ('train', 'valid', 'test'):
        dataset = CMUMOSIDataset(
            data_root=str(tmp_path),
            split=split,
            task='seven',
            nonfinite='zero',
            pipeline=PACK)
        labels = data[split]['labels'].astype(np.float64).reshape(-1)
        for row in range(len(dataset)):
            packed = dataset[row]
            for modality in ('text', 'audio', 'vision'):
                expected = torch.from_numpy(
                    _expected_features(data[split][modality][row]))
                got = packed['inputs'][modality]
                assert got.dtype == torch.float32
                # Bit for bit, signed zeros included.
                assert torch.equal(
                    got.view(torch.int32), expected.view(torch.int32))
            metainfo = packed['data_samples'].metainfo
            assert metainfo['sentiment'] == labels[row]
            assert packed['data_samples'].gt_labels.item.tolist() == [
                int(np.round(np.clip(labels[row], -3, 3))) + 3
            ]


def test_nonfinite_values_are_counted_once_and_zeroed(tmp_path):
    path = str(tmp_path / 'mosi_data.pkl')
    data = write_mosi_pickle(path, sizes=(6, 2, 2), inf_in_audio=4)
    meta = convert_mult_pickle(path)
    assert meta['splits']['train']['nonfinite'] == dict(
        text=0, audio=4, vision=0)
    assert meta['splits']['valid']['nonfinite']['audio'] == 0
    audio = np.load(tmp_path / 'mosi_data' / 'train_audio.npy')
    np.testing.assert_array_equal(audio,
                                  _expected_features(data['train']['audio']))
    # The ids become text, the labels float64 in the pickle's shape.
    ids = np.load(tmp_path / 'mosi_data' / 'train_id.npy')
    assert ids.tolist()[:2] == ['video0000_0', 'video0000_1']
    labels = np.load(tmp_path / 'mosi_data' / 'train_labels.npy')
    assert labels.dtype == np.float64 and labels.shape == (6, 1, 1)
    written = json.loads((tmp_path / 'mosi_data' / 'meta.json').read_text())
    assert written == meta and written['source'] == 'mosi_data.pkl'


def test_the_tool_writes_where_it_is_told(tmp_path, capsys):
    path = str(tmp_path / 'mosi_data.pkl')
    write_mosi_pickle(path, sizes=(3, 2, 2), inf_in_audio=2)
    out = tmp_path / 'elsewhere'
    _tool().main([path, '--out-dir', str(out)])
    printed = capsys.readouterr().out
    assert ("train: text, audio, vision, labels, id; non-finite values "
            "replaced with 0: {'audio': 2}") in printed
    assert f'Wrote {out}' in printed
    assert not (tmp_path / 'mosi_data').exists()
    dataset = CMUMOSIDataset(
        data_root=str(tmp_path), ann_file='elsewhere', split='valid')
    assert len(dataset) == 2


def test_unreadable_files_are_named(tmp_path):
    listed = tmp_path / 'list.pkl'
    listed.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match='holds a list; a word-aligned'):
        convert_mult_pickle(str(listed))
    text = tmp_path / 'text.pkl'
    text.write_text('not a pickle')
    with pytest.raises(SystemExit, match=f'{text} is not a readable pickle'):
        _tool().main([str(text)])
    with pytest.raises(SystemExit, match='missing.pkl not found'):
        _tool().main([str(tmp_path / 'missing.pkl')])
    assert not (tmp_path / 'text').exists()


def test_a_split_that_is_no_dict_is_named(tmp_path):
    path = str(tmp_path / 'mosi_data.pkl')
    data = write_mosi_pickle(path, sizes=(3, 2, 2))
    data['test'] = [1, 2]
    with open(path, 'wb') as f:
        pickle.dump(data, f)
    convert_mult_pickle(path)
    assert len(CMUMOSIDataset(data_root=str(tmp_path))) == 3
    with pytest.raises(
            ValueError, match="split 'test' is a list, not a dict of arrays"):
        CMUMOSIDataset(data_root=str(tmp_path), split='test')
