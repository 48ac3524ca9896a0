"""tools/data/kinetics_sounds/prepare_kinetics_sounds.py on tiny clips.

``mmdr.testing.av_clips`` writes Kinetics-400 style MP4 files (H.264 +
AAC) and their annotation CSV: 3 Kinetics-Sounds classes x (3 train + 1
val) clips, the first without an audio track, and one clip of another
class. The tool's ``main`` runs in this process with one worker (the
parallel path and the command line are tested on CREMA-D, which shares
them).
"""
import csv
import json
import os
import os.path as osp
import re
import shutil
import sys

import numpy as np
import pytest
import torch
from conftest import REPO

from mmdr.audio.frontends import kaldi_fbank
from mmdr.audio.io import read_audio
from mmdr.datasets.kinetics_sounds_dataset import KINETICS_SOUNDS_CLASSES
from mmdr.testing.av_clips import (KS_FPS, kinetics_name, truncate_file,
                                   write_garbage, write_kinetics_clips,
                                   write_media)
from mmdr.utils.file_hash import sha256_file

sys.path.insert(0, osp.join(REPO, 'tools', 'data', 'kinetics_sounds'))
import prepare_kinetics_sounds as tool  # noqa: E402

LISTS = ('mmdr_train.txt', 'mmdr_test.txt', 'mmdr_carve_train.txt',
         'mmdr_carve_val.txt')


def _rows(path):
    with open(path) as f:
        return [line.split(',') for line in f.read().splitlines()]


def _skipped(out):
    with open(osp.join(out, 'skipped.txt')) as f:
        lines = [line.rstrip('\n') for line in f if not line.startswith('#')]
    return dict(line.split('  # ', 1) for line in lines)


def _run(capsys, base, *extra, annotations=('ann.csv', )):
    status = tool.main([
        '--videos',
        str(base / 'videos'), '--annotations',
        *[str(base / a) for a in annotations], '--out',
        str(base / 'out'), '--workers', '1', *extra
    ])
    return status, capsys.readouterr().out


@pytest.fixture(scope='module')
def ks(tmp_path_factory):
    """Clips, annotations and the tree prepared with ``--audio both``."""
    base = tmp_path_factory.mktemp('ks')
    info = write_kinetics_clips(str(base / 'videos'), str(base / 'ann.csv'))
    status = tool.main([
        '--videos',
        str(base / 'videos'), '--annotations',
        str(base / 'ann.csv'), '--out',
        str(base / 'out'), '--workers', '1', '--audio', 'both'
    ])
    assert status == 0
    return base, info


def test_frames_and_audio(ks):
    base, info = ks
    out = str(base / 'out')
    prepared = [n for n in info['clips'] if n != info['no_audio']]
    assert len(prepared) == 11
    for name in prepared:
        seconds = info['seconds'][name]
        count = (int(round(seconds * KS_FPS)) - 1) // KS_FPS + 1
        assert count == 4  # 3 to 4 s at 1 fps
        assert sorted(os.listdir(osp.join(out, 'visual', name))) == [
            f'frame_{k:05d}.jpg' for k in range(1, count + 1)
        ]
        samples, rate = read_audio(osp.join(out, 'audio', name + '.wav'))
        assert rate == 16000
        # The AAC track at 16 kHz, cut to its declared duration (within 1
        # ms of what was encoded: the last frame's padding, 46 ms, is gone).
        assert abs(samples.shape[0] - seconds * 16000) < 16
        assert np.abs(samples).max() > 0.1
        fbank = torch.load(osp.join(out, 'audio', name + '.pt'))
        assert tuple(fbank.shape) == (1024, 128)
        assert fbank.dtype == torch.float32
        assert torch.equal(fbank,
                           torch.from_numpy(kaldi_fbank(samples, 16000)))


def test_lists_and_skipped(ks):
    base, info = ks
    out = base / 'out'
    rows = {name: _rows(out / name) for name in LISTS}
    prepared = {
        n: v
        for n, v in info['clips'].items() if n != info['no_audio']
    }
    for split, name in (('train', 'mmdr_train.txt'), ('val', 'mmdr_test.txt')):
        expected = sorted(n for n, v in prepared.items() if v[1] == split)
        assert [r[0] for r in rows[name]] == expected
        for clip, frames, label in rows[name]:
            assert frames == '4'  # 1-fps frames written (duration, rounded up)
            assert int(label) == KINETICS_SOUNDS_CLASSES.index(
                prepared[clip][0])
    # 'playing_drums' in the CSV is 'playing drums'.
    assert any(v[0] == 'playing drums' for v in prepared.values())
    assert sorted(rows['mmdr_carve_train.txt'] +
                  rows['mmdr_carve_val.txt']) == rows['mmdr_train.txt']
    assert len(rows['mmdr_carve_val.txt']) == 1  # 10% of 8, rounded
    # The clip without an audio track: named, skipped, nothing written.
    assert _skipped(out) == {
        info['no_audio']: f'{info["no_audio"]}.mp4: no audio track'
    }
    assert not osp.exists(out / 'visual' / info['no_audio'])
    assert not osp.exists(out / 'visual' / info['other'])  # not a KS class
    with open(out / 'stat.txt') as f:
        assert tuple(f.read().splitlines()) == KINETICS_SOUNDS_CLASSES
    meta = json.load(open(out / 'mmdr_kinetics_sounds_prepare.json'))
    assert meta['clips'] == dict(
        annotated=12,
        train_val=12,
        missing=0,
        prepared=11,
        skipped=1,
        failed=0)
    assert meta['skipped'] == [
        dict(clip=info['no_audio'], reason=_skipped(out)[info['no_audio']])
    ]
    for name in LISTS:
        assert meta['lists'][name]['sha256'] == sha256_file(out / name)


def test_bad_clips_and_authors_list(ks, tmp_path, capsys):
    base = tmp_path
    shutil.copytree(ks[0], base, dirs_exist_ok=True)
    info = ks[1]
    videos = base / 'videos' / 'playing drums'  # a per-class folder
    names = [kinetics_name(f'bad-{i}_x', 10, 20) for i in range(5)]
    short, cut_index, cut_data, garbage, missing = names
    write_media(str(videos / f'{short}.mp4'), 1.5, fps=KS_FPS)
    write_media(str(videos / f'{cut_index}.mp4'), 3.5, fps=KS_FPS)
    truncate_file(str(videos / f'{cut_index}.mp4'), 0.7)  # moov at the end
    write_media(
        str(videos / f'{cut_data}.mp4'), 3.5, fps=KS_FPS, faststart=True)
    truncate_file(str(videos / f'{cut_data}.mp4'), 0.7)  # mdat cut
    write_garbage(str(videos / f'{garbage}.mp4'))
    with open(base / 'more.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(
            ['label', 'youtube_id', 'time_start', 'time_end', 'split'])
        for name in names:
            writer.writerow(['playing drums', name[:-14], 10, 20, 'train'])
    # The authors' my_train.txt: our training clips, an unknown one, one
    # with another label.
    train = sorted(n for n, v in info['clips'].items() if v[1] == 'train')
    authors = [(n, KINETICS_SOUNDS_CLASSES.index(info['clips'][n][0]))
               for n in train] + [('unknown_000001_000011', 3)]
    authors[1] = (authors[1][0], (authors[1][1] + 1) % 31)
    with open(base / 'out' / 'my_train.txt', 'w') as f:
        f.write(''.join(f'{n},10,{label}\n' for n, label in authors))
    digest = sha256_file(base / 'out' / 'my_train.txt')

    status, out = _run(
        capsys, base, '--audio', 'both', annotations=('ann.csv', 'more.csv'))
    assert status == 0
    assert 'Plan: 16 clips: 11 already done, 5 to prepare, 0 to redo' in out
    skipped = _skipped(base / 'out')
    assert set(skipped) == set(names) | {info['no_audio']}
    assert skipped[short].startswith('2 frame(s) at 1 fps: at least 3')
    for cut in (cut_index, cut_data):  # FFmpeg would decode up to the cut
        assert re.match(
            r"\S+\.mp4: truncated: the file has \d+ bytes, its 'mdat' box "
            r'at byte \d+ declares \d+', skipped[cut])
    assert 'cannot be opened' in skipped[garbage]
    assert skipped[missing] == 'missing: no video file under --videos'
    assert 'Summary: 17 train/val clips annotated, 11 prepared, 6 skipped' \
        in out and 'WARNING: 6 clip(s) skipped' in out
    # The carve splits the authors' list; what was not prepared is left out.
    meta = json.load(open(base / 'out' / 'mmdr_kinetics_sounds_prepare.json'))
    carve = meta['carve']
    assert carve['source'] == 'my_train.txt' and carve['val_size'] == 1
    assert carve['left_out'] == sorted(
        [info['no_audio'], 'unknown_000001_000011'])
    assert carve['label_mismatches'] == [authors[1][0]]
    assert 'WARNING: 1 clip(s) of my_train.txt have another label' in out
    carved = [
        r[0] for n in ('mmdr_carve_train.txt', 'mmdr_carve_val.txt')
        for r in _rows(base / 'out' / n)
    ]
    assert sorted(carved) == sorted(set(train) - {info['no_audio']})
    assert meta['authors_files']['my_train.txt']['not_prepared'] == \
        carve['left_out']
    assert sha256_file(base / 'out' / 'my_train.txt') == digest

    status, out = _run(
        capsys,
        base,
        '--audio',
        'both',
        '--strict',
        annotations=('ann.csv', 'more.csv'))
    assert status == 1 and 'Exit status 1 (--strict)' in out


def test_rerun_and_dry_run(ks, tmp_path, capsys):
    base = tmp_path
    shutil.copytree(ks[0], base, dirs_exist_ok=True)
    tree = {
        osp.join(d, n): sha256_file(osp.join(d, n))
        for d, _, names in os.walk(base / 'out')
        for n in names
    }
    status, out = _run(capsys, base, '--audio', 'both')
    assert status == 0
    assert 'Plan: 12 clips: 11 already done, 1 to prepare' in out
    assert tree == {
        osp.join(d, n): sha256_file(osp.join(d, n))
        for d, _, names in os.walk(base / 'out')
        for n in names
    }
    shutil.rmtree(base / 'out')
    status, out = _run(capsys, base, '--dry-run')
    assert status == 0 and not osp.exists(base / 'out')
    assert 'Plan: 12 clips: 0 already done, 12 to prepare' in out
    assert re.search(r'Disk estimate: [\d.]+ GB for 12 clips', out)
    assert re.search(r'mmdr_train.txt +9 clips', out)


def test_names_and_annotations(tmp_path):
    assert tool.parse_name('--4-0ihtnBU_000058_000068') == ('--4-0ihtnBU', 58,
                                                            68)
    assert tool.parse_name('a_b-c_000001_000011') == ('a_b-c', 1, 11)
    with pytest.raises(ValueError):
        tool.parse_name('abc_58_68')
    assert tool.normalise_label(' "Playing_bass  guitar" ') == \
        'playing bass guitar'
    path = tmp_path / 'a.csv'
    path.write_text('label,youtube_id,time_start,time_end,split\n'
                    'tapping pen,abc,1,11,train\n'
                    'bowling,abc,1,11,train\n')
    with pytest.raises(
            SystemExit,
            match=r'a.csv, line 3: clip '
            r"abc_000001_000011 is 'bowling' \(train\), .*a.csv, "
            r"line 2 says 'tapping pen'"):
        tool.read_annotations([str(path)], KINETICS_SOUNDS_CLASSES)
    path.write_text('label,youtube_id,split\n')
    with pytest.raises(SystemExit, match='no column'):
        tool.read_annotations([str(path)], KINETICS_SOUNDS_CLASSES)
