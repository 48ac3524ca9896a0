"""KineticsSoundsDataset reads the split lists of this line of work
(``<name>,<n>,<label>``) and the prepared layout, and fails at start-up on
bad lists, naming file and line."""
import os
import os.path as osp

import pytest
from conftest import REPO
from mmengine.config import Config
from prepared_clips import write_prepared_clips

from mmdr.datasets import KINETICS_SOUNDS_CLASSES
from mmdr.registry import DATASETS
from mmdr.utils import register_all_modules

register_all_modules()

# Names as Kinetics downloaders write them: the id may hold '_' and '-'.
CLIPS = {
    '--4-0ihtnBU_000058_000068': 3,
    '-00nar1nEPc_000033_000043': 4,
    'a_b-c_000001_000011': 3,
}


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ks'))
    write_prepared_clips(root, CLIPS, sample_rate=16000, seconds=3.0)
    with open(osp.join(root, 'skipped.txt'), 'w') as f:
        f.write('# none\n')
    names = sorted(CLIPS)
    for name, rows in (('mmdr_carve_train.txt', [
        (names[0], 4), (names[1], 30)
    ]), ('mmdr_carve_val.txt', [(names[2], 0)]),
                       ('my_test.txt', [(names[1], 30), (names[2], 0)])):
        with open(osp.join(root, name), 'w') as f:
            f.writelines(f'{clip},10,{label}\n' for clip, label in rows)
    return root


def _build(root, **kwargs):
    return DATASETS.build(
        dict(type='KineticsSoundsDataset', data_root=root, **kwargs))


def test_reads_the_lists_of_this_line_of_work(root):
    assert len(KINETICS_SOUNDS_CLASSES) == 31
    train = _build(root)
    assert [(d['clip'], d['label'])
            for d in train] == [('--4-0ihtnBU_000058_000068', 4),
                                ('-00nar1nEPc_000033_000043', 30)]
    assert train.get_data_info(1)['total_frames'] == 4
    assert [d['clip']
            for d in _build(root, subset='val')] == ['a_b-c_000001_000011']
    assert len(_build(root, subset='test')) == 2
    assert _build(root).metainfo['classes'][4] == 'dribbling basketball'


@pytest.mark.parametrize('row, match', [
    ('--4-0ihtnBU_000058_000068,4', '2 columns'),
    ('--4-0ihtnBU_000058_000068,10,31', 'unknown label 31'),
    ('--4-0ihtnBU_000058_000068,10,drums', 'must be an integer'),
])
def test_bad_rows_fail_naming_file_and_line(root, tmp_path, row, match):
    ann = tmp_path / 'bad.txt'
    ann.write_text('a_b-c_000001_000011,10,1\n' + row + '\n')
    with pytest.raises(ValueError, match=match) as err:
        _build(root, ann_file=str(ann))
    assert f'{ann}, line 2' in str(err.value)


def test_missing_clip_names_the_prepare_command(root, tmp_path):
    ann = tmp_path / 'list.txt'
    ann.write_text('zzz_000000_000010,10,1\n')
    with pytest.raises(FileNotFoundError) as err:
        _build(root, ann_file=str(ann))
    assert osp.join(root, 'visual', 'zzz_000000_000010') + ' is missing' in (
        str(err.value))
    assert 'prepare_kinetics_sounds.py' in str(err.value)


def test_config_pipelines_give_the_reference_shapes(root):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'dr_kinetics_sounds.py'))
    for loader in ('train', 'test'):
        dataset_cfg = cfg[f'{loader}_dataloader'].dataset
        dataset_cfg.update(data_root=root)
        inputs = DATASETS.build(dataset_cfg)[0]['inputs']
        # Three frames; the 1,024 x 128 filterbank.
        assert tuple(inputs['visual'].shape) == (3, 3, 224, 224)
        assert tuple(inputs['audio'].shape) == (1, 1024, 128)


def test_skip_list_leaves_clips_out(root, tmp_path):
    ann = tmp_path / 'list.txt'
    ann.write_text('gone_000000_000010,10,1\na_b-c_000001_000011,10,2\n')
    skip = tmp_path / 'skipped.txt'
    skip.write_text('# clips left out\n'
                    'gone_000000_000010  # missing: no video file\n')
    dataset = _build(root, ann_file=str(ann), skip_list=str(skip))
    assert [d['clip'] for d in dataset] == ['a_b-c_000001_000011']
    with pytest.raises(FileNotFoundError, match='skip_list .*nowhere.txt'):
        _build(root, ann_file=str(ann), skip_list='nowhere.txt')


def _clips(dataset):
    return [dataset.get_data_info(i)['clip'] for i in range(len(dataset))]


def test_ogm_ge_lists_validate_on_the_carve_the_tool_writes(tmp_path):
    """OGM-GE's my_train.txt / my_test.txt (CR LF) with its frames and 16
    kHz WAV files, without the preparation's lists: the config trains and
    validates on the carve prepare_kinetics_sounds.py writes; clips the
    lists name but the user lacks are left out with a warning."""
    import argparse
    import sys

    from av_fixtures import write_ogm_ge_kinetics_tree
    from log_capture import captured_log
    sys.path.insert(0, osp.join(REPO, 'tools', 'data', 'kinetics_sounds'))
    import prepare_kinetics_sounds as tool

    labels = (8, 11, 29)
    clips = {
        f'k{label:02d}x{i}_{i:06d}_{i + 10:06d}':
        (label, 'train' if i < 5 else 'test')
        for label in labels
        for i in range(6)
    }
    gone = sorted(clips)[0]  # a listed video no longer online
    root = str(tmp_path / 'ks')
    write_ogm_ge_kinetics_tree(root, clips, absent=[gone])
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'dr_kinetics_sounds.py'))
    sets = {}
    with captured_log() as records:
        for loader in ('train', 'val', 'test'):
            dataset_cfg = cfg[f'{loader}_dataloader'].dataset
            sets[loader] = DATASETS.build(dict(dataset_cfg, data_root=root))
    log = '\n'.join(record.getMessage() for record in records)
    assert ('mmdr_carve_train.txt and mmdr_carve_val.txt are not in '
            f'{root}: our stratified carve of my_train.txt (seed 0): train '
            '13 / val 2 clips (10 %)') in log
    assert (f'1 of the 13 clips of {osp.join(root, "my_train.txt")} have '
            f"neither frames nor audio in {root} and are left out") in log
    assert (f'layout of {root}: frames visual/<clip>/frame_{{:05d}}.jpg '
            '(numbered from 1); audio audio/<clip>.wav (16000 Hz)') in log
    # The carve the tool writes from the same list, of the clips there.
    with_files = {n: 3 for n in clips if n != gone}
    lists, _ = tool.make_lists(
        argparse.Namespace(seed=0, val_size=None), {
            n: (lab, 'train' if s == 'train' else 'val')
            for n, (lab, s) in clips.items()
        }, ('my_train.txt', tool.read_list(osp.join(root, 'my_train.txt'))),
        with_files)
    for loader in ('train', 'val'):
        assert _clips(sets[loader]) == [
            name for name, _, _ in lists[f'mmdr_carve_{loader}.txt']
        ]
    assert _clips(sets['test']) == sorted(n for n, (_, s) in clips.items()
                                          if s == 'test')
    assert sets['val'].get_data_info(0)['ann_line'].startswith(
        osp.join(root, 'my_train.txt') + ', line ')
    inputs = sets['val'][0]['inputs']
    assert tuple(inputs['visual'].shape) == (3, 3, 224, 224)
    assert tuple(inputs['audio'].shape) == (1, 1024, 128)
    # A clip with frames but no audio is not "gone": it stops the start.
    os.remove(osp.join(root, 'audio', sorted(with_files)[0] + '.wav'))
    with pytest.raises(FileNotFoundError, match='.wav is missing'):
        DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=root))


def test_ogm_ge_spectrogram_files(tmp_path):
    """OGM-GE's audio_spec/<name>.npy filterbanks are read by the features
    config; its pickles are refused at start-up, naming the file."""
    import numpy as np
    import torch
    from av_fixtures import write_ogm_ge_kinetics_tree

    clips = {f'c{i}_{i:06d}_{i + 10:06d}': (i % 2, 'test') for i in range(2)}
    root = tmp_path / 'ks'
    write_ogm_ge_kinetics_tree(str(root), clips)
    (root / 'audio').rename(root / 'audio_spec')
    for i, name in enumerate(sorted(clips)):
        os.remove(root / 'audio_spec' / f'{name}.wav')
        fbank = np.full((1024, 128), i, np.float32)
        np.save(root / 'audio_spec' / f'{name}.npy', fbank)
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets',
                 'kinetics_sounds_fbank.py')).test_dataloader.dataset
    dataset = DATASETS.build(dict(cfg, data_root=str(root)))
    info = dataset.get_data_info(1)
    assert info['audio_path'] == str(root / 'audio_spec' /
                                     f'{sorted(clips)[1]}.npy')
    assert torch.equal(dataset[1]['inputs']['audio'], torch.ones(1, 1024, 128))
    for name in clips:
        npy = root / 'audio_spec' / f'{name}.npy'
        npy.rename(npy.with_suffix('.pkl'))
    with pytest.raises(ValueError) as err:
        DATASETS.build(dict(cfg, data_root=str(root)))
    assert (f'{root}/audio_spec/{sorted(clips)[0]}.pkl is the audio of the '
            'first clips, which the pipeline (LoadAudioFeatureFile) cannot '
            'read' in str(err.value) and 'save them as .npy' in str(err.value))


def test_mmaction2_audio_loader_is_refused_naming_ours(root):
    """A config naming LoadAudioFeature, our loader's former name, gets
    mmaction2's transform of that name; the data set refuses it."""
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets',
                 'kinetics_sounds_fbank.py')).test_dataloader.dataset
    pipeline = [
        dict(t, type='LoadAudioFeature')
        if t['type'] == 'LoadAudioFeatureFile' else t for t in cfg.pipeline
    ]
    with pytest.raises(
            ValueError,
            match="^KineticsSoundsDataset: the pipeline's LoadAudioFeature is "
            "mmaction2's transform, which writes 'audios'.*formerly "
            'LoadAudioFeature, is LoadAudioFeatureFile$'):
        DATASETS.build(dict(cfg, data_root=root, pipeline=pipeline))
