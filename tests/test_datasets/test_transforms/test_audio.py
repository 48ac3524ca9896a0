import wave

import numpy as np
import pytest
import soundfile
from scipy.signal import stft

from mmdr.datasets.transforms import LoadWaveform, LogSpectrogram
from mmdr.registry import TRANSFORMS

SR = 22050


def _write_wav(path, samples, sample_rate=SR, channels=1):
    """Write 16-bit PCM WAV; ``samples`` in [-1, 1], (L, ) or (L, C)."""
    data = np.rint(np.asarray(samples) * 32767).astype('<i2')
    with wave.open(str(path), 'wb') as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(data.tobytes())
    return str(path)


def _sine(freq, seconds, amp=0.5):
    t = np.arange(int(round(seconds * SR))) / SR
    return amp * np.sin(2 * np.pi * freq * t)


def _spectrogram(path, **kwargs):
    results = LoadWaveform()(dict(audio_path=path))
    return LogSpectrogram(**kwargs)(results)


def test_sine_peaks_at_its_bin(tmp_path):
    bin_idx = 40  # 40 * 22050 / 512 = 1722.66 Hz
    path = _write_wav(tmp_path / 'sine.wav', _sine(bin_idx * SR / 512, 1.0))
    results = _spectrogram(path)
    spec = results['audio']
    # OGM-GE's CREMA-D convention: n_fft 512, hop 353, 1 s at 22,050 Hz.
    assert spec.shape == (1, 257, 63) and spec.dtype == np.float32
    assert results['waveform'].shape == (SR, )
    assert results['sample_rate'] == SR
    # Every frame fully inside the signal peaks at the sine's bin.
    assert (spec[0, :, 1:-1].argmax(axis=0) == bin_idx).all()
    # Hann window, periodic: a pure bin-centred tone gives |X| = A * N / 4.
    assert np.exp(spec[0, bin_idx, 30]) == pytest.approx(
        0.5 * 512 / 4, rel=1e-3)


def test_matches_scipy_stft(tmp_path):
    rng = np.random.default_rng(0)
    path = _write_wav(tmp_path / 'noise.wav', rng.uniform(-0.5, 0.5, SR))
    results = _spectrogram(path)
    wave_ = results['waveform'].astype(np.float64)
    # scipy scales by 1 / sum(window); zero padding of n_fft // 2 each side.
    _, _, ref = stft(
        wave_,
        window='hann',
        nperseg=512,
        noverlap=512 - 353,
        boundary='zeros',
        padded=False)
    ref = np.log(np.abs(ref) * np.hanning(513)[:-1].sum() + 1e-7)
    assert ref.shape == (257, 63)
    np.testing.assert_allclose(results['audio'][0], ref, atol=1e-3)


def test_silence_is_log_eps(tmp_path):
    path = _write_wav(tmp_path / 'silence.wav', np.zeros(SR // 2))
    spec = _spectrogram(path, eps=1e-7)['audio']
    np.testing.assert_allclose(spec, np.log(np.float32(1e-7)), rtol=1e-6)


def test_short_clip_is_tiled_and_long_clip_cut(tmp_path):
    short = _sine(441, 0.3)
    path = _write_wav(tmp_path / 'short.wav', short)
    wave_ = LoadWaveform(duration=1.0)(dict(audio_path=path))['waveform']
    n = len(short)
    assert wave_.shape == (SR, ) and wave_.dtype == np.float32
    np.testing.assert_array_equal(wave_[n:2 * n], wave_[:n])
    np.testing.assert_allclose(wave_[:n], short, atol=1 / 32767)

    long = _sine(441, 1.5)
    path = _write_wav(tmp_path / 'long.wav', long)
    wave_ = LoadWaveform(duration=0.5)(dict(audio_path=path))['waveform']
    assert wave_.shape == (SR // 2, )
    np.testing.assert_allclose(wave_, long[:SR // 2], atol=1 / 32767)


def test_stereo_is_mixed_down(tmp_path):
    left, right = _sine(441, 0.5, 0.4), np.zeros(SR // 2)
    path = _write_wav(
        tmp_path / 'stereo.wav', np.stack([left, right], axis=1), channels=2)
    wave_ = LoadWaveform(duration=0.5)(dict(audio_path=path))['waveform']
    np.testing.assert_allclose(wave_, left / 2, atol=1 / 32767)


def test_custom_keys_and_registry(tmp_path):
    path = _write_wav(tmp_path / 'a.wav', _sine(441, 0.2))
    load = TRANSFORMS.build(
        dict(type='LoadWaveform', path_key='wav', out_key='x', duration=0.5))
    spec = TRANSFORMS.build(
        dict(
            type='LogSpectrogram',
            in_key='x',
            out_key='y',
            n_fft=256,
            hop_length=128))
    results = spec(load(dict(wav=path)))
    assert results['y'].shape == (1, 129, 1 + (SR // 2) // 128)
    assert 'LoadWaveform' in repr(load) and 'n_fft=256' in repr(spec)


def test_errors_name_the_file(tmp_path):
    load = LoadWaveform()
    missing = str(tmp_path / 'missing.wav')
    with pytest.raises(OSError, match='cannot read audio file .*missing.wav'):
        load(dict(audio_path=missing))
    corrupt = tmp_path / 'corrupt.wav'
    corrupt.write_bytes(b'RIFF\x00\x00\x00\x00WAVEjunk' + bytes(100))
    with pytest.raises(OSError, match='cannot read audio file .*corrupt.wav'):
        load(dict(audio_path=str(corrupt)))
    other_rate = _write_wav(tmp_path / 'sr16k.wav', np.zeros(1600), 16000)
    with pytest.raises(
            ValueError,
            match=r'sr16k.wav has a sample rate of '
            r'16000 Hz, expected 22050'):
        load(dict(audio_path=other_rate))
    empty = _write_wav(tmp_path / 'empty.wav', np.zeros(0))
    with pytest.raises(ValueError, match='empty.wav holds no sample'):
        load(dict(audio_path=empty))
    with pytest.raises(ValueError, match='1-D waveform'):
        LogSpectrogram()(dict(waveform=np.zeros((2, 100))))
    with pytest.raises(ValueError, match='positive'):
        LoadWaveform(duration=0)
    with pytest.raises(ValueError, match='positive'):
        LogSpectrogram(hop_length=0)


def test_reads_what_soundfile_writes(tmp_path):
    # Float WAV and FLAC go through the same loader.
    path = str(tmp_path / 'a.flac')
    soundfile.write(path, _sine(441, 0.25), SR, subtype='PCM_16')
    wave_ = LoadWaveform(duration=0.25)(dict(audio_path=path))['waveform']
    np.testing.assert_allclose(wave_, _sine(441, 0.25), atol=1e-4)
