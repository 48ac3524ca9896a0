import json
import os
import wave

import numpy as np
import pytest
import soundfile
import torch
from scipy.signal import stft

from mmdr.audio import AudioFileError, kaldi_fbank, log_stft, resample
from mmdr.datasets.transforms import (CachedAudioFeature, KaldiFbank,
                                      LoadAudioFeatureFile, LoadWaveform,
                                      LogSpectrogram)
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
    with pytest.raises(AudioFileError, match='empty.wav holds no sample'):
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


def test_truncated_file_is_an_error(tmp_path):
    path = _write_wav(tmp_path / 'cut.wav', _sine(441, 0.5))
    with open(path, 'r+b') as f:
        f.truncate(44 + 2 * 1000)  # the header still promises 11,025 frames
    with pytest.raises(
            AudioFileError,
            match=r'LoadWaveform: audio file .*cut\.wav is truncated'):
        LoadWaveform()(dict(audio_path=path))


def test_resample_and_whole_file(tmp_path):
    t = np.arange(8000) / 16000
    path = _write_wav(tmp_path / 'sr16k.wav',
                      0.5 * np.sin(2 * np.pi * 500 * t), 16000)
    results = LoadWaveform(
        sample_rate=22050, duration=3.0, resample=True)(
            dict(audio_path=path))
    wave_, n = results['waveform'], 11025  # 0.5 s at 22,050 Hz
    assert results['sample_rate'] == 22050 and wave_.shape == (3 * SR, )
    ref = resample(soundfile.read(path, dtype='float32')[0], 16000, SR)
    np.testing.assert_array_equal(wave_[:n], ref)
    np.testing.assert_array_equal(wave_[n:2 * n], ref)  # tiled
    # duration=None keeps the whole file, at its length.
    whole = LoadWaveform(
        sample_rate=16000, duration=None)(dict(audio_path=path))['waveform']
    assert whole.shape == (8000, )
    assert 'resample=True' in repr(LoadWaveform(resample=True))


def test_log_spectrogram_pad_mode(tmp_path):
    wave_ = _sine(441, 3.0).astype(np.float32)
    for pad_mode in ('constant', 'reflect'):
        spec = LogSpectrogram(pad_mode=pad_mode)(dict(waveform=wave_))
        assert spec['audio'].shape == (1, 257, 188)
        np.testing.assert_array_equal(spec['audio'][0],
                                      log_stft(wave_, pad_mode=pad_mode))
    const = LogSpectrogram()(dict(waveform=wave_))['audio']
    refl = LogSpectrogram(pad_mode='reflect')(dict(waveform=wave_))['audio']
    # Only the frames that reach over the ends differ.
    np.testing.assert_array_equal(const[..., 1:-1], refl[..., 1:-1])
    assert not np.allclose(const[..., 0], refl[..., 0])
    assert "pad_mode='reflect'" in repr(LogSpectrogram(pad_mode='reflect'))


def test_kaldi_fbank_transform(tmp_path):
    t = np.arange(16000 * 2) / 16000
    path = _write_wav(tmp_path / 'a.wav', 0.3 * np.sin(2 * np.pi * 700 * t),
                      16000)
    pipeline = [
        TRANSFORMS.build(
            dict(type='LoadWaveform', sample_rate=16000, duration=None)),
        TRANSFORMS.build(dict(type='KaldiFbank', target_length=300))
    ]
    results = dict(audio_path=path)
    for transform in pipeline:
        results = transform(results)
    fbank = results['audio']
    assert fbank.shape == (1, 300, 128) and fbank.dtype == np.float32
    np.testing.assert_array_equal(
        fbank[0], kaldi_fbank(results['waveform'], 16000, target_length=300))
    small = KaldiFbank(
        num_mel_bins=40, target_length=None, in_key='w', out_key='f')(
            dict(w=results['waveform'], sample_rate=16000))
    assert small['f'].shape == (1, 198, 40)  # 1 + (32000 - 400) // 160
    with pytest.raises(KeyError, match='no "sample_rate"'):
        KaldiFbank()(dict(waveform=results['waveform']))
    with pytest.raises(ValueError, match='must be positive'):
        KaldiFbank(target_length=0)
    assert 'num_mel_bins=128' in repr(KaldiFbank())


def test_load_audio_feature_file(tmp_path):
    feature = np.arange(12, dtype=np.float64).reshape(4, 3)
    torch.save(torch.from_numpy(feature).float(), tmp_path / 'a.pt')
    np.save(tmp_path / 'b.npy', feature)
    load = TRANSFORMS.build(dict(type='LoadAudioFeatureFile'))
    for name in ('a.pt', 'b.npy'):
        out = load(dict(audio_path=str(tmp_path / name)))['audio']
        assert out.shape == (1, 4, 3) and out.dtype == np.float32
        np.testing.assert_array_equal(out[0], feature)
    out = LoadAudioFeatureFile(
        path_key='p', out_key='x')(
            dict(p=str(tmp_path / 'a.pt')))
    assert out['x'].shape == (1, 4, 3)


def test_load_audio_feature_file_names_not_mmaction2s_transform():
    """mmaction2's LoadAudioFeature (key 'audios') keeps its name; ours is
    another type under another name."""
    from mmaction.datasets.transforms import \
        LoadAudioFeature as MMActionLoadAudioFeature
    assert TRANSFORMS.get('LoadAudioFeatureFile') is LoadAudioFeatureFile
    assert TRANSFORMS.get('LoadAudioFeature') is MMActionLoadAudioFeature


def test_load_audio_feature_file_errors(tmp_path):
    load = LoadAudioFeatureFile()

    def check(name, error, match):
        with pytest.raises(error, match=match):
            load(dict(audio_path=str(tmp_path / name)))

    torch.save(torch.zeros(2, 3, 4), tmp_path / '3d.pt')
    check('3d.pt', ValueError, r'3d\.pt holds an array of shape \(2, 3, 4\)')
    np.save(tmp_path / 'int.npy', np.zeros((4, 3), np.int64))
    check('int.npy', ValueError, r'int\.npy .* dtype int64; expected a 2-D '
          'floating-point')
    torch.save({'fbank': torch.zeros(4, 3)}, tmp_path / 'dict.pt')
    check('dict.pt', ValueError, r'dict\.pt holds a dict, not a tensor')
    (tmp_path / 'junk.pt').write_bytes(b'not a zip file')
    check('junk.pt', AudioFileError,
          r'cannot read audio feature file .*junk\.pt')
    (tmp_path / 'junk.npy').write_bytes(b'not numpy')
    check('junk.npy', AudioFileError,
          r'cannot read audio feature file .*junk\.npy')
    check('missing.pt', AudioFileError,
          r'cannot read audio feature file .*missing\.pt')
    check('a.wav', ValueError, r"a\.wav: expected one of .*got '\.wav'")


class _Counting:
    """Wraps a transform and counts its calls."""

    def __init__(self, transform):
        self.transform, self.calls = transform, 0

    def __call__(self, results):
        self.calls += 1
        return self.transform(results)

    def __repr__(self):
        return repr(self.transform)


def _cached(cache_dir, **spec_kwargs):
    load = _Counting(LoadWaveform(duration=0.5))
    return load, CachedAudioFeature(
        str(cache_dir),
        [load, dict(type='LogSpectrogram', **spec_kwargs)])


def test_cache_matches_direct_computation(tmp_path):
    path = _write_wav(tmp_path / 'a.wav', _sine(441, 0.3))
    load, cached = _cached(tmp_path / 'cache')
    direct = LogSpectrogram()(LoadWaveform(duration=0.5)(
        dict(audio_path=path)))['audio']
    cold = cached(dict(audio_path=path))
    warm = cached(dict(audio_path=path, label=3))
    assert load.calls == 1  # the second sample was read from the cache
    for results in (cold, warm):
        assert results['audio'].dtype == np.float32
        np.testing.assert_array_equal(results['audio'], direct)
        assert 'waveform' not in results  # only out_key is added
    assert warm['label'] == 3
    # One folder per settings, with the settings spelled out.
    [folder] = os.listdir(tmp_path / 'cache')
    assert folder == os.path.basename(cached.folder)
    settings = json.loads(
        (tmp_path / 'cache' / folder / 'settings.json').read_text())
    assert settings['out_key'] == 'audio'
    assert settings['transforms'][0].startswith('LoadWaveform(')
    entries = [n for n in os.listdir(cached.folder) if n.endswith('.npy')]
    assert entries == [os.path.basename(cached.entry_path(path))]
    assert entries[0].startswith('a-')
    # A fresh instance (another worker) reads the same entry.
    load2, cached2 = _cached(tmp_path / 'cache')
    np.testing.assert_array_equal(
        cached2(dict(audio_path=path))['audio'], direct)
    assert load2.calls == 0


def test_cache_recomputes_on_new_settings_or_source(tmp_path):
    path = _write_wav(tmp_path / 'a.wav', _sine(441, 0.3))
    _, cached = _cached(tmp_path / 'cache')
    first = cached(dict(audio_path=path))['audio']
    # Other settings: another folder, recomputed.
    load, other = _cached(tmp_path / 'cache', n_fft=256)
    assert other.folder != cached.folder
    assert other(dict(audio_path=path))['audio'].shape == (1, 129, 32)
    assert load.calls == 1
    assert len(os.listdir(tmp_path / 'cache')) == 2
    # A changed source file (size and mtime): recomputed.
    _write_wav(tmp_path / 'a.wav', _sine(882, 0.4))
    load, cached = _cached(tmp_path / 'cache')
    second = cached(dict(audio_path=path))['audio']
    assert load.calls == 1 and not np.array_equal(first, second)
    # A damaged entry is recomputed too.
    with open(cached.entry_path(path), 'wb') as f:
        f.write(b'garbage')
    np.testing.assert_array_equal(
        cached(dict(audio_path=path))['audio'], second)
    assert load.calls == 2


def test_cache_errors(tmp_path):
    _, cached = _cached(tmp_path / 'cache')
    # The inner loader names the missing file; nothing is cached.
    with pytest.raises(AudioFileError, match=r'missing\.wav'):
        cached(dict(audio_path=str(tmp_path / 'missing.wav')))
    assert not os.path.exists(tmp_path / 'cache')

    class Opaque:

        def __call__(self, results):
            return results

    with pytest.raises(ValueError, match='does not state its settings'):
        CachedAudioFeature(str(tmp_path), [Opaque()])
    with pytest.raises(ValueError, match='no inner transform'):
        CachedAudioFeature(str(tmp_path), [])
    cached = CachedAudioFeature(
        str(tmp_path), [LoadWaveform(), lambda r: None])
    assert cached(
        dict(audio_path=_write_wav(tmp_path /
                                   'a.wav', _sine(441, 0.1)))) is None
    with pytest.raises(KeyError, match="produced no 'spec'"):
        CachedAudioFeature(
            str(tmp_path), [LoadWaveform()], out_key='spec')(
                dict(audio_path=str(tmp_path / 'a.wav')))
