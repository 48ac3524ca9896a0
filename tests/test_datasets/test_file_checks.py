"""mmdr.datasets.file_checks: the cheap checks and the full decoding of the
files real data sets hold (JPEG and PNG frames, WAV, video, features)."""
import os
import os.path as osp

import cv2
import numpy as np
import torch
from av_fixtures import truncate_file, write_garbage, write_media, write_wav16

from mmdr.datasets.file_checks import (decode_problem, describe_files,
                                       file_problem, find_file_problems,
                                       sample_files, unreadable_files)


def _jpeg(path, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), image)
    return str(path)


def test_file_problem_missing_empty_truncated_wav(tmp_path):
    good = str(tmp_path / 'good.wav')
    write_wav16(good, 0.5)
    assert file_problem(good) is None
    assert file_problem(str(tmp_path / 'absent.jpg')) == 'missing'
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    assert file_problem(str(empty)) == 'empty (0 bytes)'
    cut = str(tmp_path / 'cut.wav')
    write_wav16(cut, 0.5)
    declared = osp.getsize(cut) - 44
    with open(cut, 'r+b') as f:
        f.truncate(44 + 100)
    assert file_problem(cut) == (
        f'truncated WAV: its header declares {declared} bytes of audio data,'
        ' the file holds 100')
    # Cheap: a JPEG cut short is not looked into here.
    jpeg = _jpeg(tmp_path / 'img.jpg')
    truncate_file(jpeg, 0.5)
    assert file_problem(jpeg) is None


def test_find_file_problems_keeps_order_and_where(tmp_path):
    entries = []
    for i in range(100):
        path = tmp_path / f'{i}.jpg'
        if i % 30 != 7:
            path.write_bytes(b'x')
        entries.append((f'list.txt, line {i + 1}', str(path)))
    # More than the threshold: threads; the result is still in order.
    found = find_file_problems(entries, num_threads=4)
    assert found == [(f'list.txt, line {i + 1}', str(tmp_path / f'{i}.jpg'),
                      'missing') for i in (7, 37, 67, 97)]
    assert find_file_problems(entries[:5]) == []


def test_decode_problem_images(tmp_path):
    good = _jpeg(tmp_path / 'good.jpg')
    assert decode_problem(good) is None
    png = str(tmp_path / 'good.png')
    assert cv2.imwrite(png, np.zeros((8, 8), np.uint8))
    assert decode_problem(png) is None
    cut = _jpeg(tmp_path / 'cut.jpg')
    truncate_file(cut, 0.5)
    assert decode_problem(cut) == 'truncated JPEG'
    garbage = str(tmp_path / 'garbage.jpg')
    write_garbage(garbage)
    assert decode_problem(garbage) == 'not a JPEG file'
    # Right markers, nothing decodable between them: what OpenCV refuses.
    fake = tmp_path / 'fake.jpg'
    fake.write_bytes(b'\xff\xd8' + b'\x00' * 64 + b'\xff\xd9')
    assert decode_problem(
        str(fake)) == ('cannot be decoded as an image (OpenCV)')
    bad_png = str(tmp_path / 'bad.png')
    write_garbage(bad_png)
    assert decode_problem(bad_png) == 'cannot be decoded as an image (OpenCV)'


def test_decode_problem_audio_features_and_video(tmp_path):
    wav = str(tmp_path / 'a.wav')
    write_wav16(wav, 0.5)
    assert decode_problem(wav) is None
    garbage = str(tmp_path / 'g.wav')
    write_garbage(garbage)
    problem = decode_problem(garbage)
    assert problem.startswith('cannot read audio file: ')
    npy = str(tmp_path / 'f.npy')
    np.save(npy, np.zeros((4, 3), np.float32))
    assert decode_problem(npy) is None
    truncate_file(npy, 0.5)
    assert decode_problem(npy).startswith('cannot be loaded (ValueError')
    pt = str(tmp_path / 'f.pt')
    torch.save(torch.zeros(4, 3), pt)
    assert decode_problem(pt) is None
    write_garbage(pt)
    assert decode_problem(pt).startswith('cannot be loaded (')
    video = str(tmp_path / 'v.mp4')
    write_media(video, 1.0, seed=0, audio_codec=None)
    assert decode_problem(video) is None
    write_garbage(video)
    assert decode_problem(video).startswith('cannot be decoded as a video')
    # Unknown kinds get the cheap check only.
    other = tmp_path / 'notes.txt'
    other.write_text('x')
    assert decode_problem(str(other)) is None


def test_sample_files_and_unreadable_files(tmp_path):
    frames = tmp_path / 'clip'
    frames.mkdir()
    for i in (2, 1, 3):
        _jpeg(frames / f'img_{i:05d}.jpg', seed=i)
    (frames / '.done').write_text('')  # not a frame
    wav = str(tmp_path / 'clip.wav')
    write_wav16(wav, 0.5)
    info = dict(frame_dir=str(frames), audio_path=wav, label=3, clip='clip')
    assert sample_files(
        info) == [wav] + [str(frames / f'img_{i:05d}.jpg') for i in (1, 2, 3)]
    assert unreadable_files(info) == []
    truncate_file(str(frames / 'img_00002.jpg'), 0.5)
    os.truncate(wav, 0)
    assert unreadable_files(info) == [(wav, 'empty (0 bytes)'),
                                      (str(frames / 'img_00002.jpg'),
                                       'truncated JPEG')]


def test_a_file_under_two_keys_is_checked_and_named_once(tmp_path):
    # Food-101's infos hold the image as img_path (mmcv's loader) and
    # filename (mmdr's descriptions).
    image = str(tmp_path / 'apple_pie_0.jpg')
    _jpeg(image, seed=0)
    info = dict(img_path=image, filename=image, label=0)
    assert sample_files(info) == [image]
    truncate_file(image, 0.5)
    assert unreadable_files(info) == [(image, 'truncated JPEG')]


def test_describe_files_names_the_first_few():
    found = [(f'f{i}.jpg', 'truncated JPEG') for i in range(7)]
    assert describe_files(found[:2]) == ('f0.jpg (truncated JPEG); '
                                         'f1.jpg (truncated JPEG)')
    assert describe_files(
        found, limit=3).endswith('f2.jpg (truncated JPEG); and 4 more')
