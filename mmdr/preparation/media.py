"""Decoding audio-visual media for the preparation tools, with PyAV.

* :func:`container_truncation`: a cut FLV, MP4/MOV or RIFF (AVI, WAV)
  file, told from its structure (FFmpeg and decord decode such a file up to
  the cut without complaint).
* :func:`frames_at_1fps`: a video's frames at 1 fps. Frame ``k`` is the
  first decoded frame whose presentation time is at or after ``k - 1``
  seconds, times counted from the first decoded frame (exact rational
  arithmetic on the stream's time base): a 2.5 s clip gives 3 frames, a
  10 s clip 10. Decoded with PyAV (FFmpeg: VP6 and FLV1 in FLV, H.264 in
  MP4, ...); original size, or the short side resized to ``short_side``
  (:func:`target_size`, mmaction2's rule, bilinear).
* :func:`audio_track`: a video's audio track as mono float32.
* :func:`encode_jpeg`, :func:`tensor_bytes`: the bytes of a file, in
  memory, so that the file can be written atomically.

A file that cannot be used raises :class:`ClipError` with a message that
names it.
"""
import io
import os.path as osp
import struct
from fractions import Fraction
from typing import Iterator, Optional, Tuple

import cv2
import numpy as np


class ClipError(Exception):
    """The clip cannot be used: missing, corrupt, truncated or too short."""


def first_line(err: BaseException) -> str:
    """``<Type>: <first line of the message>`` of an error.

    FFmpeg's errors (PyAV's ``av.error``) keep their message without the
    file name PyAV appends; decord's and others' keep their first line.
    """
    text = str(err)
    if type(err).__module__.startswith('av.') and getattr(
            err, 'strerror', None):
        text = err.strerror
    lines = text.strip().splitlines()
    return f'{type(err).__name__}: {lines[0] if lines else ""}'.strip()


def _header_at(f, pos: int, length: int, size: int,
               what: str) -> Tuple[bytes, Optional[str]]:
    """Read ``length`` header bytes at ``pos``; say so if the file ends
    first (``what`` names the header in the message)."""
    f.seek(pos)
    head = f.read(length)
    if len(head) < length:
        return head, (f'truncated: the file has {size} bytes, {what} at '
                      f'byte {pos} is cut')
    return head, None


def _flv_truncation(f, size: int) -> Optional[str]:
    """Walk an FLV file's tags; say where the last one is cut."""
    f.seek(5)
    head = f.read(4)
    if len(head) < 4:
        return f'truncated: {size} bytes, not even an FLV header'
    pos = struct.unpack('>I', head)[0] + 4  # header, PreviousTagSize0
    while pos < size:
        tag, cut = _header_at(f, pos, 11, size, 'an FLV tag header')
        if cut:
            return cut
        data = int.from_bytes(tag[1:4], 'big')
        end = pos + 11 + data + 4  # header, data, PreviousTagSize
        # A writer may leave out the last PreviousTagSize: allow that.
        if end > size and end - 4 != size:
            return (f'truncated: the file has {size} bytes, its last FLV tag '
                    f'(at byte {pos}) declares {data} bytes of data, '
                    f'{max(size - pos - 11, 0)} follow')
        pos = end
    return None


def _bmff_truncation(f, size: int) -> Optional[str]:
    """Walk an MP4 (ISO BMFF) file's top-level boxes; find a cut one."""
    pos = 0
    while pos < size:
        head, cut = _header_at(f, pos, 8, size, 'a box header')
        if cut:
            return cut
        length, kind = struct.unpack('>I', head[:4])[0], head[4:8]
        if length == 1:
            large = f.read(8)
            if len(large) < 8:
                return f'truncated: a box header at byte {pos} is cut'
            length = struct.unpack('>Q', large)[0]
        elif length == 0:  # the last box, up to the end of the file
            return None
        if length < 8:
            return None  # not a box structure we understand: FFmpeg judges
        if pos + length > size:
            name = kind.decode('latin-1')
            return (f'truncated: the file has {size} bytes, its {name!r} box '
                    f'at byte {pos} declares {length}')
        pos += length
    return None


def riff_truncation(path: str) -> Optional[str]:
    """Detect a truncated RIFF file (AVI, WAV) from its header.

    Args:
        path (str): The file.

    Returns:
        str | None: Why it is truncated, or None (not RIFF, or whole).
    """
    with open(path, 'rb') as f:
        head = f.read(12)
    if len(head) < 12 or head[:4] != b'RIFF':
        return None
    declared = struct.unpack('<I', head[4:8])[0] + 8
    actual = osp.getsize(path)
    if actual < declared:
        return (f'truncated: the file has {actual} bytes, its RIFF header '
                f'declares {declared}')
    return None


def container_truncation(path: str) -> Optional[str]:
    """Detect a cut FLV, MP4/MOV or RIFF (AVI, WAV) file from its structure.

    FFmpeg decodes a truncated FLV or MP4 whose index comes first up to the
    cut without an error, so the structure is checked here. (Not PyAV's
    durations: a cut file reports the duration its header declares, and the
    walk names the byte where the file ends.)

    Args:
        path (str): The file.

    Returns:
        str | None: Why it is truncated, or None (whole, or a format not
        checked here).
    """
    size = osp.getsize(path)
    with open(path, 'rb') as f:
        head = f.read(12)
        if head[:3] == b'FLV':
            return _flv_truncation(f, size)
        if head[4:8] in (b'ftyp', b'moov', b'mdat', b'free', b'skip', b'wide'):
            return _bmff_truncation(f, size)
    return riff_truncation(path)


def target_size(width: int, height: int, short_side: int) -> Tuple[int, int]:
    """Size with the short side at ``short_side`` (mmaction2's rule).

    Args:
        width (int): Original width.
        height (int): Original height.
        short_side (int): Target short side; 0 keeps the size.

    Returns:
        tuple[int, int]: ``(width, height)``; 320x240 becomes 341x256.
    """
    if short_side <= 0:
        return width, height
    if height <= width:
        return int(short_side / height * width), short_side
    return short_side, int(short_side / width * height)


def _open(path: str):
    """Open a media file with PyAV after the truncation check."""
    import av

    if not osp.isfile(path):
        raise ClipError(f'missing: {path}')
    reason = container_truncation(path)
    if reason:
        raise ClipError(f'{osp.basename(path)}: {reason}')
    try:
        return av.open(path)
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise ClipError(f'{osp.basename(path)}: cannot be opened: '
                        f'{first_line(err)}')


def frames_at_1fps(path: str, short_side: int = 0) -> Iterator[np.ndarray]:
    """Yield a video's frames at 1 fps as BGR images (see the module doc).

    Args:
        path (str): The video file.
        short_side (int): Resize the short side to this; 0 keeps the size.

    Yields:
        np.ndarray: Frame 1, 2, ... (H, W, 3) uint8 BGR.

    Raises:
        ClipError: Missing, truncated, unreadable, no video stream, or a
            decode error.
    """
    import av

    container = _open(path)
    with container:
        if not container.streams.video:
            raise ClipError(f'{osp.basename(path)}: no video stream')
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1  # workers are the parallelism
        base = stream.time_base or Fraction(1, 1000)
        rate = stream.average_rate or Fraction(25)
        start, emitted, decoded = None, 0, 0
        try:
            for frame in container.decode(stream):
                decoded += 1
                if frame.pts is not None:
                    t = Fraction(frame.pts) * base
                else:  # no timestamp: assume a constant rate
                    t = Fraction(decoded - 1) / rate
                if start is None:
                    start = t
                # Frame k is the first at or after k - 1 s; a frame after a
                # gap of several seconds stands for every second it spans.
                while t - start >= emitted:
                    emitted += 1
                    image = frame.to_ndarray(format='bgr24')
                    size = target_size(image.shape[1], image.shape[0],
                                       short_side)
                    if size != (image.shape[1], image.shape[0]):
                        image = cv2.resize(
                            image, size, interpolation=cv2.INTER_LINEAR)
                    yield image
        except av.error.FFmpegError as err:
            raise ClipError(
                f'{osp.basename(path)}: decode error after {decoded} '
                f'frames: {first_line(err)}')
    if decoded == 0:
        raise ClipError(f'{osp.basename(path)}: no frame could be decoded')


def audio_track(path: str) -> Tuple[np.ndarray, int]:
    """Decode a video's audio track to mono float32.

    The channels are averaged (as ``librosa.load`` mixes down); the samples
    are cut to the track's declared duration where the decoder gives more
    (the encoder's padding of the last AAC frame), as FFmpeg's command line
    does.

    Args:
        path (str): The video file.

    Returns:
        tuple[np.ndarray, int]: Samples (L, ) in [-1, 1] and their rate.

    Raises:
        ClipError: No audio track, a decode error, or no sample.
    """
    import av

    container = _open(path)
    with container:
        if not container.streams.audio:
            raise ClipError(f'{osp.basename(path)}: no audio track')
        stream = container.streams.audio[0]
        stream.codec_context.thread_count = 1
        # Planar float: one row per channel, whatever the decoder gives.
        resampler = av.AudioResampler(format='fltp')
        chunks, rate = [], stream.rate
        try:
            for frame in container.decode(stream):
                rate = frame.sample_rate or rate
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except av.error.FFmpegError as err:
            raise ClipError(f'{osp.basename(path)}: audio decode error: '
                            f'{first_line(err)}')
        declared = None
        if stream.duration and stream.time_base and rate:
            declared = int(round(stream.duration * stream.time_base * rate))
    if not chunks or not rate:
        raise ClipError(f'{osp.basename(path)}: the audio track holds no '
                        'sample')
    samples = np.concatenate(chunks, axis=1).mean(axis=0, dtype=np.float32)
    if declared and samples.shape[0] > declared:
        samples = samples[:declared]
    if samples.shape[0] == 0:
        raise ClipError(f'{osp.basename(path)}: the audio track holds no '
                        'sample')
    return samples, int(rate)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of a BGR or grayscale image, as ``cv2.imwrite`` writes
    them."""
    ok, buf = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError('OpenCV could not encode a JPEG image')
    return buf.tobytes()


def tensor_bytes(array: np.ndarray) -> bytes:
    """``torch.save`` of an array as a tensor, in memory.

    Saved to a buffer, not to the file, so that the bytes do not depend on
    the file's name and the file can be written atomically.
    """
    import torch

    buf = io.BytesIO()
    torch.save(torch.from_numpy(np.ascontiguousarray(array)), buf)
    return buf.getvalue()
