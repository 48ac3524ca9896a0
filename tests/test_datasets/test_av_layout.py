"""mmdr/datasets/av_layout.py: the folders, frame names and audio suffix of
the layouts CREMA-D and Kinetics-Sounds users have."""
import pickle

import pytest

from mmdr.datasets import av_layout


def test_folders_are_found_by_preference(tmp_path):
    assert av_layout.frame_folder(str(tmp_path)) is None
    assert av_layout.audio_folder(str(tmp_path)) is None
    # OGM-GE's release tree: the frame folder is named by the frame rate.
    for name in ('Image-01-FPS', 'AudioWAV', 'VideoFlash'):
        (tmp_path / name).mkdir()
    assert av_layout.frame_folder(str(tmp_path)) == 'Image-01-FPS'
    assert av_layout.audio_folder(str(tmp_path)) == 'AudioWAV'
    # Prepared by mmdr in the same tree: its folders come first.
    for name in ('visual', 'audio'):
        (tmp_path / name).mkdir()
    assert av_layout.frame_folder(str(tmp_path)) == 'visual'
    assert av_layout.audio_folder(str(tmp_path)) == 'audio'
    # A file of that name is not a folder.
    (tmp_path / 'other').mkdir()
    (tmp_path / 'other' / 'audio_spec').write_text('')
    assert av_layout.audio_folder(str(tmp_path / 'other')) is None


def test_frames_in_name_order_digits_by_value(tmp_path):
    names = ['frame_10.jpg', 'frame_9.jpg', 'frame_1.jpg', 'notes.txt']
    for name in names:
        (tmp_path / name).write_bytes(b'x')
    assert av_layout.listed_frames(
        str(tmp_path)) == ['frame_1.jpg', 'frame_9.jpg', 'frame_10.jpg']
    assert sorted(['00060.jpg', '00000.jpg', '00030.jpg'],
                  key=av_layout.natural_key) == [
                      '00000.jpg', '00030.jpg', '00060.jpg'
                  ]


def test_numbered_frames():
    tmpl = 'frame_{:05d}.jpg'
    assert av_layout.is_numbered(['frame_00002.jpg', 'frame_00001.jpg'], tmpl)
    # A gap, another naming, an empty folder: not numbered 1..N.
    assert av_layout.numbered_frames(['frame_00001.jpg', 'frame_00003.jpg'],
                                     tmpl) == 1
    assert not av_layout.is_numbered(['frame_00001.jpg', 'frame_00003.jpg'],
                                     tmpl)
    assert not av_layout.is_numbered(['00000.jpg', '00030.jpg'], tmpl)
    assert not av_layout.is_numbered([], tmpl)


def test_frame_name_list_formats_like_a_template():
    names = av_layout.FrameNameList(['00000.jpg', '00030.jpg', '00060.jpg'])
    # As RawFrameDecode calls it: 1-based, numpy integers too.
    import numpy as np
    assert [names.format(i)
            for i in np.array([1, 3])] == ['00000.jpg', '00060.jpg']
    assert len(names) == 3
    with pytest.raises(IndexError, match='frame 4 of a clip with 3 frames'):
        names.format(4)
    with pytest.raises(IndexError):
        names.format(0)
    # Data sets serialise their samples.
    assert pickle.loads(pickle.dumps(names)) == names


def test_audio_suffix_among_what_the_pipeline_reads(tmp_path):
    for name in ('a.wav', 'a.pt', 'b.pkl'):
        (tmp_path / name).write_bytes(b'x')
    folder = str(tmp_path)
    assert av_layout.audio_suffix(folder, ['a'],
                                  ('.wav', '.flac')) == ('.wav',
                                                         ['a.wav', 'a.pt'])
    assert av_layout.audio_suffix(folder, ['a'], ('.pt', '.npy'))[0] == '.pt'
    # The first clip with an audio file decides; what is there is named.
    assert av_layout.audio_suffix(folder, ['none', 'b'],
                                  ('.wav', )) == (None, ['b.pkl'])
    assert av_layout.audio_suffix(folder, ['none'], ('.wav', )) == (None, [])
