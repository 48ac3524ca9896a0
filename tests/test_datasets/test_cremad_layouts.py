"""CREMADDataset on the trees CREMA-D's users have, with the shipped config
and nothing but the data root: the D&R authors' processed layout with the
16 kHz WAV files as CREMA-D ships them and the public train.csv / test.csv
only, OGM-GE's layout (frames named by frame index, AudioWAV, headerless CR
LF lists); the validation splits made in memory equal what
prepare_cremad.py writes; bad files are named with their list line."""
import argparse
import os
import os.path as osp
import shutil
import sys

import cv2
import numpy as np
import pytest
import soundfile
import soxr
from av_fixtures import (cremad_clip_names, truncate_file,
                         write_cremad_authors_tree, write_garbage,
                         write_ogm_ge_cremad_tree)
from conftest import REPO
from log_capture import captured_log
from mmengine.config import Config

from mmdr.audio import log_stft
from mmdr.datasets import CREMAD_CLASSES, SampleLoadError
from mmdr.registry import DATASETS
from mmdr.utils import register_all_modules

sys.path.insert(0, osp.join(REPO, 'tools', 'data', 'cremad'))
import prepare_cremad as prepare_tool  # noqa: E402

register_all_modules()

#: 6 actors x 6 emotions; train.csv 32, test.csv 4 (as theirs, 10 %).
CLIPS = cremad_clip_names()
CONFIG = osp.join(REPO, 'configs', 'dr_cremad.py')
CHECK_COMMAND = 'python tools/analysis/check_data.py CONFIG'


@pytest.fixture(scope='module')
def authors(tmp_path_factory):
    """The authors' layout, 16 kHz WAV files, train.csv and test.csv."""
    root = str(tmp_path_factory.mktemp('authors') / 'cremad')
    lists = write_cremad_authors_tree(root, CLIPS)
    return root, lists


@pytest.fixture(scope='module')
def ogm_ge(tmp_path_factory):
    """OGM-GE's layout: Image-01-FPS/<clip>/<frame index>.jpg, AudioWAV/."""
    root = str(tmp_path_factory.mktemp('ogm_ge') / 'cremad')
    lists = write_ogm_ge_cremad_tree(root, CLIPS)
    return root, lists


def _dataset(root, loader='test', **changes):
    """The config's data set of a loader, with only its data root set."""
    cfg = Config.fromfile(CONFIG)[f'{loader}_dataloader'].dataset
    cfg.update(data_root=root, **changes)
    return DATASETS.build(cfg)


def _clips(dataset):
    return [dataset.get_data_info(i)['clip'] for i in range(len(dataset))]


def _logged(records):
    return '\n'.join(record.getMessage() for record in records)


def _dataset_and_log(root, loader='test', **changes):
    """The data set of :func:`_dataset` and what building it logged."""
    with captured_log() as records:
        dataset = _dataset(root, loader, **changes)
    return dataset, _logged(records)


def test_authors_wavs_at_16khz_are_resampled_as_the_reference(authors):
    """The reference reads the 16 kHz WAV files with
    librosa.load(sr=22050): soxr HQ to 22,050 Hz, then 3 s tiled."""
    root, _ = authors
    dataset, log = _dataset_and_log(root)
    info = dataset.get_data_info(0)
    samples, rate = soundfile.read(info['audio_path'], dtype='float32')
    assert rate == 16000
    wave = soxr.resample(samples, 16000, 22050, quality='HQ')
    length = int(np.ceil(len(samples) * 22050 / 16000))  # librosa's fix
    wave = np.pad(wave, (0, max(0, length - len(wave))))[:length]
    wave = np.clip(np.tile(wave, 3)[:3 * 22050], -1, 1)
    expected = log_stft(wave, n_fft=512, hop_length=353)
    audio = dataset[0]['inputs']['audio'].numpy()
    assert audio.shape == (1, 257, 188)
    np.testing.assert_allclose(audio[0], expected, rtol=0, atol=1e-5)
    assert 'audio audio/<clip>.wav (16000 Hz, resampled to 22050 Hz)' in log
    # A pipeline that would not resample stops at start-up, not mid-epoch.
    cfg = Config.fromfile(CONFIG).test_dataloader.dataset
    cfg.pipeline[1].resample = False
    with pytest.raises(ValueError) as err:
        DATASETS.build(dict(cfg, data_root=root))
    assert (f'{info["audio_path"]} has a sample rate of 16000 Hz' in str(
        err.value) and 'set resample=True' in str(err.value))


def test_public_lists_validate_on_the_carve_the_tool_writes(
        authors, monkeypatch):
    """Without my_train.csv and val.csv, 'reference' trains and validates
    on the stratified carve of train.csv that prepare_cremad.py writes as
    mmdr_carve_{train,val}.csv; the test list stays test.csv."""
    root, lists = authors
    with captured_log() as records:
        sets = {loader: _dataset(root, loader) for loader in ('train', 'val')}
        sets['test'] = _dataset(root, 'test')
    clips = {k: _clips(v) for k, v in sets.items()}
    assert clips['test'] == lists['test.csv']  # test.csv, in file order
    assert sorted(clips['train'] + clips['val']) == sorted(lists['train.csv'])
    assert not set(clips['val']) & set(clips['test'])
    assert len(clips['val']) == round(0.1 * len(lists['train.csv'])) == 3
    assert ('so the \'reference\' split trains and validates on the carve: '
            'our stratified carve of train.csv (seed 0): train 29 / val 3 '
            'clips') in _logged(records)
    # The validation rows point at their lines in train.csv.
    assert sets['val'].get_data_info(0)['ann_line'].startswith(
        osp.join(root, 'train.csv') + ', line ')
    # What the preparation tool writes from the same lists.
    written = _tool_lists(root)
    assert clips['train'] == written['mmdr_carve_train.csv']
    assert clips['val'] == written['mmdr_carve_val.csv']
    # The 'carve' split is the same; 'speaker' too, from the clip names.
    for loader in ('train', 'val'):
        assert _clips(_dataset(root, loader, split='carve')) == clips[loader]
    for loader in ('train', 'val', 'test'):
        speaker = _clips(_dataset(root, loader, split='speaker'))
        assert speaker == written[f'mmdr_speaker_{loader}.csv']
    # A data root relative to the working folder, as users type it.
    monkeypatch.chdir(osp.dirname(root))
    assert _clips(_dataset(osp.basename(root), 'val')) == clips['val']
    assert _clips(_dataset(osp.basename(root), 'test')) == clips['test']
    actors = [{c.split('_')[0]
               for c in written[f'mmdr_speaker_{r}.csv']}
              for r in ('train', 'val', 'test')]
    assert [len(a) for a in actors] == [4, 1, 1]


def _tool_lists(root):
    """The lists prepare_cremad.py makes from the authors' files of
    ``root`` (every clip prepared), clips only."""
    classes = tuple(CREMAD_CLASSES)
    authors = {
        name: prepare_tool.read_list(osp.join(root, name), classes)
        for name in ('train.csv', 'test.csv')
    }
    args = argparse.Namespace(seed=0, speaker_split=(73, 9, 9))
    val_size = int(round(0.1 * len(authors['train.csv'])))  # no val.csv
    lists, _ = prepare_tool.make_lists(args, list(CLIPS), authors, val_size,
                                       {clip: 3
                                        for clip in CLIPS})
    return {name: [c for c, _ in rows] for name, rows in lists.items()}


def test_skip_lists(authors, tmp_path):
    """No skip list is needed; by default (skip_list=None) the preparation's
    skipped.txt and check_data.py's unreadable.txt are read where they
    exist; an explicit skip_list names exactly the files read, each of
    which must exist."""
    root = str(tmp_path / 'cremad')
    shutil.copytree(authors[0], root)
    full = len(_dataset(root))
    test = _clips(_dataset(root))
    with open(osp.join(root, 'skipped.txt'), 'w') as f:
        f.write(f'# written by prepare_cremad.py\n{test[0]}  # truncated\n')
    assert _clips(_dataset(root)) == test[1:]
    with open(osp.join(root, 'unreadable.txt'), 'w') as f:
        f.write(f'{test[1]}  # not a JPEG file\n')
    dataset, log = _dataset_and_log(root)
    assert _clips(dataset) == test[2:]
    assert f'2 of the {full} clips of {osp.join(root, "test.csv")}' in log
    assert osp.join(root, 'unreadable.txt') in log
    assert osp.join(root, 'skipped.txt') in log
    # Named: exactly those files, one or several.
    ours = tmp_path / 'mine.txt'
    ours.write_text(f'{test[2]}\n')
    assert _clips(_dataset(root, skip_list=str(ours))) == (test[:2] + test[3:])
    assert _clips(_dataset(root, skip_list=['skipped.txt',
                                            str(ours)])) == (
                                                test[1:2] + test[3:])
    assert _clips(_dataset(root, skip_list=[])) == test
    with pytest.raises(FileNotFoundError, match='skip_list .*nowhere.txt'):
        _dataset(root, skip_list='nowhere.txt')


def test_ogm_ge_layout_is_read_in_frame_index_order(ogm_ge):
    root, lists = ogm_ge
    dataset, log = _dataset_and_log(root)
    assert ('frames Image-01-FPS/<clip>/*, read in name order (00000.jpg '
            '00030.jpg 00060.jpg ...') in log
    assert 'audio AudioWAV/<clip>.wav (16000 Hz, resampled to 22050 Hz)' in (
        log)
    assert _clips(dataset) == lists['test.csv']
    info = dataset.get_data_info(0)
    names = sorted(os.listdir(info['frame_dir']))
    assert info['total_frames'] == len(names)
    assert [info['filename_tmpl'].format(k)
            for k in range(1,
                           len(names) + 1)] == names
    # mmaction2's SampleFrames and RawFrameDecode read them unchanged:
    # frame k (from 1) is the k-th name.
    sample_frames, decode = dataset.pipeline.transforms[0].transforms[:2]
    sampled = decode(sample_frames(dict(info)))
    assert len(sampled['frame_inds']) == 2
    for image, index in zip(sampled['imgs'], sampled['frame_inds']):
        name = names[index - 1]
        expected = cv2.imread(osp.join(info['frame_dir'], name))[..., ::-1]
        assert np.array_equal(image, expected)
    assert tuple(dataset[0]['inputs']['visual'].shape) == (2, 3, 224, 224)


def test_ogm_ge_lists_are_checked_like_the_authors(ogm_ge, tmp_path):
    """A label that contradicts the clip's name, in a headerless CR LF
    list, stops the data set naming file and line."""
    root = str(tmp_path / 'cremad')
    shutil.copytree(ogm_ge[0], root)
    with open(osp.join(root, 'test.csv'), 'rb') as f:
        lines = f.read().split(b'\r\n')
    clip = lines[1].split(b',')[0].decode()
    wrong = 'HAP' if clip.split('_')[2] != 'HAP' else 'SAD'
    lines[1] = f'{clip},{wrong}'.encode()
    with open(osp.join(root, 'test.csv'), 'wb') as f:
        f.write(b'\r\n'.join(lines))
    with pytest.raises(ValueError) as err:
        _dataset(root)
    assert (f"test.csv, line 2 ('{clip},{wrong}'): clip {clip!r} does not "
            f'match label {wrong!r}') in str(err.value)


def test_explicit_arguments_win(ogm_ge, authors, tmp_path):
    root, _ = ogm_ge
    # The authors' frames under another name, given explicitly.
    dataset, log = _dataset_and_log(
        root,
        data_prefix=dict(visual=osp.join(authors[0], 'visual')),
        filename_tmpl='frame_{:05d}.jpg',
        audio_suffix='.wav')
    assert dataset.get_data_info(0)['filename_tmpl'] == 'frame_{:05d}.jpg'
    assert '(given: data_prefix.visual, filename_tmpl, audio_suffix)' in log
    # Numbered naming given where the frames are named by index: refused.
    with pytest.raises(
            ValueError,
            match=r'holds 0 frames named '
            r'frame_\{:05d\}.jpg, fewer than min_frames=1'):
        _dataset(root, filename_tmpl='frame_{:05d}.jpg')


def test_features_the_pipeline_cannot_read_stop_at_start_up(tmp_path):
    """The authors' .pt filterbanks with the waveform config: the config
    that reads them is named."""
    root = tmp_path / 'cremad'
    write_cremad_authors_tree(str(root), CLIPS[:6], test_share=0.5)
    for wav in (root / 'audio').iterdir():
        wav.rename(wav.with_suffix('.pt'))
    with pytest.raises(ValueError) as err:
        _dataset(str(root))
    assert ('.pt is the audio of the first clips, which the pipeline '
            '(LoadWaveform) cannot read' in str(err.value)
            and 'configs/_base_/datasets/cremad_fbank.py' in str(err.value))


# ------------------------------------------------------------ bad files


@pytest.fixture
def broken(authors, tmp_path):
    root = str(tmp_path / 'cremad')
    shutil.copytree(authors[0], root)
    return root


def test_truncated_wav_is_named_at_start_up(broken):
    test = _dataset(broken)
    clip = test.get_data_info(1)
    truncate_file(clip['audio_path'])
    with pytest.raises(FileNotFoundError) as err:
        _dataset(broken)
    message = str(err.value)
    assert (f"{clip['ann_line']}: {clip['audio_path']} is truncated WAV: its "
            'header declares') in message
    assert osp.join(broken, 'test.csv') + ", line " in clip['ann_line']
    assert CHECK_COMMAND in message


def test_corrupt_wav_is_named_when_loaded(broken):
    test = _dataset(broken)
    clip = test.get_data_info(0)
    write_garbage(clip['audio_path'])
    dataset = _dataset(broken)  # a valid-looking name passes the start-up
    with pytest.raises(SampleLoadError) as err:
        dataset[0]
    message = str(err.value)
    assert (f"sample 0 ({clip['clip']}, from {clip['ann_line']})" in message
            and f"unreadable: {clip['audio_path']} (" in message
            and CHECK_COMMAND in message)


def test_corrupt_jpeg_read_only_by_the_diagnosis_is_named(broken):
    """Training draws frames 1 and 2 of a 3-frame clip; D&R's diagnosis
    reads the training set with the validation pipeline: frame 3."""
    train = _dataset(broken, 'train')
    index = next(
        i for i in range(len(train))
        if train.get_data_info(i)['total_frames'] == 3)
    info = train.get_data_info(index)
    frame = osp.join(info['frame_dir'], 'frame_00003.jpg')
    truncate_file(frame, keep=0.5)
    train = _dataset(broken, 'train')
    assert tuple(train[index]['inputs']['visual'].shape) == (2, 3, 224, 224)
    # As DRHook builds it: the training list, the validation pipeline.
    cfg = Config.fromfile(CONFIG)
    diagnosed = DATASETS.build(
        dict(
            cfg.train_dataloader.dataset,
            data_root=broken,
            pipeline=cfg.val_dataloader.dataset.pipeline,
            test_mode=True))
    with pytest.raises(SampleLoadError) as err:
        diagnosed[index]
    message = str(err.value)
    assert (f"({info['clip']}, from {info['ann_line']})" in message
            and f'unreadable: {frame} (truncated JPEG)' in message
            and CHECK_COMMAND in message)


def test_empty_lists_are_refused(broken):
    with open(osp.join(broken, 'test.csv'), 'w', newline='') as f:
        f.write('name,label\r\n')
    with pytest.raises(ValueError, match=r'test.csv lists no clip'):
        _dataset(broken)
    os.remove(osp.join(broken, 'test.csv'))
    with pytest.raises(FileNotFoundError) as err:
        _dataset(broken)
    assert ('test.csv not found' in str(err.value)
            and "train.csv and test.csv of the D&R or OGM-GE repository"
            in str(err.value))
    # Only one of the authors' my_train.csv and val.csv: refused, as
    # mixing it with a carve could put a clip on both sides.
    shutil.copy(osp.join(broken, 'train.csv'), osp.join(broken, 'val.csv'))
    with pytest.raises(
            FileNotFoundError, match='holds val.csv but not '
            'my_train.csv'):
        _dataset(broken, 'train')
