"""tools/data/avdigits/prepare_avdigits.py on a tiny ``--per-class`` set."""
import json
import os
import os.path as osp
import subprocess
import sys
import wave

import cv2
import numpy as np
import pytest
import soundfile
from sklearn.datasets import load_digits

from mmdr.utils.file_hash import sha256_file

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'data', 'avdigits', 'prepare_avdigits.py')


def _prepare(out, *extra):
    cmd = [sys.executable, TOOL, '--out', str(out), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)


def _digests(folder):
    digests = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = osp.join(root, name)
            digests[osp.relpath(path, folder)] = sha256_file(path)
    return digests


def _read_split(folder, name):
    with open(osp.join(folder, f'{name}.txt')) as f:
        return [line.split() for line in f]


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    """Two runs with the same seed, with one and with two workers."""
    base = tmp_path_factory.mktemp('avdigits')
    out_a, out_b = base / 'a', base / 'b'
    for out, workers in ((out_a, '1'), (out_b, '2')):
        result = _prepare(out, '--per-class', '3', '--workers', workers)
        assert result.returncode == 0, result.stderr
    return str(out_a), str(out_b)


def test_same_seed_same_bytes(generated):
    out_a, out_b = generated
    digests = _digests(out_a)
    assert digests == _digests(out_b)  # whatever the number of workers
    assert len(digests) == 30 + 30 + 4  # PNG, WAV, 3 splits, split_info


def test_file_formats(generated):
    out = generated[0]
    for line in _read_split(out, 'train'):
        visual, audio, _ = line
        with wave.open(osp.join(out, audio)) as f:
            assert f.getnchannels() == 1
            assert f.getsampwidth() == 2
            assert f.getframerate() == 22050
            assert f.getcomptype() == 'NONE'
            assert f.getnframes() > 0.2 * 22050  # a word and its padding
        info = soundfile.info(osp.join(out, audio))
        assert (info.format, info.subtype) == ('WAV', 'PCM_16')
        img = cv2.imread(osp.join(out, visual), cv2.IMREAD_UNCHANGED)
        assert img.shape == (8, 8) and img.dtype == np.uint8


def test_splits_are_stratified_and_paired(generated):
    out = generated[0]
    labels = load_digits().target
    seen = []
    for name in ('train', 'val', 'test'):
        lines = _read_split(out, name)
        # 3 samples a class: one in each split.
        assert sorted(int(label) for _, _, label in lines) == list(range(10))
        for visual, audio, label in lines:
            idx = int(visual[len('visual/'):-len('.png')])
            assert visual == f'visual/{idx:05d}.png'
            assert audio == f'audio/{idx:05d}.wav'  # paired with its image
            assert labels[idx] == int(label)
            seen.append(idx)
    # Disjoint and complete: the first three digits of every class.
    expected = [np.flatnonzero(labels == c)[:3] for c in range(10)]
    assert sorted(seen) == sorted(np.concatenate(expected).tolist())
    info = json.load(open(osp.join(out, 'split_info.json')))
    assert info['seed'] == 0 and info['per_class'] == 3
    assert info['sizes'] == dict(train=10, val=10, test=10)
    assert info['audio']['sample_rate'] == 22050
    assert info['audio']['snr_db'] == [-6.0, 6.0]
    assert 'en-gb-scotland' in info['audio']['languages']


def test_never_overwrites_a_different_folder(generated):
    out_a, out_b = generated
    before = _digests(out_b)
    again = _prepare(out_b, '--per-class', '3')
    assert again.returncode == 0 and 'nothing to do' in again.stdout

    other = _prepare(out_b, '--per-class', '2')
    assert other.returncode != 0 and '--overwrite' in other.stderr
    assert _digests(out_b) == before

    forced = _prepare(out_b, '--per-class', '2', '--overwrite')
    assert forced.returncode == 0, forced.stderr
    after = _digests(out_b)
    # The clips of the larger set are gone, the others are unchanged: a
    # sample's files do not depend on which other samples were made.
    assert len(after) == 20 + 20 + 4
    for name, digest in after.items():
        if name.startswith(('visual/', 'audio/')):
            assert before[name] == digest
