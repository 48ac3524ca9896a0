"""tools/data/cremad/prepare_cremad.py on tiny CREMA-D releases.

The releases are written by ``mmdr.testing.av_clips`` (real WAV and FLV
files). One prepared tree is made through the command line with two
workers (``prepared``); the other tests call the tool's ``main`` in this
process with one worker, on small releases of their own, for speed.
"""
import json
import os
import os.path as osp
import re
import shutil
import sys
from collections import Counter

import cv2
import numpy as np
import pytest
import torch
from av_fixtures import prepare_cremad
from conftest import REPO

from mmdr.audio.frontends import kaldi_fbank
from mmdr.audio.io import read_audio
from mmdr.preparation import clip_jobs
from mmdr.preparation.media import frames_at_1fps
from mmdr.testing.av_clips import (cremad_seconds, truncate_file,
                                   write_authors_splits, write_cremad_release,
                                   write_garbage, write_media, write_wav16)
from mmdr.utils.file_hash import sha256_file

sys.path.insert(0, osp.join(REPO, 'tools', 'data', 'cremad'))
import prepare_cremad as tool  # noqa: E402

AUTHORS = ('train.csv', 'test.csv', 'my_train.csv', 'val.csv', 'stat.csv')
SPEAKER = [f'mmdr_speaker_{r}.csv' for r in ('train', 'val', 'test')]
CARVE = ['mmdr_carve_train.csv', 'mmdr_carve_val.csv']


def _tree(root, skip=('AudioWAV', 'VideoFlash', 'processedResults')):
    """Digest of every file under ``root`` but the sources."""
    files = {}
    for folder, dirs, names in os.walk(root):
        rel = osp.relpath(folder, root)
        if rel.split(os.sep)[0] in skip:
            continue
        for name in names:
            files[osp.join(rel, name)] = sha256_file(osp.join(folder, name))
    return files


def _rows(path):
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == 'name,label'
    return [tuple(line.split(',')) for line in lines[1:]]


def _skipped(root):
    with open(osp.join(root, 'skipped.txt')) as f:
        lines = [line.rstrip('\n') for line in f if not line.startswith('#')]
    return dict(line.split('  # ', 1) for line in lines)


def _frames_expected(index, fps=30):
    """1-fps frames of fixture clip ``index``: one per started second."""
    return (int(round(cremad_seconds(index) * fps)) - 1) // fps + 1


def _run(capsys, root, *extra):
    """Run the tool's main here with one worker; (status, stdout)."""
    status = tool.main(['--root', str(root), '--workers', '1', *extra])
    return status, capsys.readouterr().out


@pytest.fixture(scope='module')
def release(tmp_path_factory):
    """A tiny release: 6 actors x 6 emotions (36 clips), authors' files."""
    root = str(tmp_path_factory.mktemp('cremad') / 'cremad')
    clips = write_cremad_release(root)
    write_authors_splits(root, clips)
    return root, clips


@pytest.fixture(scope='module')
def prepared(release, tmp_path_factory):
    """``release`` prepared by the command line, --audio both, 2 workers."""
    src, clips = release
    root = str(tmp_path_factory.mktemp('prepared') / 'cremad')
    shutil.copytree(src, root)
    authors = {n: sha256_file(osp.join(root, n)) for n in AUTHORS}
    result = prepare_cremad(root, '--audio', 'both', '--workers', '2')
    assert result.returncode == 0, result.stdout + result.stderr
    return root, clips, authors, result.stdout


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    """A release of 3 actors x 4 clips with authors' files (to copy)."""
    root = str(tmp_path_factory.mktemp('small') / 'cremad')
    clips = write_cremad_release(root, actors=(1001, 1002, 1003), per_actor=4)
    write_authors_splits(root, clips, test_share=0.2)
    return root, clips


# ------------------------------------------------------------------ layout


def test_frames_and_audio(prepared):
    root, clips, _, out = prepared
    assert 'Summary: 36 clips in the table, 36 prepared, 0 skipped, 0 ' \
        'failed.' in out
    for index, clip in enumerate(clips):
        folder = osp.join(root, 'visual', clip)
        count = _frames_expected(index)
        assert count in (3, 4)  # 2.2 to 3.2 s at 1 fps
        assert sorted(os.listdir(folder)) == [
            f'frame_{k:05d}.jpg' for k in range(1, count + 1)
        ]  # frames only: the reference counts the folder's entries
        image = cv2.imread(osp.join(folder, 'frame_00001.jpg'))
        assert image.shape == (48, 64, 3)  # original size
        source = osp.join(root, 'AudioWAV', clip + '.wav')
        samples, rate = read_audio(osp.join(root, 'audio', clip + '.wav'))
        expected = read_audio(source, 22050)[0]
        assert rate == 22050 and samples.shape == expected.shape
        assert np.abs(samples - expected).max() <= 1 / 32768 + 1e-6
        fbank = torch.load(osp.join(root, 'audio', clip + '.pt'))
        assert fbank.dtype == torch.float32
        assert tuple(fbank.shape) == (1024, 128)
        assert torch.equal(
            fbank, torch.from_numpy(kaldi_fbank(read_audio(source)[0], 16000)))


def test_frames_follow_timestamps(tmp_path):
    """Frame k: the first at or after k - 1 s; a gap repeats a frame."""
    import av

    path = str(tmp_path / 'vfr.mp4')
    times = [0, 4, 15, 42]  # tenths of a second
    with av.open(path, 'w') as out:
        stream = out.add_stream('libx264', rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, 'yuv420p'
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(
                np.full((48, 64, 3), 40 * (i + 1), np.uint8), format='rgb24')
            frame.pts = t
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    levels = [int(round(f.mean() / 40)) for f in frames_at_1fps(path)]
    assert levels == [1, 3, 4, 4, 4]  # 0 s, 1.5 s, then 4.2 s for 2, 3, 4
    small = list(frames_at_1fps(path, short_side=24))
    assert small[0].shape == (24, 32, 3)


def test_lists_and_authors_files(prepared):
    root, clips, authors, out = prepared
    rows = {name: _rows(osp.join(root, name)) for name in SPEAKER + CARVE}
    actors = [{c.split('_')[0] for c, _ in rows[n]} for n in SPEAKER]
    assert [len(a) for a in actors] == [4, 1, 1]  # 73/9/9 of 6 actors
    assert not (actors[0] & actors[1] or actors[0] & actors[2]
                or actors[1] & actors[2])
    assert sorted(sum((rows[n] for n in SPEAKER), [])) == sorted(
        (c, c.split('_')[2]) for c in clips)
    for name in SPEAKER + CARVE:
        assert rows[name] == sorted(rows[name])  # sorted by name
    assert re.search(
        r'train +4 actors, +24 clips \(ANG 4, DIS 4, FEA 4, '
        r'HAP 4, NEU 4, SAD 4\): 1\d{3} 1\d{3} 1\d{3} 1\d{3}', out)
    # The carve: train.csv split, as many validation clips as val.csv.
    train = _rows(osp.join(root, 'train.csv'))
    with open(osp.join(root, 'val.csv')) as f:
        assert len(rows[CARVE[1]]) == len(f.read().splitlines()) == 4
    assert sorted(rows[CARVE[0]] + rows[CARVE[1]]) == sorted(train)
    share = Counter(label for _, label in train)
    for label, n in Counter(label for _, label in rows[CARVE[1]]).items():
        assert abs(n - 4 * share[label] / len(train)) < 1
    # The authors' files are read, never written.
    assert {n: sha256_file(osp.join(root, n)) for n in AUTHORS} == authors
    with open(osp.join(root, 'stat.csv'), 'rb') as f:
        assert f.read(3) == b'\xef\xbb\xbf'  # theirs, BOM and all
    meta = json.load(open(osp.join(root, 'mmdr_cremad_prepare.json')))
    assert meta['clips'] == dict(table=36, prepared=36, skipped=0, failed=0)
    assert meta['authors_files']['train.csv'] == dict(
        rows=len(train), not_prepared=[])
    for name in SPEAKER + CARVE:
        assert meta['lists'][name] == dict(
            rows=len(rows[name]), sha256=sha256_file(osp.join(root, name)))
    assert meta['settings']['audio'] == 'both'
    assert re.search(r'mmdr_carve_val.csv +4 clips', out)


# --------------------------------------------------- bad input, resume


def test_bad_inputs_are_skipped(small, tmp_path, capsys):
    root = shutil.copytree(small[0], tmp_path / 'cremad')
    clips = small[1]
    truncate_file(root / 'AudioWAV' / f'{clips[0]}.wav', 0.6)
    truncate_file(root / 'VideoFlash' / f'{clips[1]}.flv', 0.6)
    write_garbage(root / 'VideoFlash' / f'{clips[2]}.flv')
    write_media(
        str(root / 'VideoFlash' / f'{clips[3]}.flv'),
        0.9,
        container='flv',
        video_codec='flv',
        audio_codec='libmp3lame')
    os.remove(root / 'AudioWAV' / f'{clips[7]}.wav')
    os.remove(root / 'VideoFlash' / f'{clips[8]}.flv')
    authors = {n: sha256_file(root / n) for n in AUTHORS}

    status, out = _run(capsys, root)
    assert status == 0
    skipped = _skipped(root)
    assert set(skipped) == {clips[i] for i in (0, 1, 2, 3, 7, 8)}
    assert re.match(r'.*\.wav is truncated: its header declares',
                    skipped[clips[0]])
    assert re.match(
        r'\S+\.flv: truncated: the file has \d+ bytes, its '
        'last FLV tag', skipped[clips[1]])
    assert 'cannot be opened' in skipped[clips[2]]
    assert skipped[clips[3]].startswith('1 frame(s) at 1 fps: at least 2')
    assert skipped[clips[7]] == f'missing: AudioWAV/{clips[7]}.wav'
    assert skipped[clips[8]] == f'missing: VideoFlash/{clips[8]}.flv'
    assert 'Summary: 12 clips in the table, 6 prepared, 6 skipped, 0 ' \
        'failed.' in out
    assert 'WARNING: 6 clip(s) skipped' in out
    assert 'Exit status 0 (--strict makes it 1)' in out
    bad = set(skipped)
    for name in SPEAKER + CARVE:
        assert not {c for c, _ in _rows(root / name)} & bad
    for clip in bad:  # nothing of a skipped clip is left
        assert not osp.exists(root / 'visual' / clip)
        assert not osp.exists(root / 'audio' / f'{clip}.wav')
    meta = json.load(open(root / 'mmdr_cremad_prepare.json'))
    assert meta['clips']['skipped'] == 6
    assert {s['clip'] for s in meta['skipped']} == bad
    listed = {c for c, _ in _rows(root / 'train.csv')}
    assert meta['authors_files']['train.csv']['not_prepared'] == sorted(listed
                                                                        & bad)
    assert {n: sha256_file(root / n) for n in AUTHORS} == authors

    status, out = _run(capsys, root, '--strict')
    assert status == 1
    assert 'Plan: 10 clips: 6 already done, 4 to prepare' in out
    assert 'Exit status 1 (--strict)' in out


def test_interrupted_run_resumes_to_the_same_bytes(small, tmp_path, capsys,
                                                   monkeypatch):
    whole = shutil.copytree(small[0], tmp_path / 'whole')
    assert _run(capsys, whole, '--audio', 'both')[0] == 0

    cut = shutil.copytree(small[0], tmp_path / 'cut')
    victim = sorted(small[1])[4]
    write_frame = clip_jobs.DiskWriter.frame

    def ctrl_c_after_first_frame(writer, index, jpeg):
        """A Ctrl-C in the victim's preparation once its first frame is on
        disk (one worker: the clips are prepared in this process)."""
        write_frame(writer, index, jpeg)
        if writer.name == victim:
            raise KeyboardInterrupt

    monkeypatch.setattr(clip_jobs.DiskWriter, 'frame',
                        ctrl_c_after_first_frame)
    status, out = _run(capsys, cut, '--audio', 'both')
    assert status == 130 and 'rerun the same command to resume' in out
    assert os.listdir(cut / 'visual' / victim) == ['frame_00001.jpg']
    assert not osp.exists(clip_jobs.marker_path(str(cut), victim))
    monkeypatch.undo()
    status, out = _run(capsys, cut, '--audio', 'both')
    assert status == 0
    assert 'Plan: 12 clips: 4 already done, 7 to prepare, 1 to redo (1 ' \
        'half-written (no .done marker))' in out
    assert _tree(cut) == _tree(whole)  # every file, JSON included

    # A rerun skips everything; a changed source or setting redoes.
    write_wav16(str(cut / 'AudioWAV' / f'{victim}.wav'), 2.5, seed=99)
    stray = cut / 'visual' / sorted(small[1])[0] / 'frame_00009.jpg'
    stray.write_bytes(b'')
    status, out = _run(capsys, cut, '--audio', 'both')
    assert 'Plan: 12 clips: 10 already done, 0 to prepare, 2 to redo (1 a ' \
        'source file changed, 1 files missing or changed)' in out
    assert not stray.exists()
    status, out = _run(capsys, cut, '--audio', 'wav', '--short-side', '24')
    assert 'Plan: 12 clips: 0 already done, 0 to prepare, 12 to redo (12 ' \
        'made with other settings)' in out
    image = cv2.imread(str(cut / 'visual' / victim / 'frame_00001.jpg'))
    assert image.shape == (24, 32, 3)
    assert not osp.exists(cut / 'audio' / f'{victim}.pt')


def test_dry_run_writes_nothing(small, tmp_path, capsys):
    root = shutil.copytree(small[0], tmp_path / 'cremad')
    os.remove(root / 'VideoFlash' / f'{small[1][5]}.flv')

    def listing():
        return sorted(
            osp.relpath(osp.join(d, n), root) for d, _, names in os.walk(root)
            for n in names)

    before = listing()
    status, out = _run(capsys, root, '--dry-run', '--audio', 'both')
    assert status == 0 and listing() == before
    assert 'Dry run: nothing is written.' in out
    assert 'Plan: 11 clips: 0 already done, 11 to prepare, 0 to redo' in out
    estimate = re.search(
        r'Disk estimate: ([\d.]+) GB for 11 clips \(([\d.]+)'
        r' kB a clip, the mean of 4 sampled', out)
    # About 0.5 MB of filterbank, 0.1 MB of audio and a few frames a clip.
    assert estimate and 550 < float(estimate.group(2)) < 800
    assert re.search(r'mmdr_speaker_train.csv +[34] clips', out)
    assert f'{small[1][5]}: missing: VideoFlash/{small[1][5]}.flv' in out


def test_table_errors(small, tmp_path, capsys):
    root = shutil.copytree(small[0], tmp_path / 'cremad')
    table = root / 'processedResults' / 'summaryTable.csv'
    original = table.read_text()
    lines = original.splitlines(keepends=True)
    lines[3] = lines[3].replace('_SAD_', '_XYZ_')
    table.write_text(''.join(lines))
    with pytest.raises(
            SystemExit,
            match=r'summaryTable.csv, line 4: clip '
            r'1001_\w+_XYZ_\w+: emotion \'XYZ\' is not a CREMA-D '
            'class'):
        tool.main(['--root', str(root)])
    table.write_text(''.join(lines[:3]))  # one actor, three parts
    with pytest.raises(
            SystemExit,
            match='--speaker-split 73,9,9: cannot '
            'give each of 3 parts one of 1 actor'):
        tool.main(['--root', str(root)])
    table.write_text(original)
    (root / 'visual' / 'foreign').mkdir(parents=True)
    with pytest.raises(SystemExit, match='did not write'):
        tool.main(['--root', str(root)])


def test_trees_without_the_release_table_need_no_preparation(tmp_path):
    """The authors' processed data (or OGM-GE's frames) has no
    summaryTable.csv: the tool says to train on it as it is, and writes
    nothing there."""
    from mmdr.testing.av_clips import write_cremad_authors_tree

    root = tmp_path / 'cremad'
    write_cremad_authors_tree(
        str(root), ['1001_DFA_ANG_XX', '1002_DFA_HAP_XX'], test_share=0.5)
    before = _tree(str(root))
    with pytest.raises(SystemExit) as err:
        tool.main(['--root', str(root)])
    assert ('needs no preparation: train on it as it is (python '
            'tools/train.py configs/dr_cremad.py --data-root '
            f'{root})') in str(err.value)
    assert _tree(str(root)) == before
