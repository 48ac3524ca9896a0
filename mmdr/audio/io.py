"""Reading, writing and resampling audio, without any registry.

Files are read with ``soundfile`` (libsndfile: WAV, FLAC, OGG, ...) and
resampled with ``soxr`` at its 'HQ' quality, which is what
``librosa.load(path, sr=...)`` does since librosa 0.10.
"""
import math
import os
import struct
from typing import Optional, Tuple

import numpy as np
import soundfile
import soxr

from mmdr.utils.atomic_write import open_atomic

#: A RIFF chunk size that streaming writers (e.g. ffmpeg into a pipe) leave
#: when they cannot seek back to fill it in: the size is unknown.
_UNKNOWN_CHUNK_SIZE = 0xFFFFFFFF


class AudioFileError(OSError):
    """An audio file that cannot be used; the message names the file."""


def wav_data_shortfall(path: str) -> Optional[Tuple[int, int]]:
    """Compare a WAV file's declared audio data size with what it holds.

    libsndfile silently reads a truncated WAV up to its end, so the
    truncation is seen here, in the RIFF header: the ``data`` chunk's
    declared size against the bytes that follow it.

    Args:
        path (str): The file.

    Returns:
        tuple[int, int] | None: ``(declared, present)`` bytes of audio data
        when the file is a RIFF/RIFX WAVE file holding fewer bytes than its
        ``data`` chunk declares, else None (not a WAV file, a complete one,
        or one whose size is unknown).
    """
    with open(path, 'rb') as f:
        head = f.read(12)
        if len(head) < 12 or head[8:12] != b'WAVE':
            return None
        order = {b'RIFF': '<', b'RIFX': '>'}.get(head[:4])
        if order is None:  # RF64 and others: left to libsndfile
            return None
        file_size = os.fstat(f.fileno()).st_size
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None  # no data chunk: libsndfile reports it
            chunk_id, size = chunk[:4], struct.unpack(order + 'I',
                                                      chunk[4:])[0]
            if chunk_id == b'data':
                present = file_size - f.tell()
                if size != _UNKNOWN_CHUNK_SIZE and size > present:
                    return size, present
                return None
            f.seek(size + (size & 1), os.SEEK_CUR)  # chunks are word aligned


def resample(samples: np.ndarray, orig_rate: int,
             target_rate: int) -> np.ndarray:
    """Resample with soxr at 'HQ' quality, as ``librosa.resample`` does.

    As librosa (``res_type='soxr_hq'``, ``fix=True``), the result is zero
    padded or cut to ``ceil(len(samples) * target_rate / orig_rate)``.

    Args:
        samples (np.ndarray): Mono samples, shape (L, ).
        orig_rate (int): Their sample rate in Hz.
        target_rate (int): The wanted sample rate in Hz.

    Returns:
        np.ndarray: The resampled samples, same dtype (float32 or float64).
    """
    if orig_rate <= 0 or target_rate <= 0:
        raise ValueError('resample: sample rates must be positive, got '
                         f'{orig_rate} and {target_rate}')
    samples = np.asarray(samples)
    if samples.dtype not in (np.float32, np.float64):
        samples = samples.astype(np.float32)
    if orig_rate == target_rate:
        return samples.copy()
    out = soxr.resample(samples, orig_rate, target_rate, quality='HQ')
    length = math.ceil(samples.shape[0] * target_rate / orig_rate)
    if out.shape[0] < length:
        out = np.pad(out, (0, length - out.shape[0]))
    return out[:length]


def read_audio(path: str,
               sample_rate: Optional[int] = None) -> Tuple[np.ndarray, int]:
    """Read an audio file as mono float32, resampled when asked.

    The file is read with soundfile as float32 in [-1, 1], mixed down to
    mono (the mean of the channels) and, when ``sample_rate`` is given and
    differs from the file's, resampled with soxr 'HQ': what
    ``librosa.load(path, sr=sample_rate)`` does.

    Args:
        path (str): The file.
        sample_rate (int, optional): The wanted sample rate in Hz. None
            keeps the file's. Defaults to None.

    Returns:
        tuple[np.ndarray, int]: The samples, float32 of shape (L, ), and
        their sample rate.

    Raises:
        AudioFileError: When the file cannot be read, is truncated (its
            header promises more audio than it holds) or holds no sample;
            the message names the file.
    """
    try:
        shortfall = wav_data_shortfall(path)
        with soundfile.SoundFile(path) as f:
            declared_frames = f.frames
            rate = f.samplerate
            samples = f.read(dtype='float32', always_2d=True)
    except (soundfile.SoundFileError, OSError) as err:
        raise AudioFileError(f'cannot read audio file {path}: {err}') from err
    if shortfall is not None:
        raise AudioFileError(
            f'audio file {path} is truncated: its header declares '
            f'{shortfall[0]} bytes of audio data, the file holds '
            f'{shortfall[1]}')
    if samples.shape[0] < declared_frames:
        raise AudioFileError(
            f'audio file {path} is truncated: its header declares '
            f'{declared_frames} frames, {samples.shape[0]} could be read')
    if samples.shape[0] == 0:
        raise AudioFileError(f'audio file {path} holds no sample')
    samples = samples.mean(axis=1, dtype=np.float32)
    if sample_rate is not None and sample_rate != rate:
        samples = resample(samples, rate, sample_rate)
        rate = sample_rate
    return samples, rate


def write_wav(path: str, samples: np.ndarray, sample_rate: int) -> None:
    """Write a 16-bit PCM mono WAV file atomically.

    The file is written next to ``path`` under a temporary name and then
    renamed, so that a reader (or a concurrent writer) never sees a partial
    file. Samples outside [-1, 1] are clipped.

    Args:
        path (str): The file to write (replaced if it exists).
        samples (np.ndarray): Mono samples in [-1, 1], shape (L, ).
        sample_rate (int): Their sample rate in Hz.
    """
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f'write_wav: {path}: expected mono samples of '
                         f'shape (L, ), got {samples.shape}')
    with open_atomic(path, 'wb') as f:
        soundfile.write(
            f,
            np.clip(samples, -1.0, 1.0),
            sample_rate,
            format='WAV',
            subtype='PCM_16')


def tile_or_cut(samples: np.ndarray, num_samples: int) -> np.ndarray:
    """Repeat a short clip, or cut a long one, to ``num_samples`` samples.

    OGM-GE repeats a short clip rather than padding it with silence, so
    that every sample gives a spectrogram of the same shape. ``np.resize``
    does exactly that; the checks here refuse what it would accept silently
    (an empty clip gives zeros, a 2-D one is flattened).

    Args:
        samples (np.ndarray): Mono samples, shape (L, ) with L > 0.
        num_samples (int): The wanted length.

    Returns:
        np.ndarray: Shape (num_samples, ), same dtype.
    """
    samples = np.asarray(samples)
    if samples.ndim != 1 or samples.shape[0] == 0:
        raise ValueError('tile_or_cut: expected a non-empty 1-D array, got '
                         f'shape {samples.shape}')
    if num_samples < 0:
        raise ValueError(f'tile_or_cut: num_samples must be >= 0, got '
                         f'{num_samples}')
    return np.resize(samples, num_samples)
