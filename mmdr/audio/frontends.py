"""Audio front-ends: waveform to time-frequency features, no registry.

Two front-ends of the balanced multimodal learning literature:

- :func:`log_stft`: OGM-GE's CREMA-D spectrogram, ``log(|STFT| + eps)``,
  with ``torch.stft``;
- :func:`kaldi_fbank`: the Kaldi log-mel filterbank of the Kinetics-Sounds
  ``.pt`` files (``torchaudio.compliance.kaldi.fbank`` as OGM-GE's
  ``process_audio.py`` calls it), with kaldi-native-fbank.
"""
import math
from typing import List, Optional, Tuple

import kaldi_native_fbank as knf
import numpy as np
import torch

#: Mean and standard deviation that the Kinetics-Sounds ``.pt`` files were
#: normalised with: ``(fbank - mean) / (2 * std)``.
FBANK_NORM_MEAN = -4.503877
FBANK_NORM_STD = 5.141276

# torchaudio.compliance.kaldi.fbank's defaults that OGM-GE leaves as they are.
_FRAME_LENGTH_MS = 25.0
_LOW_FREQ = 20.0
_HIGH_FREQ = 0.0  # the Nyquist frequency
_PREEMPHASIS = 0.97
_ENERGY_FLOOR = 1.0
_VTLN_LOW = 100.0
_VTLN_HIGH = -500.0
# torchaudio floors the mel energies at float32's machine epsilon before
# the log, whatever the input's dtype on the CPU.
_LOG_FLOOR = float(np.finfo(np.float32).eps)
# kaldi-native-fbank builds banks of 3 mel bins or more.
_MIN_BINS = 3


def log_stft(waveform: np.ndarray,
             n_fft: int = 512,
             hop_length: int = 353,
             eps: float = 1e-7,
             pad_mode: str = 'constant') -> np.ndarray:
    """Log-magnitude short-time Fourier transform, as OGM-GE's CREMA-D.

    ``log(|STFT(x)| + eps)`` with a periodic Hann window of ``n_fft``
    samples and centred frames (``n_fft // 2`` samples of padding on both
    sides), i.e. ``np.log(np.abs(librosa.stft(x, n_fft=n_fft,
    hop_length=hop_length, pad_mode=pad_mode)) + eps)``. librosa >= 0.10
    pads with zeros (``'constant'``, the default here); librosa < 0.10,
    which OGM-GE's code was written with, reflected the signal
    (``'reflect'``); the two differ in the first and last frames only.
    Three seconds at 22,050 Hz with the defaults give (257, 188).

    Computed in float64 with ``torch.stft``.

    Args:
        waveform (np.ndarray): Mono samples, shape (L, ).
        n_fft (int): FFT size and window length. Defaults to 512.
        hop_length (int): Hop between frames. Defaults to 353.
        eps (float): Added to the magnitude before the log. Defaults to 1e-7.
        pad_mode (str): How the ends are padded, ``'constant'`` (zeros) or
            ``'reflect'`` (any mode of ``torch.stft``). Defaults to
            ``'constant'``.

    Returns:
        np.ndarray: float32 of shape (n_fft // 2 + 1, 1 + L // hop_length).
    """
    if n_fft <= 0 or hop_length <= 0:
        raise ValueError('log_stft: n_fft and hop_length must be positive, '
                         f'got {n_fft} and {hop_length}')
    wave = torch.as_tensor(np.asarray(waveform), dtype=torch.float64)
    if wave.ndim != 1:
        raise ValueError('log_stft: expected a 1-D waveform, got shape '
                         f'{tuple(wave.shape)}')
    spec = torch.stft(
        wave,
        n_fft,
        hop_length=hop_length,
        window=torch.hann_window(n_fft, periodic=True, dtype=torch.float64),
        center=True,
        pad_mode=pad_mode,
        return_complex=True)
    return torch.log(spec.abs() + eps).to(torch.float32).numpy()


def _fbank_options(sample_rate: float, num_bins: int, frame_shift_ms: float,
                   low_freq: float, high_freq: float) -> knf.FbankOptions:
    """Options of kaldi-native-fbank that compute what OGM-GE's call
    ``torchaudio.compliance.kaldi.fbank(waveform, htk_compat=True,
    sample_frequency=sr, use_energy=False, window_type='hanning',
    num_mel_bins=128, dither=0.0, frame_shift=10)`` computes: every option
    is set, to torchaudio's default where the call leaves it."""
    opts = knf.FbankOptions()
    frame = opts.frame_opts
    frame.samp_freq = float(sample_rate)
    frame.frame_shift_ms = float(frame_shift_ms)
    frame.frame_length_ms = _FRAME_LENGTH_MS
    frame.dither = 0.0
    frame.preemph_coeff = _PREEMPHASIS
    frame.remove_dc_offset = True
    frame.window_type = 'hanning'
    frame.round_to_power_of_two = True
    frame.blackman_coeff = 0.42
    frame.snip_edges = True
    mel = opts.mel_opts
    mel.num_bins = num_bins
    mel.low_freq = float(low_freq)
    mel.high_freq = float(high_freq)
    mel.vtln_low = _VTLN_LOW
    mel.vtln_high = _VTLN_HIGH
    mel.htk_mode = False  # torchaudio does not replicate HTK's bin-0 bug
    mel.is_librosa = False
    opts.use_energy = False
    opts.energy_floor = _ENERGY_FLOOR
    opts.raw_energy = True
    opts.htk_compat = True
    opts.use_log_fbank = True
    opts.use_power = True
    opts.eps = _LOG_FLOOR
    return opts


def _mel(freq):
    """Kaldi's (HTK's) mel scale."""
    return 1127.0 * np.log1p(np.asarray(freq, dtype=np.float64) / 700.0)


def _inverse_mel(mel: float) -> float:
    """The frequency in Hz of a mel value on Kaldi's scale."""
    return float(700.0 * np.expm1(mel / 1127.0))


def _mel_grid(sample_rate: float, num_bins: int) -> Tuple[float, float]:
    """Kaldi's lowest mel edge (20 Hz) and the mel step between bin edges,
    for bins up to the Nyquist frequency."""
    mel_low, mel_high = _mel(_LOW_FREQ), _mel(sample_rate / 2)
    return float(mel_low), float((mel_high - mel_low) / (num_bins + 1))


def _covered_bin_runs(sample_rate: float,
                      num_bins: int) -> List[Tuple[int, int]]:
    """Runs ``[start, stop)`` of the mel bins that hold an FFT bin.

    Kaldi's bin ``b`` is a triangle over the mel interval
    ``(mel_low + b * step, mel_low + (b + 2) * step)``; at the low end a bin
    can be narrower than the FFT resolution (bin 3 of 128 at 16 kHz with a
    512-point FFT) and hold no FFT bin. torchaudio gives such a bin zero
    energy, Kaldi and kaldi-native-fbank refuse the whole bank.
    """
    window = int(sample_rate * _FRAME_LENGTH_MS / 1000)
    padded = 1 << (window - 1).bit_length()
    fft_mels = _mel(np.arange(padded // 2) * (sample_rate / padded))
    mel_low, step = _mel_grid(sample_rate, num_bins)
    runs, start = [], None
    for b in range(num_bins + 1):
        left = mel_low + b * step
        covered = b < num_bins and bool(
            ((fft_mels > left) & (fft_mels < left + 2 * step)).any())
        if covered and start is None:
            start = b
        elif not covered and start is not None:
            runs.append((start, b))
            start = None
    return runs


def _knf_fbank(waveform: np.ndarray, sample_rate: float, num_bins: int,
               frame_shift_ms: float, low_freq: float,
               high_freq: float) -> np.ndarray:
    """kaldi-native-fbank's log-mel filterbank, (num_frames, num_bins)."""
    computer = knf.OnlineFbank(
        _fbank_options(sample_rate, num_bins, frame_shift_ms, low_freq,
                       high_freq))
    computer.accept_waveform(float(sample_rate), waveform)
    computer.input_finished()
    num_frames = computer.num_frames_ready
    if num_frames == 0:
        return np.zeros((0, num_bins), np.float32)
    # get_frame returns the extractor's buffer: np.stack copies it.
    return np.stack([computer.get_frame(i) for i in range(num_frames)])


def kaldi_fbank(waveform: np.ndarray,
                sample_rate: int,
                num_mel_bins: int = 128,
                frame_shift_ms: float = 10.0,
                target_length: Optional[int] = 1024,
                norm_mean: float = FBANK_NORM_MEAN,
                norm_std: float = FBANK_NORM_STD) -> np.ndarray:
    """Normalised Kaldi log-mel filterbank of the Kinetics-Sounds ``.pt``.

    What OGM-GE's Kinetics-Sounds ``process_audio.py`` computes::

        waveform = waveform - waveform.mean()
        fbank = torchaudio.compliance.kaldi.fbank(
            waveform, htk_compat=True, sample_frequency=sr, use_energy=False,
            window_type='hanning', num_mel_bins=128, dither=0.0,
            frame_shift=10)
        # zero-pad at the end, or cut, to target_length frames
        fbank = (fbank - norm_mean) / (2 * norm_std)

    with kaldi-native-fbank: 25 ms Hann frames wholly inside the signal
    (Kaldi's ``snip_edges``), DC offset removal, pre-emphasis 0.97, a
    power-of-two FFT, power spectrum, triangular mel bins from 20 Hz to the
    Nyquist frequency, and the log floored at float32's epsilon.

    A mel bin that holds no FFT bin (bin 3 of 128 at 16 kHz), which
    kaldi-native-fbank refuses to build, gets zero energy as in torchaudio,
    i.e. ``log(eps)``: the bank is then computed in runs of consecutive
    covered bins, each run as a bank of its own with the full bank's edges.
    Runs of fewer than 3 bins (e.g. 128 bins at 8 kHz) are an error.

    Args:
        waveform (np.ndarray): Mono samples in [-1, 1], shape (L, ).
        sample_rate (int): Their sample rate in Hz.
        num_mel_bins (int): Mel bins. Defaults to 128.
        frame_shift_ms (float): Hop between frames in ms. Defaults to 10.
        target_length (int, optional): Frames kept: fewer are zero-padded
            at the end (before the normalisation, as the reference), more
            are cut. None keeps all. Defaults to 1024.
        norm_mean (float): Mean of the normalisation. Defaults to
            :data:`FBANK_NORM_MEAN`.
        norm_std (float): Standard deviation of the normalisation; the
            reference divides by twice it. Defaults to
            :data:`FBANK_NORM_STD`.

    Returns:
        np.ndarray: float32 of shape (target_length, num_mel_bins), or
        (num_frames, num_mel_bins) when ``target_length`` is None, with
        ``num_frames = 1 + (L - window) // shift`` (0 when L < window).
    """
    wave = np.asarray(waveform, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError('kaldi_fbank: expected a 1-D waveform, got shape '
                         f'{wave.shape}')
    if sample_rate <= 0 or num_mel_bins <= 0 or frame_shift_ms <= 0:
        raise ValueError('kaldi_fbank: sample_rate, num_mel_bins and '
                         'frame_shift_ms must be positive, got '
                         f'{sample_rate}, {num_mel_bins}, {frame_shift_ms}')
    if target_length is not None and target_length < 0:
        raise ValueError('kaldi_fbank: target_length must be >= 0 or None, '
                         f'got {target_length}')
    wave = wave - wave.mean(dtype=np.float32) if wave.size else wave

    runs = _covered_bin_runs(sample_rate, num_mel_bins)
    if not runs or min(stop - start for start, stop in runs) < _MIN_BINS:
        raise ValueError(
            f'kaldi_fbank: {num_mel_bins} mel bins at {sample_rate} Hz '
            f'leave runs of fewer than {_MIN_BINS} bins holding an FFT bin '
            f'({runs}), which kaldi-native-fbank cannot compute; use fewer '
            'bins or a higher sample rate')
    if runs == [(0, num_mel_bins)]:
        fbank = _knf_fbank(wave, sample_rate, num_mel_bins, frame_shift_ms,
                           _LOW_FREQ, _HIGH_FREQ)
    else:
        mel_low, step = _mel_grid(sample_rate, num_mel_bins)
        fbank = None
        for start, stop in runs:
            # Bins start..stop-1 of the full bank span the mel interval
            # (mel_low + start * step, mel_low + (stop + 1) * step): a bank
            # of stop - start bins over it has the same edges.
            low, high = _LOW_FREQ, _HIGH_FREQ
            if start > 0:
                low = _inverse_mel(mel_low + start * step)
            if stop < num_mel_bins:
                high = _inverse_mel(mel_low + (stop + 1) * step)
            part = _knf_fbank(wave, sample_rate, stop - start, frame_shift_ms,
                              low, high)
            if fbank is None:
                fbank = np.full((part.shape[0], num_mel_bins),
                                math.log(_LOG_FLOOR), np.float32)
            fbank[:, start:stop] = part

    if target_length is not None:
        num_frames = fbank.shape[0]
        if num_frames < target_length:
            fbank = np.pad(fbank, ((0, target_length - num_frames), (0, 0)))
        fbank = fbank[:target_length]
    return ((fbank - norm_mean) / (2 * norm_std)).astype(np.float32)
