import math

import numpy as np
from mmcv.transforms import BaseTransform

from mmdr.registry import TRANSFORMS

try:
    import soundfile
except ImportError:  # only LoadWaveform needs it; say so when it is built
    soundfile = None


@TRANSFORMS.register_module()
class LoadWaveform(BaseTransform):
    """Load an audio file and tile or cut it to a fixed duration.

    The file is read with ``soundfile`` (libsndfile: WAV, FLAC, OGG, ...) as
    float32 in [-1, 1], mixed down to mono, tiled until it lasts
    ``duration`` seconds and cut there, as OGM-GE does for CREMA-D, so that
    every sample gives a spectrogram of the same shape.

    Required keys: ``path_key`` (default ``audio_path``).
    Added keys: ``out_key`` (default ``waveform``), float32 of shape (L, )
    with ``L = round(sample_rate * duration)``, and ``sample_rate``.

    Args:
        sample_rate (int): The sample rate the files must have; there is no
            resampling. Defaults to 22050.
        duration (float): Seconds kept. Defaults to 1.0.
        path_key (str): Key of the file path. Defaults to ``'audio_path'``.
        out_key (str): Key of the waveform. Defaults to ``'waveform'``.
    """

    def __init__(self,
                 sample_rate: int = 22050,
                 duration: float = 1.0,
                 path_key: str = 'audio_path',
                 out_key: str = 'waveform') -> None:
        if soundfile is None:
            raise ImportError('LoadWaveform reads audio files with '
                              'soundfile: pip install "soundfile>=0.14"')
        if sample_rate <= 0 or duration <= 0:
            raise ValueError('LoadWaveform: sample_rate and duration must be '
                             f'positive, got {sample_rate} and {duration}')
        self.sample_rate = sample_rate
        self.duration = duration
        self.num_samples = int(round(sample_rate * duration))
        self.path_key = path_key
        self.out_key = out_key

    def transform(self, results: dict) -> dict:
        """Load one file.

        Args:
            results (dict): The sample, with the file path.

        Returns:
            dict: The sample with the waveform added.
        """
        path = results[self.path_key]
        try:
            samples, sample_rate = soundfile.read(
                path, dtype='float32', always_2d=True)
        except Exception as err:  # libsndfile's errors vary by format
            raise OSError(f'LoadWaveform: cannot read audio file {path}: '
                          f'{err}') from err
        if sample_rate != self.sample_rate:
            raise ValueError(
                f'LoadWaveform: {path} has a sample rate of {sample_rate} '
                f'Hz, expected {self.sample_rate} Hz (set sample_rate in the '
                'pipeline or resample the file)')
        samples = samples.mean(axis=1)
        if samples.size == 0:
            raise ValueError(f'LoadWaveform: {path} holds no sample')
        # Repeat a short clip rather than pad it with silence, as OGM-GE.
        reps = math.ceil(self.num_samples / samples.size)
        samples = np.tile(samples, reps)[:self.num_samples]
        results[self.out_key] = np.clip(samples, -1.0, 1.0).astype(np.float32)
        results['sample_rate'] = sample_rate
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sample_rate={self.sample_rate}, '
                f'duration={self.duration}, path_key={self.path_key!r}, '
                f'out_key={self.out_key!r})')


@TRANSFORMS.register_module()
class LogSpectrogram(BaseTransform):
    """Log-magnitude short-time Fourier transform of a waveform.

    ``log(|STFT| + eps)`` with a periodic Hann window and centred frames
    (the signal is zero-padded by ``n_fft // 2`` on both sides), i.e.
    ``np.log(np.abs(librosa.stft(x, n_fft=512, hop_length=353)) + 1e-7)``
    as OGM-GE computes CREMA-D's spectrograms, without needing librosa.
    One second at 22,050 Hz gives shape (1, 257, 63).

    Required keys: ``in_key`` (default ``waveform``), shape (L, ).
    Added keys: ``out_key`` (default ``audio``), float32 of shape
    (1, n_fft // 2 + 1, 1 + L // hop_length).

    Args:
        n_fft (int): FFT size (and window length). Defaults to 512.
        hop_length (int): Hop between frames. Defaults to 353.
        eps (float): Added to the magnitude before the log. Defaults to 1e-7.
        in_key (str): Key of the waveform. Defaults to ``'waveform'``.
        out_key (str): Key of the spectrogram. Defaults to ``'audio'``.
    """

    def __init__(self,
                 n_fft: int = 512,
                 hop_length: int = 353,
                 eps: float = 1e-7,
                 in_key: str = 'waveform',
                 out_key: str = 'audio') -> None:
        if n_fft <= 0 or hop_length <= 0:
            raise ValueError('LogSpectrogram: n_fft and hop_length must be '
                             f'positive, got {n_fft} and {hop_length}')
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.eps = eps
        self.in_key = in_key
        self.out_key = out_key
        n = np.arange(n_fft)
        self.window = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)

    def transform(self, results: dict) -> dict:
        """Compute the spectrogram of one waveform.

        Args:
            results (dict): The sample, with the waveform.

        Returns:
            dict: The sample with the spectrogram added.
        """
        wave = np.asarray(results[self.in_key], dtype=np.float64)
        if wave.ndim != 1:
            raise ValueError(f'LogSpectrogram: {self.in_key!r} must be a 1-D '
                             f'waveform, got shape {wave.shape}')
        pad = self.n_fft // 2
        wave = np.pad(wave, pad)
        num_frames = 1 + (wave.size - self.n_fft) // self.hop_length
        frames = np.lib.stride_tricks.sliding_window_view(
            wave, self.n_fft)[::self.hop_length][:num_frames]
        spec = np.abs(np.fft.rfft(frames * self.window, axis=1)).T
        results[self.out_key] = np.log(spec + self.eps).astype(
            np.float32)[None]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(n_fft={self.n_fft}, '
                f'hop_length={self.hop_length}, eps={self.eps}, '
                f'in_key={self.in_key!r}, out_key={self.out_key!r})')
