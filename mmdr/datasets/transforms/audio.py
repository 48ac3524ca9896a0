import hashlib
import json
import os
import os.path as osp
import pickle
from typing import Callable, List, Optional, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmdr.audio import (FBANK_NORM_MEAN, FBANK_NORM_STD, AudioFileError,
                        kaldi_fbank, log_stft, read_audio, tile_or_cut)
from mmdr.registry import TRANSFORMS
from mmdr.utils.atomic_write import open_atomic


@TRANSFORMS.register_module()
class LoadWaveform(BaseTransform):
    """Load an audio file and tile or cut it to a fixed duration.

    The file is read with ``soundfile`` (libsndfile: WAV, FLAC, OGG, ...) as
    float32 in [-1, 1], mixed down to mono, optionally resampled with soxr
    'HQ' (as ``librosa.load(path, sr=sample_rate)``), tiled until it lasts
    ``duration`` seconds and cut there, as OGM-GE does for CREMA-D, so that
    every sample gives a spectrogram of the same shape, and clipped to
    [-1, 1]. A truncated file (its header promises more audio than it
    holds) is an error, not a shorter clip silently tiled.

    Required keys: ``path_key`` (default ``audio_path``).
    Added keys: ``out_key`` (default ``waveform``), float32 of shape (L, )
    with ``L = round(sample_rate * duration)``, and ``sample_rate``.

    Args:
        sample_rate (int): The sample rate of the waveform. Defaults to
            22050.
        duration (float, optional): Seconds kept; None keeps the whole file.
            Defaults to 1.0.
        resample (bool): Whether a file at another sample rate is resampled
            to ``sample_rate``; if False, it is an error. Defaults to False.
        path_key (str): Key of the file path. Defaults to ``'audio_path'``.
        out_key (str): Key of the waveform. Defaults to ``'waveform'``.
    """

    def __init__(self,
                 sample_rate: int = 22050,
                 duration: Optional[float] = 1.0,
                 resample: bool = False,
                 path_key: str = 'audio_path',
                 out_key: str = 'waveform') -> None:
        if sample_rate <= 0 or (duration is not None and duration <= 0):
            raise ValueError('LoadWaveform: sample_rate and duration must be '
                             f'positive, got {sample_rate} and {duration}')
        self.sample_rate = sample_rate
        self.duration = duration
        self.num_samples = (None if duration is None else int(
            round(sample_rate * duration)))
        self.resample = resample
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
            samples, sample_rate = read_audio(
                path, self.sample_rate if self.resample else None)
        except AudioFileError as err:
            raise AudioFileError(f'LoadWaveform: {err}') from err
        if sample_rate != self.sample_rate:
            raise ValueError(
                f'LoadWaveform: {path} has a sample rate of {sample_rate} '
                f'Hz, expected {self.sample_rate} Hz (set sample_rate or '
                'resample=True in the pipeline, or resample the file)')
        if self.num_samples is not None:
            samples = tile_or_cut(samples, self.num_samples)
        results[self.out_key] = np.clip(samples, -1.0, 1.0).astype(np.float32)
        results['sample_rate'] = sample_rate
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sample_rate={self.sample_rate}, '
                f'duration={self.duration}, resample={self.resample}, '
                f'path_key={self.path_key!r}, out_key={self.out_key!r})')


@TRANSFORMS.register_module()
class LogSpectrogram(BaseTransform):
    """Log-magnitude short-time Fourier transform of a waveform.

    ``log(|STFT| + eps)`` with a periodic Hann window and centred frames,
    i.e. ``np.log(np.abs(librosa.stft(x, n_fft=512, hop_length=353)) +
    1e-7)`` as OGM-GE computes CREMA-D's spectrograms, without needing
    librosa (see :func:`mmdr.audio.log_stft`, also for ``pad_mode``). One
    second at 22,050 Hz gives shape (1, 257, 63), three seconds
    (1, 257, 188).

    Required keys: ``in_key`` (default ``waveform``), shape (L, ).
    Added keys: ``out_key`` (default ``audio``), float32 of shape
    (1, n_fft // 2 + 1, 1 + L // hop_length).

    Args:
        n_fft (int): FFT size (and window length). Defaults to 512.
        hop_length (int): Hop between frames. Defaults to 353.
        eps (float): Added to the magnitude before the log. Defaults to 1e-7.
        pad_mode (str): How the signal's ends are padded: ``'constant'``
            (zeros, librosa >= 0.10) or ``'reflect'`` (librosa < 0.10).
            Defaults to ``'constant'``.
        in_key (str): Key of the waveform. Defaults to ``'waveform'``.
        out_key (str): Key of the spectrogram. Defaults to ``'audio'``.
    """

    def __init__(self,
                 n_fft: int = 512,
                 hop_length: int = 353,
                 eps: float = 1e-7,
                 pad_mode: str = 'constant',
                 in_key: str = 'waveform',
                 out_key: str = 'audio') -> None:
        if n_fft <= 0 or hop_length <= 0:
            raise ValueError('LogSpectrogram: n_fft and hop_length must be '
                             f'positive, got {n_fft} and {hop_length}')
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.eps = eps
        self.pad_mode = pad_mode
        self.in_key = in_key
        self.out_key = out_key

    def transform(self, results: dict) -> dict:
        """Compute the spectrogram of one waveform.

        Args:
            results (dict): The sample, with the waveform.

        Returns:
            dict: The sample with the spectrogram added.
        """
        wave = np.asarray(results[self.in_key])
        if wave.ndim != 1:
            raise ValueError(f'LogSpectrogram: {self.in_key!r} must be a 1-D '
                             f'waveform, got shape {wave.shape}')
        results[self.out_key] = log_stft(
            wave,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            eps=self.eps,
            pad_mode=self.pad_mode)[None]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(n_fft={self.n_fft}, '
                f'hop_length={self.hop_length}, eps={self.eps}, '
                f'pad_mode={self.pad_mode!r}, in_key={self.in_key!r}, '
                f'out_key={self.out_key!r})')


@TRANSFORMS.register_module()
class KaldiFbank(BaseTransform):
    """Normalised Kaldi log-mel filterbank of a waveform.

    The features of the Kinetics-Sounds ``.pt`` files of OGM-GE's line of
    work (``torchaudio.compliance.kaldi.fbank`` with 128 mel bins, a 10 ms
    shift and Hann windows, zero-padded or cut to 1,024 frames, normalised
    as ``(x - norm_mean) / (2 * norm_std)``), computed with
    kaldi-native-fbank; see :func:`mmdr.audio.kaldi_fbank`.

    Required keys: ``in_key`` (default ``waveform``), shape (L, ), and
    ``sample_rate`` (set by :class:`LoadWaveform`).
    Added keys: ``out_key`` (default ``audio``), float32 of shape
    (1, target_length, num_mel_bins).

    Args:
        num_mel_bins (int): Mel bins. Defaults to 128.
        frame_shift_ms (float): Hop between frames in ms. Defaults to 10.
        target_length (int, optional): Frames kept (zero-padded or cut);
            None keeps all. Defaults to 1024.
        norm_mean (float): Mean of the normalisation. Defaults to
            -4.503877.
        norm_std (float): Standard deviation of the normalisation. Defaults
            to 5.141276.
        in_key (str): Key of the waveform. Defaults to ``'waveform'``.
        out_key (str): Key of the filterbank. Defaults to ``'audio'``.
    """

    def __init__(self,
                 num_mel_bins: int = 128,
                 frame_shift_ms: float = 10.0,
                 target_length: Optional[int] = 1024,
                 norm_mean: float = FBANK_NORM_MEAN,
                 norm_std: float = FBANK_NORM_STD,
                 in_key: str = 'waveform',
                 out_key: str = 'audio') -> None:
        if num_mel_bins <= 0 or frame_shift_ms <= 0 or (
                target_length is not None and target_length <= 0):
            raise ValueError(
                'KaldiFbank: num_mel_bins, frame_shift_ms and target_length '
                f'must be positive, got {num_mel_bins}, {frame_shift_ms} and '
                f'{target_length}')
        self.num_mel_bins = num_mel_bins
        self.frame_shift_ms = frame_shift_ms
        self.target_length = target_length
        self.norm_mean = norm_mean
        self.norm_std = norm_std
        self.in_key = in_key
        self.out_key = out_key

    def transform(self, results: dict) -> dict:
        """Compute the filterbank of one waveform.

        Args:
            results (dict): The sample, with the waveform and its rate.

        Returns:
            dict: The sample with the filterbank added.
        """
        if 'sample_rate' not in results:
            raise KeyError('KaldiFbank: the sample has no "sample_rate"; '
                           'load the waveform with LoadWaveform')
        wave = np.asarray(results[self.in_key])
        if wave.ndim != 1:
            raise ValueError(f'KaldiFbank: {self.in_key!r} must be a 1-D '
                             f'waveform, got shape {wave.shape}')
        results[self.out_key] = kaldi_fbank(
            wave,
            results['sample_rate'],
            num_mel_bins=self.num_mel_bins,
            frame_shift_ms=self.frame_shift_ms,
            target_length=self.target_length,
            norm_mean=self.norm_mean,
            norm_std=self.norm_std)[None]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_mel_bins={self.num_mel_bins}, '
                f'frame_shift_ms={self.frame_shift_ms}, '
                f'target_length={self.target_length}, '
                f'norm_mean={self.norm_mean}, norm_std={self.norm_std}, '
                f'in_key={self.in_key!r}, out_key={self.out_key!r})')


@TRANSFORMS.register_module()
class LoadAudioFeatureFile(BaseTransform):
    """Load a precomputed audio feature, e.g. a filterbank or spectrogram.

    Reads the reference's ``.pt`` files (a float tensor of shape (T, F),
    loaded with ``torch.load(weights_only=True)``, so no code in the file
    runs) and ``.npy`` files (as OGM-GE's Kinetics-Sounds spectrograms;
    loaded without pickle).

    Required keys: ``path_key`` (default ``audio_path``).
    Added keys: ``out_key`` (default ``audio``), float32 of shape (1, T, F).

    Args:
        path_key (str): Key of the file path. Defaults to ``'audio_path'``.
        out_key (str): Key of the feature. Defaults to ``'audio'``.
    """

    SUFFIXES = ('.pt', '.npy')

    def __init__(self,
                 path_key: str = 'audio_path',
                 out_key: str = 'audio') -> None:
        self.path_key = path_key
        self.out_key = out_key

    def transform(self, results: dict) -> dict:
        """Load one feature file.

        Args:
            results (dict): The sample, with the file path.

        Returns:
            dict: The sample with the feature added.
        """
        path = results[self.path_key]
        suffix = osp.splitext(path)[1].lower()
        if suffix not in self.SUFFIXES:
            raise ValueError(f'LoadAudioFeatureFile: {path}: expected one of '
                             f'{self.SUFFIXES}, got {suffix!r}')
        try:
            if suffix == '.pt':
                feature = torch.load(
                    path, map_location='cpu', weights_only=True)
            else:
                feature = np.load(path, allow_pickle=False)
        except (OSError, ValueError, RuntimeError, EOFError,
                pickle.UnpicklingError) as err:
            # torch and numpy report unreadable files in several ways.
            raise AudioFileError(f'LoadAudioFeatureFile: cannot read audio '
                                 f'feature file {path}: {err}') from err
        if isinstance(feature, torch.Tensor):
            floating = feature.is_floating_point()
            feature = feature.detach().to(
                torch.float32 if floating else feature.dtype).numpy()
        elif not isinstance(feature, np.ndarray):
            raise ValueError(f'LoadAudioFeatureFile: {path} holds a '
                             f'{type(feature).__name__}, not a tensor')
        if feature.ndim != 2 or not np.issubdtype(feature.dtype, np.floating):
            raise ValueError(
                f'LoadAudioFeatureFile: {path} holds an array of shape '
                f'{feature.shape} and dtype {feature.dtype}; expected a 2-D '
                'floating-point (time, frequency) feature')
        results[self.out_key] = feature.astype(np.float32)[None]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(path_key={self.path_key!r}, '
                f'out_key={self.out_key!r})')


@TRANSFORMS.register_module()
class CachedAudioFeature(BaseTransform):
    """Run audio transforms once per file and keep their result on disk.

    The inner ``transforms`` (e.g. ``LoadWaveform`` + ``LogSpectrogram`` or
    ``KaldiFbank``) compute ``out_key`` from the sample's source file
    (``path_key``); their result is saved as ``.npy`` under
    ``cache_dir/<settings hash>/`` and read back for later samples of the
    same file. The settings hash covers every inner transform's ``repr``
    (which states all its arguments, defaults included) and ``out_key``, so
    that any change of settings uses another folder, i.e. recomputes; the
    folder's ``settings.json`` says which settings it holds. An entry's name
    also hashes the source file's path, size and modification time, so an
    edited file is recomputed too (its old entry stays, unused).

    Entries are written atomically (a unique temporary file, then
    ``os.replace``), so several data loader workers and ranks may share a
    cache: at worst two compute the same entry and one rename wins.

    Only deterministic inner transforms make sense here: a random one
    (augmentation) would be frozen at its first draw. Only ``out_key`` is
    added to the sample, whether it is computed or read, so that both give
    the same sample.

    Required keys: ``path_key`` and whatever the inner transforms read.
    Added keys: ``out_key`` (default ``audio``).

    Args:
        cache_dir (str): Folder of the cache (created when needed).
        transforms (list[dict | callable]): The inner transforms, as configs
            (built in mmdr's registry) or callables whose ``repr`` states
            their settings.
        path_key (str): Key of the source file. Defaults to
            ``'audio_path'``.
        out_key (str): Key of the feature. Defaults to ``'audio'``.
    """

    #: Changed when the layout of the cache changes.
    CACHE_VERSION = 1

    def __init__(self,
                 cache_dir: str,
                 transforms: List[Union[dict, Callable]],
                 path_key: str = 'audio_path',
                 out_key: str = 'audio') -> None:
        self.transforms = [
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in transforms
        ]
        if not self.transforms:
            raise ValueError('CachedAudioFeature: no inner transform')
        self.path_key = path_key
        self.out_key = out_key
        self.settings = dict(
            version=self.CACHE_VERSION,
            out_key=out_key,
            transforms=[repr(t) for t in self.transforms])
        for text in self.settings['transforms']:
            # object.__repr__ names an address, not settings: such a key
            # would change every run, and hide a change of settings.
            if ' object at 0x' in text:
                raise ValueError(
                    f'CachedAudioFeature: {text} does not state its '
                    'settings in its repr, so it cannot key a cache')
        digest = hashlib.sha1(
            json.dumps(self.settings, sort_keys=True).encode()).hexdigest()
        self.cache_dir = cache_dir
        self.folder = osp.join(cache_dir, digest[:16])
        self._folder_ready = False

    def _prepare_folder(self) -> None:
        """Create the cache folder and its ``settings.json`` once."""
        if self._folder_ready:
            return
        os.makedirs(self.folder, exist_ok=True)
        settings = osp.join(self.folder, 'settings.json')
        if not osp.exists(settings):
            with open_atomic(settings, 'wb') as f:
                f.write(json.dumps(self.settings, indent=2).encode())
        self._folder_ready = True

    def entry_path(self, source: str) -> str:
        """The cache entry of a source file as it is now.

        Args:
            source (str): The source file; it must exist.

        Returns:
            str: ``<folder>/<stem>-<hash of path, size, mtime>.npy``.
        """
        stat = os.stat(source)
        key = f'{osp.realpath(source)}\0{stat.st_size}\0{stat.st_mtime_ns}'
        stem = osp.splitext(osp.basename(source))[0]
        digest = hashlib.sha1(key.encode()).hexdigest()[:20]
        return osp.join(self.folder, f'{stem}-{digest}.npy')

    def _compute(self, results: dict) -> Optional[np.ndarray]:
        """Run the inner transforms on a copy of the sample."""
        branch = dict(results)
        for transform in self.transforms:
            branch = transform(branch)
            if branch is None:
                return None
        if self.out_key not in branch:
            raise KeyError(f'CachedAudioFeature: the inner transforms '
                           f'produced no {self.out_key!r}')
        return np.asarray(branch[self.out_key])

    def transform(self, results: dict) -> Optional[dict]:
        """Read the sample's feature from the cache, or compute and store it.

        Args:
            results (dict): The sample, with the source file path.

        Returns:
            dict: The sample with the feature added, or None when an inner
            transform drops the sample.
        """
        source = results[self.path_key]
        try:
            entry = self.entry_path(source)
        except OSError:
            entry = None  # a missing source: the inner loader says so
        if entry is not None and osp.exists(entry):
            try:
                results[self.out_key] = np.load(entry, allow_pickle=False)
                return results
            except (OSError, ValueError, EOFError):
                pass  # unreadable (e.g. a full disk once): recompute it
        feature = self._compute(results)
        if feature is None:
            return None
        if entry is not None:
            self._prepare_folder()
            with open_atomic(entry, 'wb') as f:
                np.save(f, feature, allow_pickle=False)
        results[self.out_key] = feature
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(cache_dir={self.cache_dir!r}, '
                f'transforms={self.transforms}, '
                f'path_key={self.path_key!r}, out_key={self.out_key!r})')
