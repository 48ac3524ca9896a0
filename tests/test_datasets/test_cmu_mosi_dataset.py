import copy
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

from mmdr.datasets.cmu_mosi_conversion import convert_mult_pickle
from mmdr.datasets.cmu_mosi_dataset import CMUMOSEIDataset, CMUMOSIDataset
from mmdr.registry import DATASETS
from mmdr.testing.cmu_mosi import write_converted_mosi, write_mosi_pickle
from mmdr.utils import register_all_modules

register_all_modules()

PACK = [
    dict(type='PackMultiModalInputs', meta_keys=('sample_idx', 'sentiment'))
]


@pytest.fixture(scope='module')
def mosi_file(tmp_path_factory):
    """A MOSI-like pickle (audio 74, vision 35) and its arrays."""
    root = tmp_path_factory.mktemp('mosi')
    data = write_converted_mosi(str(root / 'mosi_data.pkl'))
    return str(root), data


def _write(folder, data, name='mosi_data.pkl'):
    """Write ``data`` as a pickle in ``folder`` and convert it."""
    os.makedirs(folder, exist_ok=True)
    path = osp.join(folder, name)
    with open(path, 'wb') as f:
        pickle.dump(data, f, protocol=4)
    convert_mult_pickle(path)
    return str(folder)


def _edited(mosi_file, tmp_path, edit):
    """A copy of the fixture's data, changed by ``edit``, in a new file."""
    data = copy.deepcopy(mosi_file[1])
    edit(data)
    return _write(tmp_path / 'edited', data)


def test_splits_widths_and_arrays_come_from_the_file(tmp_path):
    widths = dict(text=300, audio=5, vision=20)
    data = write_converted_mosi(
        str(tmp_path / 'mosi_data.pkl'), sizes=(9, 4, 6), widths=widths)
    for split, num in (('train', 9), ('valid', 4), ('test', 6)):
        dataset = CMUMOSIDataset(data_root=str(tmp_path), split=split)
        assert len(dataset) == num
        assert dataset.modalities == ('text', 'audio', 'vision')
        for row in range(num):
            info = dataset.get_data_info(row)
            assert info['row'] == row
            assert info['modalities'] == ('text', 'audio', 'vision')
            for modality, width in widths.items():
                assert info[modality].shape == (50, width)
                assert info[modality].dtype == np.float32
                np.testing.assert_array_equal(info[modality],
                                              data[split][modality][row])
            score = float(data[split]['labels'][row, 0, 0])
            assert info['sentiment'] == pytest.approx(score)
            assert info['utterance_id'] == '_'.join(data[split]['id'][row])


def test_generated_padding_is_leading_all_zero_rows(mosi_file):
    root, data = mosi_file
    info = CMUMOSIDataset(data_root=root).get_data_info(0)
    for modality in ('text', 'audio', 'vision'):
        zero_rows = ~info[modality].any(axis=1)
        pad = int(zero_rows.argmin())  # the first real step
        assert zero_rows[:pad].all() and not zero_rows[pad:].any()
    # Every modality of an utterance has the same length.
    lengths = {(~info[m].any(axis=1)).sum() for m in ('text', 'audio')}
    assert len(lengths) == 1


@pytest.mark.parametrize('task, labels, classes',
                         [('binary', [0, 0, 0, 1, 1, 1, 1, 1, 1],
                           ('negative', 'non-negative')),
                          ('regression', [0, 0, 0, 1, 1, 1, 1, 1, 1],
                           ('negative', 'non-negative')),
                          ('seven', [0, 1, 3, 3, 3, 3, 5, 6, 6],
                           ('-3', '-2', '-1', '0', '1', '2', '3'))])
def test_labels_of_each_task(mosi_file, tmp_path, task, labels, classes):
    scores = [-3, -2.5, -0.4, 0, 0.2, 0.5, 1.5, 2.6, 3]

    def edit(data):
        for key in ('text', 'audio', 'vision', 'id'):
            data['train'][key] = data['train'][key][:9]
        data['train']['labels'] = np.array(
            scores, dtype=np.float32).reshape(9, 1, 1)

    root = _edited(mosi_file, tmp_path, edit)
    dataset = CMUMOSIDataset(data_root=root, task=task)
    assert dataset.metainfo['classes'] == classes
    infos = [dataset.get_data_info(i) for i in range(9)]
    # -2.5 and 0.5 round half to even (to -2 and 0), as MulT's np.round.
    assert [info['label'] for info in infos] == labels
    assert [dataset.get_cat_ids(i) for i in range(9)] == [[c] for c in labels]
    assert [info['sentiment'] for info in infos] == pytest.approx(scores)


def test_the_validation_split_is_valid(mosi_file):
    root, data = mosi_file
    dataset = CMUMOSIDataset(data_root=root, split='valid', test_mode=True)
    assert len(dataset) == len(data['valid']['labels'])
    with pytest.raises(ValueError, match="the validation split is 'valid'"):
        CMUMOSIDataset(data_root=root, split='val')


def test_a_packed_sample_has_tensors_and_the_score(mosi_file):
    root, data = mosi_file
    dataset = DATASETS.build(
        dict(
            type='CMUMOSIDataset',
            data_root=root,
            split='test',
            modalities=('vision', 'text'),
            pipeline=PACK))
    packed = dataset[2]
    assert list(packed['inputs']) == ['vision', 'text']
    assert packed['inputs']['vision'].shape == (50, 35)
    assert packed['inputs']['text'].shape == (50, 300)
    assert packed['inputs']['text'].dtype == torch.float32
    torch.testing.assert_close(packed['inputs']['vision'],
                               torch.from_numpy(data['test']['vision'][2]))
    sample = packed['data_samples']
    score = float(data['test']['labels'][2, 0, 0])
    assert sample.metainfo['sentiment'] == pytest.approx(score)
    assert sample.metainfo['sample_idx'] == 2
    assert sample.gt_labels.item.tolist() == [int(score >= 0)]


def test_samples_are_copies_of_read_only_mapped_arrays(mosi_file):
    root, _ = mosi_file
    dataset = CMUMOSIDataset(data_root=root)
    source = dataset._split.features['audio']
    assert isinstance(source, np.memmap)
    assert source.flags.c_contiguous and not source.flags.writeable
    info = dataset.get_data_info(0)
    assert not isinstance(info['audio'], np.memmap)
    info['audio'][:] = 7  # a transform writing in place
    assert not (dataset.get_data_info(0)['audio'] == 7).all()
    # Subsets (D&R's capped diagnosis set) and spawned workers map the
    # same file again instead of copying its arrays.
    subset = dataset.get_subset([3, 5])
    copied = subset._split.features['audio']
    assert isinstance(copied, np.memmap) and copied is not source
    assert copied.filename == source.filename
    assert subset.get_data_info(1)['row'] == 5
    assert len(pickle.dumps(dataset._split)) < 1000


def test_the_pickle_is_never_read_by_the_data_sets(mosi_file, monkeypatch):
    root, data = mosi_file

    def refuse(*args, **kwargs):
        raise AssertionError('the pickle was read')

    monkeypatch.setattr(pickle, 'load', refuse)
    for split in ('train', 'valid', 'test'):
        dataset = CMUMOSIDataset(data_root=root, split=split, task='seven')
        assert len(dataset) == len(data[split]['labels'])


def test_nonfinite_audio_is_an_error_or_zeroed(tmp_path, mm_log):
    data = write_converted_mosi(
        str(tmp_path / 'mosi_data.pkl'), inf_in_audio=5)
    root = str(tmp_path)
    with pytest.raises(ValueError) as err:
        CMUMOSIDataset(data_root=root, split='train')
    msg = str(err.value)
    assert "split 'train'" in msg and "'audio': 5" in msg
    assert "nonfinite='zero'" in msg
    # Other splits and modalities are clean.
    CMUMOSIDataset(data_root=root, split='valid')
    CMUMOSIDataset(data_root=root, modalities=('text', 'vision'))

    dataset = CMUMOSIDataset(data_root=root, nonfinite='zero')
    messages = [r.getMessage() for r in mm_log]
    assert any("split 'train', modality 'audio': replaced 5 non-finite" in m
               for m in messages), messages
    source = data['train']['audio']
    bad = ~np.isfinite(source)
    for row in np.unique(np.nonzero(bad)[0]):
        audio = dataset.get_data_info(int(row))['audio']
        assert np.isfinite(audio).all()
        assert (audio[bad[row]] == 0).all()
        np.testing.assert_array_equal(audio[~bad[row]], source[row][~bad[row]])


@pytest.mark.parametrize('ids, expected',
                         [(np.array([[b'vidA', b'3']] * 40), 'vidA_3'),
                          (np.array([['vidB[7]']] * 40), 'vidB[7]'),
                          (None, None)])
def test_ids_in_any_layout_or_none(mosi_file, tmp_path, ids, expected):

    def edit(data):
        if ids is None:
            del data['train']['id']
        else:
            data['train']['id'] = ids

    root = _edited(mosi_file, tmp_path, edit)
    info = CMUMOSIDataset(data_root=root).get_data_info(0)
    assert info.get('utterance_id') == expected


def test_float64_and_unpadded_files(tmp_path):
    write_converted_mosi(
        str(tmp_path / 'mosi_data.pkl'),
        sizes=(5, 3, 3),
        pad=False,
        with_id=False,
        dtype=np.float64)
    info = CMUMOSIDataset(data_root=str(tmp_path)).get_data_info(0)
    assert info['text'].dtype == np.float32 and info['text'].any(1).all()


def _bad_labels_shape(data):
    data['train']['labels'] = np.zeros((40, 1, 7), np.float32)


def _label_out_of_range(data):
    data['train']['labels'][7, 0, 0] = 3.5


def _lengths_disagree(data):
    data['train']['audio'] = data['train']['audio'][:39]


@pytest.mark.parametrize('edit, parts', [
    (lambda d: d.pop('train'), ["has no split 'train'", "['valid', 'test']"]),
    (lambda d: d['train'].pop('vision'), [
        "split 'train' has no 'vision'", 'text (40, 50, 300)',
        'labels (40, 1, 1)'
    ]),
    (_lengths_disagree,
     ['sample counts disagree', 'audio (39, 50, 74)', 'text (40, 50, 300)']),
    (_bad_labels_shape,
     ['one sentiment score per utterance', 'labels (40, 1, 7)']),
    (_label_out_of_range, ['1 labels lie outside [-3, 3]', '3.5 at row 7']),
    (lambda d: d['train'].update(labels='positive'),
     ['one sentiment score per utterance', "labels str of 8"]),
    (lambda d: d['train'].update(audio=d['train']['audio'][:, :, 0]),
     ["'audio' must be a numeric (N, T, d) array", 'audio (40, 50)']),
])
def test_bad_input_is_named_before_training(mosi_file, tmp_path, edit, parts):
    root = _edited(mosi_file, tmp_path, edit)
    with pytest.raises(ValueError) as err:
        CMUMOSIDataset(data_root=root, split='train')
    for part in parts:
        assert part in str(err.value)


def test_a_missing_modality_may_be_left_out(mosi_file, tmp_path):
    root = _edited(mosi_file, tmp_path, lambda d: d['train'].pop('vision'))
    dataset = CMUMOSIDataset(data_root=root, modalities=['text', 'audio'])
    assert set(dataset.get_data_info(0)) >= {'text', 'audio'}
    assert 'vision' not in dataset.get_data_info(0)


def test_missing_files_name_the_pickle_and_the_command(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        CMUMOSIDataset(data_root=str(tmp_path / 'nowhere'))
    assert 'nowhere' in str(err.value) and 'mosi_data.pkl' in str(err.value)
    with pytest.raises(FileNotFoundError) as err:
        CMUMOSEIDataset(data_root=str(tmp_path))
    pickle_path = tmp_path / 'mosei_senti_data.pkl'
    assert str(err.value) == (
        f'CMUMOSEIDataset: {tmp_path}/mosei_senti_data not found. Prepare '
        'the data set: put the word-aligned mosei_senti_data.pkl of the '
        'Multimodal Transformer (MulT) / MultiBench releases in '
        f'{tmp_path} and convert it once: python '
        f'tools/data/cmu_mosi/convert_mult_pickle.py {pickle_path}')


def test_a_folder_with_only_the_pickle_names_the_conversion(tmp_path):
    pickle_path = tmp_path / 'mosi_data.pkl'
    write_mosi_pickle(str(pickle_path), sizes=(4, 2, 2))
    command = ('python tools/data/cmu_mosi/convert_mult_pickle.py '
               f'{pickle_path}')
    for ann_file in ('mosi_data', 'mosi_data.pkl'):
        with pytest.raises(FileNotFoundError) as err:
            CMUMOSIDataset(data_root=str(tmp_path), ann_file=ann_file)
        assert str(err.value) == (
            f'CMUMOSIDataset: {tmp_path}/mosi_data holds no converted '
            f'arrays (meta.json); {pickle_path} is there: convert it once '
            f'with {command}')
    convert_mult_pickle(str(pickle_path))
    # The pickle's name reads the folder converted from it.
    dataset = CMUMOSIDataset(data_root=str(tmp_path), ann_file='mosi_data.pkl')
    assert dataset._split.folder == str(tmp_path / 'mosi_data')


def test_a_changed_pickle_is_named_with_the_command(mosi_file, tmp_path,
                                                    mm_log):
    root = _write(tmp_path, mosi_file[1])
    pickle_path = tmp_path / 'mosi_data.pkl'
    stat = os.stat(pickle_path)
    os.utime(pickle_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    CMUMOSIDataset(data_root=root)
    messages = [r.getMessage() for r in mm_log]
    assert any(f'if the pickle changed, convert it again: python '
               f'tools/data/cmu_mosi/convert_mult_pickle.py {pickle_path}' in m
               for m in messages), messages


@pytest.mark.parametrize('kwargs, match', [
    (dict(task='five'), "task='five'"),
    (dict(modalities=('text', 'video')), "'video'"),
    (dict(modalities=('text', 'text')), 'distinct'),
    (dict(nonfinite='drop'), "nonfinite='drop'"),
])
def test_bad_arguments(mosi_file, kwargs, match):
    with pytest.raises(ValueError, match=match):
        CMUMOSIDataset(data_root=mosi_file[0], **kwargs)


def test_mosei_reads_the_same_format(mosi_file, tmp_path):
    _write(tmp_path, mosi_file[1], name='mosei_senti_data.pkl')
    dataset = DATASETS.build(
        dict(type='CMUMOSEIDataset', data_root=str(tmp_path), task='seven'))
    assert len(dataset) == 40 and len(dataset.metainfo['classes']) == 7
    assert CMUMOSEIDataset.__init__.__defaults__[:2] == (
        'mosei_senti_data', 'data/mosei')
