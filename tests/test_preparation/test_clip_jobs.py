"""The resumable clip jobs of the audio-visual preparation tools: what a
killed atomic write leaves is cleaned with the clip, and nothing else."""
import glob
import os

from mmdr.preparation.clip_jobs import (ClipJob, Settings, marker_path,
                                        marker_state, remove_outputs,
                                        temp_pattern)
from mmdr.utils.atomic_write import open_atomic


def _touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(b'x')


def test_temp_pattern_matches_the_atomic_writes_temporary_file(tmp_path):
    """The glob finds the file open_atomic writes to, by its own naming."""
    path = str(tmp_path / 'audio' / 'clip_1.pt')
    os.makedirs(tmp_path / 'audio')
    with open_atomic(path, 'wb') as f:
        found = glob.glob(temp_pattern(path))
        assert len(found) == 1
        assert os.path.samestat(os.fstat(f.fileno()), os.stat(found[0]))
    assert glob.glob(temp_pattern(path)) == []


def test_remove_outputs_removes_a_killed_writes_files_only(tmp_path):
    out = str(tmp_path)
    audio = tmp_path / 'audio'
    ours = [
        audio / 'a.wav', audio / '.a.wav.123.0f0f.tmp',
        audio / '.a.pt.123.0f0f.tmp', audio / '.a.fbank-source.wav.1.ab.tmp',
        tmp_path / 'visual' / 'a' / 'frame_00001.jpg'
    ]
    theirs = [
        audio / 'a_b.wav', audio / '.a_b.pt.123.0f0f.tmp',
        tmp_path / 'visual' / 'a_b' / 'frame_00001.jpg'
    ]
    for path in ours + theirs:
        _touch(str(path))
    _touch(marker_path(out, 'a'))
    job = ClipJob('a', str(tmp_path / 'a.flv'), None, out, Settings(16000), 1)
    assert marker_state(job)[0] == 'redo'  # marker of other settings

    remove_outputs(out, 'a')
    assert [p for p in ours if p.exists()] == []
    assert not os.path.exists(marker_path(out, 'a'))
    assert all(p.exists() for p in theirs)
    assert marker_state(job) == ('new', '')
