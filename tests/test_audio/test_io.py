import math
import os
import struct

import numpy as np
import pytest
import soundfile

from mmdr.audio import (AudioFileError, read_audio, resample, tile_or_cut,
                        write_wav)


def _signal(sample_rate, seconds):
    """Tones, a chirp and a DC offset: no random numbers, so reproducible
    across numpy versions."""
    t = np.arange(int(round(sample_rate * seconds))) / sample_rate
    x = (0.3 * np.sin(2 * np.pi * 440 * t) +
         0.2 * np.sin(2 * np.pi * 1234.5 * t) +
         0.1 * np.sin(2 * np.pi * (100 * t + 1500 * t**2)) + 0.01)
    return x.astype(np.float32)


def _truncate(path, keep_bytes):
    with open(path, 'r+b') as f:
        f.truncate(keep_bytes)


def _riff_wav(path, pcm, data_size):
    """A 16 kHz 16-bit mono WAV whose data chunk declares ``data_size``."""
    fmt = struct.pack('<4sIHHIIHH', b'fmt ', 16, 1, 1, 16000, 32000, 2, 16)
    body = b'WAVE' + fmt + b'data' + struct.pack('<I', data_size) + pcm
    with open(path, 'wb') as f:
        f.write(b'RIFF' + struct.pack('<I', len(body)) + body)
    return str(path)


def test_write_and_read_back(tmp_path):
    x = _signal(16000, 0.5)
    path = str(tmp_path / 'a.wav')
    write_wav(path, x, 16000)
    info = soundfile.info(path)
    assert (info.format, info.subtype, info.channels,
            info.samplerate) == ('WAV', 'PCM_16', 1, 16000)
    samples, rate = read_audio(path)
    assert rate == 16000 and samples.dtype == np.float32
    assert samples.shape == x.shape
    np.testing.assert_allclose(samples, x, atol=1 / 32767)
    # Same rate asked: no resampling.
    same, _ = read_audio(path, 16000)
    np.testing.assert_array_equal(same, samples)
    assert os.listdir(tmp_path) == ['a.wav']  # no temporary file left


def test_write_clips_and_replaces(tmp_path):
    path = str(tmp_path / 'a.wav')
    write_wav(path, np.zeros(10), 8000)
    write_wav(path, np.array([2.0, -3.0, 0.5]), 8000)
    samples, rate = read_audio(path)
    assert rate == 8000
    np.testing.assert_allclose(samples, [1.0, -1.0, 0.5], atol=1 / 32767)
    with pytest.raises(ValueError, match='expected mono samples'):
        write_wav(path, np.zeros((10, 2)), 8000)
    # A failed write leaves neither a temporary file nor a changed file.
    with pytest.raises(soundfile.SoundFileError, match='SF_INFO'):
        write_wav(path, np.zeros(10), 0)
    assert os.listdir(tmp_path) == ['a.wav']
    assert read_audio(path)[0].shape == (3, )


def test_stereo_is_the_channel_mean(tmp_path):
    left = _signal(8000, 0.25)
    path = str(tmp_path / 'stereo.flac')
    soundfile.write(path, np.stack([left, -0.5 * left], 1), 8000)
    samples, _ = read_audio(path)
    np.testing.assert_allclose(samples, 0.25 * left, atol=1e-4)


def test_resample_is_librosa_soxr_hq():
    # librosa 0.11.0: librosa.resample(_signal(16000, 0.5)[:n],
    # orig_sr=16000, target_sr=22050, res_type='soxr_hq') (what
    # librosa.load(path, sr=22050) does), at indices 0, 1, 100, 5000, -1.
    x = _signal(16000, 0.5)
    y = resample(x, 16000, 22050)
    assert y.shape == (11025, ) and y.dtype == np.float32
    np.testing.assert_allclose(
        y[[0, 1, 100, 5000, -1]],
        [0.011967707, 0.11085157, -0.10490661, -0.46399224, 0.068759695],
        atol=1e-7)
    assert y.mean() == pytest.approx(0.010335737, abs=1e-8)
    # librosa fixes the length to ceil(n * 22050 / 16000).
    y = resample(x[:7999], 16000, 22050)
    assert y.shape == (11024, )
    assert y[-1] == pytest.approx(-0.020094194, abs=1e-7)
    np.testing.assert_array_equal(resample(x, 16000, 16000), x)
    with pytest.raises(ValueError, match='positive'):
        resample(x, 0, 16000)


def test_read_resamples(tmp_path):
    path = str(tmp_path / 'a.wav')
    write_wav(path, _signal(16000, 0.5), 16000)
    samples, rate = read_audio(path, 22050)
    assert rate == 22050 and samples.shape == (11025, )
    np.testing.assert_array_equal(samples,
                                  resample(read_audio(path)[0], 16000, 22050))


def test_truncated_wav_is_an_error(tmp_path):
    path = str(tmp_path / 'cut.wav')
    write_wav(path, _signal(16000, 0.5), 16000)
    _truncate(path, 44 + 2 * 3000)  # header intact, 3,000 of 8,000 frames
    # libsndfile alone would read the 3,000 frames silently.
    assert soundfile.read(path)[0].shape == (3000, )
    with pytest.raises(
            AudioFileError,
            match=r'audio file .*cut\.wav is truncated: its header declares '
            r'16000 bytes of audio data, the file holds 6000'):
        read_audio(path)


def test_truncated_flac_is_an_error(tmp_path):
    path = str(tmp_path / 'cut.flac')
    soundfile.write(path, _signal(16000, 1.0), 16000)
    _truncate(path, os.path.getsize(path) // 2)
    with pytest.raises(
            AudioFileError, match=r'cannot read audio file .*cut\.flac'):
        read_audio(path)


def test_wav_chunks_and_unknown_sizes(tmp_path):
    pcm = (np.arange(1000) % 100 * 100).astype('<i2').tobytes()
    # A streaming writer's unknown size: read to the end of the file.
    samples, rate = read_audio(
        _riff_wav(tmp_path / 'stream.wav', pcm, 0xFFFFFFFF))
    assert rate == 16000 and samples.shape == (1000, )
    # A complete file with a chunk after the data is not truncated.
    path = _riff_wav(tmp_path / 'list.wav', pcm + b'LIST' + bytes(8), 2000)
    assert read_audio(path)[0].shape == (1000, )
    with pytest.raises(AudioFileError, match='truncated'):
        read_audio(_riff_wav(tmp_path / 'short.wav', pcm, 2002))


def test_bad_files_name_the_file(tmp_path):
    with pytest.raises(
            AudioFileError, match=r'cannot read audio file .*missing\.wav'):
        read_audio(str(tmp_path / 'missing.wav'))
    corrupt = tmp_path / 'corrupt.wav'
    corrupt.write_bytes(b'RIFF\x00\x00\x00\x00WAVEjunk' + bytes(100))
    with pytest.raises(
            AudioFileError, match=r'cannot read audio file .*corrupt\.wav'):
        read_audio(str(corrupt))
    empty = str(tmp_path / 'empty.wav')
    write_wav(empty, np.zeros(0), 16000)
    with pytest.raises(
            AudioFileError, match=r'audio file .*empty\.wav holds no sample'):
        read_audio(empty)
    assert issubclass(AudioFileError, OSError)


def test_tile_or_cut():
    x = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(
        tile_or_cut(x, 12), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1])
    np.testing.assert_array_equal(tile_or_cut(x, 3), [0, 1, 2])
    np.testing.assert_array_equal(tile_or_cut(x, 5), x)
    assert tile_or_cut(x, 12).dtype == np.float32
    with pytest.raises(ValueError, match='num_samples must be >= 0'):
        tile_or_cut(x, -1)
    with pytest.raises(ValueError, match='non-empty 1-D'):
        tile_or_cut(np.zeros(0), 3)
    with pytest.raises(ValueError, match='non-empty 1-D'):
        tile_or_cut(np.zeros((2, 2)), 3)


@pytest.mark.parametrize('dtype', [np.float32, np.float64, np.int16])
def test_tile_or_cut_matches_tile_then_cut_bytewise(dtype):
    """np.resize gives the bytes of the tile-then-cut it replaced."""
    for length in (1, 2, 7, 160):
        x = np.random.default_rng(length).standard_normal(length)
        x = (x * 1000).astype(dtype)
        for num in (0, 1, length - 1, length, length + 1, 3 * length + 2,
                    1024):
            ours = tile_or_cut(x, num)
            tiled = np.tile(x, math.ceil(num / length))[:num]
            assert ours.dtype == tiled.dtype and ours.shape == (num, )
            assert ours.tobytes() == tiled.tobytes()
