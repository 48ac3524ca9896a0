import math

import numpy as np
import pytest

from mmdr.audio import FBANK_NORM_MEAN, FBANK_NORM_STD, kaldi_fbank, log_stft

#: The normalised value of a zero-padded frame.
PAD = (0 - FBANK_NORM_MEAN) / (2 * FBANK_NORM_STD)
#: The normalised value of a mel bin without energy: log(float32 eps).
FLOOR = (math.log(np.finfo(np.float32).eps) -
         FBANK_NORM_MEAN) / (2 * FBANK_NORM_STD)


def _signal(sample_rate, seconds):
    """Tones, a chirp and a DC offset: no random numbers, so reproducible
    across numpy versions."""
    t = np.arange(int(round(sample_rate * seconds))) / sample_rate
    x = (0.3 * np.sin(2 * np.pi * 440 * t) +
         0.2 * np.sin(2 * np.pi * 1234.5 * t) +
         0.1 * np.sin(2 * np.pi * (100 * t + 1500 * t**2)) + 0.01)
    return x.astype(np.float32)


# Golden values of librosa 0.11.0 (soxr, numpy 2.4):
#   np.log(np.abs(librosa.stft(_signal(22050, 3.0), n_fft=512,
#                              hop_length=353, pad_mode=pad_mode)) + 1e-7)
# at [bin, frame] for the entries below, and its mean.
STFT_ENTRIES = ([0, 20, 40, 57, 100, 256, 20], [0, 0, 1, 93, 150, 187, 187])
LIBROSA_STFT = {
    'constant': ([
        2.081132, -1.577615, -5.323314, -7.819606, -10.4393, -2.643132,
        -0.1932226
    ], -8.7453642),
    'reflect': ([
        2.773655, -0.9282063, -5.323314, -7.819606, -10.4393, -1.969618,
        0.5024588
    ], -8.7416306),
}


@pytest.mark.parametrize('pad_mode', ['constant', 'reflect'])
def test_log_stft_is_librosa(pad_mode):
    spec = log_stft(_signal(22050, 3.0), pad_mode=pad_mode)
    # OGM-GE's CREMA-D input: 3 s at 22,050 Hz.
    assert spec.shape == (257, 188) and spec.dtype == np.float32
    values, mean = LIBROSA_STFT[pad_mode]
    np.testing.assert_allclose(spec[STFT_ENTRIES], values, atol=1e-5)
    assert spec.mean() == pytest.approx(mean, abs=1e-6)


def test_log_stft_is_the_fourier_transform_of_hann_frames():
    x = _signal(8000, 0.3)
    spec = log_stft(x, n_fft=256, hop_length=100, eps=1e-6)
    assert spec.shape == (129, 1 + x.size // 100)
    # Frame 5 starts at 5 * 100 - 128 (the signal is centred).
    start = 5 * 100 - 128
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(256) / 256)
    ref = np.abs(np.fft.rfft(x[start:start + 256] * window))
    np.testing.assert_allclose(spec[:, 5], np.log(ref + 1e-6), atol=1e-5)
    np.testing.assert_allclose(
        log_stft(np.zeros(1000)), np.log(np.float32(1e-7)), rtol=1e-6)


def test_log_stft_errors():
    with pytest.raises(ValueError, match='1-D waveform'):
        log_stft(np.zeros((2, 1000)))
    with pytest.raises(ValueError, match='positive'):
        log_stft(np.zeros(1000), hop_length=0)


# Golden values of torchaudio 2.11.0's torchaudio/compliance/kaldi.py (run
# standalone with torch 2.13), as OGM-GE's Kinetics-Sounds process_audio.py
# calls it:
#   w = torch.from_numpy(_signal(sr, 2.3))[None]; w = w - w.mean()
#   fbank = kaldi.fbank(w, htk_compat=True, sample_frequency=sr,
#       use_energy=False, window_type='hanning', num_mel_bins=128,
#       dither=0.0, frame_shift=10)
#   zero-padded to 1024 frames; (fbank + 4.503877) / (2 * 5.141276)
# at [frame, bin] for the entries below, and the mean of the whole
# (1024, 128) result. The two implementations differ by float32 rounding
# (at most 4.4e-4 over these arrays, and torchaudio in float32 differs from
# itself in float64 by as much), so the tolerance is 1e-4.
FBANK_ENTRIES = ([0, 10, 50, 100, 150, 227, 500], [0, 3, 20, 64, 100, 127, 5])
TORCHAUDIO_FBANK = {
    16000: ([
        -0.3077516, -1.112419, 0.3037457, -0.9227266, -0.2331839, -0.8937732,
        0.4380116
    ], 0.2010117, 228),
    22050: ([
        -0.3068687, -0.7684409, 0.7638849, -1.034091, -1.033574, -1.112419,
        0.4380116
    ], 0.1982291, 229),
}


@pytest.mark.parametrize('sample_rate', [16000, 22050])
def test_kaldi_fbank_is_torchaudio(sample_rate):
    values, mean, num_frames = TORCHAUDIO_FBANK[sample_rate]
    fbank = kaldi_fbank(_signal(sample_rate, 2.3), sample_rate)
    assert fbank.shape == (1024, 128) and fbank.dtype == np.float32
    np.testing.assert_allclose(fbank[FBANK_ENTRIES], values, atol=1e-4)
    assert fbank.mean() == pytest.approx(mean, abs=1e-5)
    # Zero-padded at the end, before the normalisation.
    np.testing.assert_allclose(fbank[num_frames:], PAD, rtol=1e-6)
    assert not np.allclose(fbank[num_frames - 1], PAD)


def test_kaldi_fbank_empty_mel_bin_at_16k():
    # At 16 kHz (512-point FFT) mel bin 3 of 128 holds no FFT bin:
    # torchaudio gives it zero energy, i.e. log(eps).
    fbank = kaldi_fbank(_signal(16000, 2.3), 16000, target_length=None)
    assert fbank.shape == (228, 128)  # 1 + (36800 - 400) // 160
    np.testing.assert_allclose(fbank[:, 3], FLOOR, rtol=1e-6)
    assert (fbank[:, [2, 4]] > FLOOR + 0.1).all()


def test_kaldi_fbank_length_and_normalisation():
    x = _signal(22050, 1.0)
    raw = kaldi_fbank(x, 22050, target_length=None, norm_mean=0, norm_std=.5)
    assert raw.shape == (98, 128)  # 1 + (22050 - 551) // 220
    np.testing.assert_allclose(
        kaldi_fbank(x, 22050, target_length=50, norm_mean=-4, norm_std=3),
        (raw[:50] + 4) / 6,
        rtol=1e-5)
    # The DC offset is removed first (up to float32 rounding, which shows
    # most in energies near the floor).
    np.testing.assert_allclose(
        kaldi_fbank(
            x + 0.2, 22050, target_length=None, norm_mean=0, norm_std=.5),
        raw,
        atol=1e-2)
    # Fewer samples than one 25 ms window: no frame, all padding.
    np.testing.assert_allclose(kaldi_fbank(x[:500], 22050), PAD, rtol=1e-6)
    assert kaldi_fbank(
        x, 22050, num_mel_bins=40, frame_shift_ms=20).shape == (1024, 40)


def test_kaldi_fbank_errors():
    x = _signal(8000, 0.5)
    with pytest.raises(ValueError, match='1-D waveform'):
        kaldi_fbank(np.zeros((2, 1000)), 16000)
    with pytest.raises(ValueError, match='must be positive'):
        kaldi_fbank(x, 8000, num_mel_bins=0)
    # 128 bins at 8 kHz leave 2 covered bins between empty ones.
    with pytest.raises(
            ValueError,
            match='128 mel bins at 8000 Hz .* kaldi-native-fbank cannot'):
        kaldi_fbank(x, 8000)
