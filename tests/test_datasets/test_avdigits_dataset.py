import os.path as osp
import re
import shutil
import wave

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmdr.datasets import AVDigitsDataset, SampleLoadError
from mmdr.registry import DATASETS
from mmdr.utils import register_all_modules

register_all_modules()

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SR = 22050


def _write_sample(root, idx, label):
    """Write one sample as the generator does: 8x8 PNG and 16-bit WAV."""
    rng = np.random.default_rng(idx)
    img = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    assert cv2.imwrite(osp.join(root, 'visual', f'{idx:05d}.png'), img)
    t = np.arange(int(SR * 0.4)) / SR
    clip = 0.3 * np.sin(2 * np.pi * (300 + 100 * label) * t)
    with wave.open(osp.join(root, 'audio', f'{idx:05d}.wav'), 'wb') as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SR)
        f.writeframes(np.rint(clip * 32767).astype('<i2').tobytes())
    return img


@pytest.fixture
def data_root(tmp_path):
    root = tmp_path / 'avdigits'
    (root / 'visual').mkdir(parents=True)
    (root / 'audio').mkdir()
    lines = []
    for idx in range(6):
        label = (idx * 3) % 10
        _write_sample(str(root), idx, label)
        lines.append(f'visual/{idx:05d}.png audio/{idx:05d}.wav {label}\n')
    (root / 'train.txt').write_text(''.join(lines[:4]) + '\n')
    (root / 'test.txt').write_text(''.join(lines[4:]))
    return str(root)


def _pipeline():
    # The pipeline of the data set config, so the config is tested too.
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets', 'avdigits.py'))
    return cfg.train_dataloader.dataset.pipeline


def test_loads_and_packs(data_root):
    dataset = DATASETS.build(
        dict(
            type='AVDigitsDataset',
            data_root=data_root,
            ann_file='train.txt',
            pipeline=_pipeline()))
    assert len(dataset) == 4  # the blank last line is skipped
    assert dataset.modalities == ('audio', 'visual')
    info = dataset.get_data_info(1)
    assert info['img_path'] == osp.join(data_root, 'visual', '00001.png')
    assert info['audio_path'] == osp.join(data_root, 'audio', '00001.wav')
    assert info['label'] == 3 and info['sample_idx'] == 1
    assert info['modalities'] == ('audio', 'visual')

    packed = dataset[1]
    audio, visual = packed['inputs']['audio'], packed['inputs']['visual']
    assert audio.shape == (1, 257, 63) and audio.dtype == torch.float32
    assert visual.shape == (1, 8, 8) and visual.dtype == torch.float32
    img = cv2.imread(info['img_path'], cv2.IMREAD_UNCHANGED)
    np.testing.assert_allclose(visual[0].numpy(), img / 255.0, rtol=1e-6)
    assert packed['data_samples'].gt_labels.item.tolist() == [3]
    assert packed['data_samples'].metainfo['sample_idx'] == 1


def _write_ann(root, text):
    with open(osp.join(root, 'bad.txt'), 'w') as f:
        f.write(text)
    return 'bad.txt'


def test_missing_data_root_names_the_prepare_command(tmp_path):
    missing = str(tmp_path / 'nowhere')
    with pytest.raises(
            FileNotFoundError,
            match=r'nowhere.* does not exist.*'
            r'prepare_avdigits.py --out .*nowhere'):
        AVDigitsDataset(ann_file='train.txt', data_root=missing)


def test_missing_ann_file(data_root):
    with pytest.raises(
            FileNotFoundError, match='val.txt not found.*prepare_avdigits.py'):
        AVDigitsDataset(ann_file='val.txt', data_root=data_root)


@pytest.mark.parametrize('line, match', [
    ('visual/00000.png 0', r'expected "<visual relpath> '
     r'<audio relpath> <label>"'),
    ('visual/00000.png audio/00000.wav seven', 'the label must be an integer'),
    ('visual/00000.png audio/00000.wav 10',
     r'unknown label 10; the classes are 0..9'),
    ('visual/00000.png audio/00000.wav -1', 'unknown label -1'),
])
def test_malformed_lines(data_root, line, match):
    ann = _write_ann(data_root,
                     f'visual/00001.png audio/00001.wav 3\n{line}\n')
    # The message names the file, the line number and the line itself.
    with pytest.raises(ValueError, match=r'bad\.txt, line 2 \(.*\): ' + match):
        AVDigitsDataset(ann_file=ann, data_root=data_root)


def test_missing_file(data_root):
    ann = _write_ann(data_root, 'visual/00001.png audio/00099.wav 3\n')
    with pytest.raises(
            FileNotFoundError,
            match=r'bad.txt, line 1 .*audio/00099.wav is missing'):
        AVDigitsDataset(ann_file=ann, data_root=data_root)


def test_empty_split(data_root):
    ann = _write_ann(data_root, '\n')
    with pytest.raises(ValueError, match='lists no sample'):
        AVDigitsDataset(ann_file=ann, data_root=data_root)


def test_truncated_wav_names_the_file(avdigits_root, tmp_path):
    # A copy: the session fixture is shared and must stay intact.
    root = shutil.copytree(avdigits_root, str(tmp_path / 'avdigits'))
    dataset = DATASETS.build(
        dict(
            type='AVDigitsDataset',
            data_root=root,
            ann_file='train.txt',
            pipeline=_pipeline()))
    path = dataset.get_data_info(0)['audio_path']
    with wave.open(path, 'rb') as f:
        frames = f.getnframes()
    # Cut the data, keep the header: it still promises every frame.
    with open(path, 'r+b') as f:
        f.truncate(44 + frames)  # half of the 16-bit samples
    # The data set names the sample and the file (SampleLoadError), the
    # reader's own message is kept.
    with pytest.raises(
            SampleLoadError,
            match=rf'{re.escape(path)} is truncated: its header declares '
            rf'{2 * frames} bytes of audio data, the file holds {frames}'):
        dataset[0]
    assert dataset[1]['inputs']['audio'].shape == (1, 257, 63)
