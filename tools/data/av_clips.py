"""Audio-visual clips to frames at 1 fps and audio files; resumably.

What ``tools/data/cremad/prepare_cremad.py`` and
``tools/data/kinetics_sounds/prepare_kinetics_sounds.py`` share: one clip's
preparation (the workers' task), its ``.done`` marker, their common
options, the plan of a run, the disk space estimate of ``--dry-run``, the
run itself and the files and messages that close it.

One clip ``<name>`` gives, under the output root (the layout OGM-GE and
Diagnosing & Re-learning read):

* ``visual/<name>/frame_00001.jpg``, ``frame_00002.jpg``, ...: one frame
  per second, 1-based. Frame ``k`` is the first decoded frame whose
  presentation time is at or after ``k - 1`` seconds, times counted from
  the first decoded frame (exact rational arithmetic on the stream's time
  base): a 2.5 s clip gives 3 frames, a 10 s clip 10. Decoded with PyAV
  (FFmpeg: VP6 and FLV1 in FLV, H.264 in MP4, ...); original size, or the
  short side resized to ``short_side`` (mmaction2's rule, bilinear); JPEG
  quality 95 (OpenCV's default, which OGM-GE's ``cv2.imencode`` used). The
  folder holds the frames only: the reference counts its entries.
* ``audio/<name>.wav``: 16-bit PCM mono at the tool's rate, from a WAV
  file (CREMA-D's ``AudioWAV``) or from the video's own audio track (the
  channels averaged, trimmed to the track's declared duration as FFmpeg's
  command line does, resampled with soxr HQ); ``mmdr.audio``'s
  ``read_audio``, ``resample`` and ``write_wav``.
* ``audio/<name>.pt`` (``--audio fbank`` or ``both``): ``torch.save`` of
  ``mmdr.audio.frontends.kaldi_fbank`` of the clip's 16 kHz 16-bit audio, a
  float32 tensor (1024, 128): what OGM-GE's Kinetics-Sounds
  ``process_audio.py`` computes from the WAV file with torchaudio.
* ``.mmdr_prepare/<name>.done``: the marker (JSON), written last and
  atomically: settings, a fingerprint of every source file, the frame
  count and the size of every output file. :func:`marker_state` tells a
  finished clip from a half-written one (no marker), one made with other
  settings or from a changed source, or one whose files were touched; such
  clips are redone from scratch (marker removed first, outputs next).

A clip that cannot be used raises :class:`ClipError` and leaves no output:
a source file that is missing, truncated (an FLV tag, an MP4 box or a RIFF
chunk runs past the end of the file: FFmpeg would decode up to the cut
without complaint), unreadable, undecodable, without a video stream or an
audio track, or with fewer 1-fps frames than ``min_frames``.

Test hook: with the environment variable ``MMDR_PREPARE_INTERRUPT_AT`` set
to a clip name, the preparation of that clip raises ``KeyboardInterrupt``
after writing its frames (as a Ctrl-C there would), so that tests can
interrupt a run at a known point (with ``--workers 1``).
"""
import argparse
import hashlib
import io
import json
import os
import os.path as osp
import shutil
import struct
from fractions import Fraction
from typing import (Callable, Dict, Iterator, List, NamedTuple, Optional,
                    Sequence, Tuple)

import cv2
import numpy as np
# The UCF-101 tool's process pool and mmaction2's resize rule (tools/data is
# on sys.path: see the tools).
from ucf101.extract_rawframes import target_size
from ucf101.parallel import run_parallel, warn_exit

FRAME_TMPL = 'frame_{:05d}.jpg'
MARKER_DIR = '.mmdr_prepare'
MARKER_EXT = '.done'
JPEG_QUALITY = 95
#: Rate of the audio the filterbank is computed from.
FBANK_RATE = 16000
#: Bumped when a change of this module changes what a clip's files hold,
#: so that markers of older runs no longer count as done.
RECIPE = 1
SKIPPED = 'skipped.txt'
#: Exit status of an interrupted run (as a shell reports SIGINT).
INTERRUPTED = 130
AUDIO_CHOICES = ('wav', 'fbank', 'both')
INTERRUPT_ENV = 'MMDR_PREPARE_INTERRUPT_AT'
#: Bytes hashed at each end of a source file for its fingerprint.
FINGERPRINT_BYTES = 8192


class ClipError(Exception):
    """The clip cannot be used: missing, corrupt, truncated or too short."""


class Settings(NamedTuple):
    """What a clip's files depend on (recorded in its marker).

    Attributes:
        wav_rate (int): Sample rate of ``audio/<name>.wav``.
        audio (str): ``wav``, ``fbank`` or ``both``.
        short_side (int): Short side of the frames, 0 for the original.
        jpeg_quality (int): JPEG quality, 1..100.
    """
    wav_rate: int
    audio: str = 'wav'
    short_side: int = 0
    jpeg_quality: int = JPEG_QUALITY

    @property
    def wav(self) -> bool:
        """Whether ``audio/<name>.wav`` is written."""
        return self.audio in ('wav', 'both')

    @property
    def fbank(self) -> bool:
        """Whether ``audio/<name>.pt`` is written."""
        return self.audio in ('fbank', 'both')


class ClipJob(NamedTuple):
    """One clip to prepare (a worker's task).

    Attributes:
        name (str): The clip's name, e.g. ``1001_DFA_ANG_XX``.
        video (str): Its video file.
        audio (str | None): Its WAV file; None takes the video's audio
            track.
        out (str): The output root.
        settings (Settings): How to prepare it.
        min_frames (int): Fewer 1-fps frames make the clip unusable.
    """
    name: str
    video: str
    audio: Optional[str]
    out: str
    settings: Settings
    min_frames: int


def settings_dict(settings: Settings) -> Dict:
    """Settings as recorded in markers and summaries (with the recipe)."""
    return dict(
        settings._asdict(),
        recipe=RECIPE,
        frames='1 fps, from the first decoded frame',
        fbank=(f'kaldi_fbank at {FBANK_RATE} Hz: 128 mel bins, 10 ms shift, '
               '1024 frames' if settings.fbank else None))


# ------------------------------------------------------------ source files


def _first_line(err: BaseException) -> str:
    # FFmpeg's errors (PyAV's av.error) name the file: keep the message.
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


def container_truncation(path: str) -> Optional[str]:
    """Detect a cut FLV, MP4/MOV or RIFF (AVI, WAV) file from its structure.

    FFmpeg decodes a truncated FLV or MP4 whose index comes first up to the
    cut without an error, so the structure is checked here.

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
        if len(head) == 12 and head[:4] == b'RIFF':
            declared = struct.unpack('<I', head[4:8])[0] + 8
            if size < declared:
                return (f'truncated: the file has {size} bytes, its RIFF '
                        f'header declares {declared}')
    return None


def fingerprint(path: str) -> str:
    """Size and SHA-256 of both ends of a file: cheap, and robust to copies.

    Args:
        path (str): The file.

    Returns:
        str: ``<size>:<hex digest>``.
    """
    size = osp.getsize(path)
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        digest.update(f.read(FINGERPRINT_BYTES))
        if size > FINGERPRINT_BYTES:
            f.seek(max(FINGERPRINT_BYTES, size - FINGERPRINT_BYTES))
            digest.update(f.read())
    return f'{size}:{digest.hexdigest()}'


def sources_of(job: ClipJob) -> Dict[str, str]:
    """Fingerprints of the clip's source files (those that exist)."""
    paths = dict(video=job.video)
    if job.audio is not None:
        paths['audio'] = job.audio
    return {k: fingerprint(p) for k, p in paths.items() if osp.isfile(p)}


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
                        f'{_first_line(err)}')


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
                f'frames: {_first_line(err)}')
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
                            f'{_first_line(err)}')
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
    """JPEG bytes of a BGR image, as ``cv2.imwrite`` writes them."""
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


# ---------------------------------------------------------------- writers


def frame_dir(out: str, name: str) -> str:
    """``<out>/visual/<name>``."""
    return osp.join(out, 'visual', name)


def audio_path(out: str, name: str, ext: str) -> str:
    """``<out>/audio/<name><ext>``."""
    return osp.join(out, 'audio', name + ext)


def marker_path(out: str, name: str) -> str:
    """``<out>/.mmdr_prepare/<name>.done``."""
    return osp.join(out, MARKER_DIR, name + MARKER_EXT)


class _DiskWriter:
    """Write a clip's files under the output root; remember their sizes."""

    def __init__(self, out: str, name: str) -> None:
        self.out, self.name = out, name
        self.files: Dict[str, int] = {}
        os.makedirs(frame_dir(out, name))
        os.makedirs(osp.join(out, 'audio'), exist_ok=True)

    def _put(self, path: str, data: bytes) -> None:
        tmp = path + '.tmp'
        with open(tmp, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
        self._record(path)

    def _record(self, path: str) -> None:
        rel = osp.relpath(path, self.out).replace(os.sep, '/')
        self.files[rel] = osp.getsize(path)

    def frame(self, index: int, jpeg: bytes) -> None:
        self._put(
            osp.join(frame_dir(self.out, self.name), FRAME_TMPL.format(index)),
            jpeg)

    def wav(self, samples: np.ndarray, rate: int, keep: bool,
            read_back: bool) -> np.ndarray:
        """Write the WAV file (a temporary one unless ``keep``); return
        the samples as stored (16-bit) when ``read_back``."""
        from mmdr.audio.io import read_audio, write_wav

        path = audio_path(self.out, self.name, '.wav')
        if not keep:
            path = audio_path(self.out, self.name, '.fbank-source.wav')
        write_wav(path, samples, rate)
        stored = read_audio(path)[0] if read_back else samples
        if keep:
            self._record(path)
        else:
            os.remove(path)
        return stored

    def tensor(self, array: np.ndarray) -> None:
        self._put(audio_path(self.out, self.name, '.pt'), tensor_bytes(array))


class _SizeCounter:
    """Count the bytes a clip's files would take, writing nothing."""

    def __init__(self) -> None:
        self.files: Dict[str, int] = {}

    def frame(self, index: int, jpeg: bytes) -> None:
        self.files[FRAME_TMPL.format(index)] = len(jpeg)

    def wav(self, samples: np.ndarray, rate: int, keep: bool,
            read_back: bool) -> np.ndarray:
        if keep:  # a 44-byte header and 2 bytes a sample
            self.files['wav'] = 44 + 2 * samples.shape[0]
        return samples

    def tensor(self, array: np.ndarray) -> None:
        self.files['pt'] = len(tensor_bytes(array))


def _build(job: ClipJob, writer) -> int:
    """Decode one clip and hand its files to ``writer``; return frames.

    The audio comes first: it is cheap and catches a bad WAV file before
    the video is decoded.
    """
    from mmdr.audio.frontends import kaldi_fbank
    from mmdr.audio.io import AudioFileError, read_audio, resample

    settings = job.settings
    try:
        if job.audio is not None:  # a WAV file of its own
            if not osp.isfile(job.audio):
                raise ClipError(f'missing: {job.audio}')
            wav = fbank_in = None
            if settings.wav:
                wav = read_audio(job.audio, settings.wav_rate)[0]
            if settings.fbank:
                fbank_in = read_audio(job.audio, FBANK_RATE)[0]
        else:  # the video's track, stored as 16-bit first
            track, rate = audio_track(job.video)
            wav = resample(track, rate, settings.wav_rate)
            fbank_in = None
    except AudioFileError as err:
        raise ClipError(str(err).replace(osp.dirname(job.audio) + os.sep, ''))

    count = 0
    for image in frames_at_1fps(job.video, settings.short_side):
        count += 1
        writer.frame(count, encode_jpeg(image, settings.jpeg_quality))
        if count == 1 and os.environ.get(INTERRUPT_ENV) == job.name:
            raise KeyboardInterrupt(f'{INTERRUPT_ENV}={job.name}')
    if count < job.min_frames:
        raise ClipError(f'{count} frame(s) at 1 fps: at least '
                        f'{job.min_frames} are needed (--min-frames)')

    if job.audio is None:
        # As the reference: the filterbank of the 16-bit WAV file.
        stored = writer.wav(
            wav,
            settings.wav_rate,
            keep=settings.wav,
            read_back=settings.fbank)
        if settings.fbank:
            fbank_in = (
                stored if settings.wav_rate == FBANK_RATE else resample(
                    stored, settings.wav_rate, FBANK_RATE))
    elif settings.wav:
        writer.wav(wav, settings.wav_rate, keep=True, read_back=False)
    if settings.fbank:
        writer.tensor(kaldi_fbank(fbank_in, FBANK_RATE))
    return count


# ---------------------------------------------------------------- markers


def remove_outputs(out: str, name: str) -> None:
    """Remove a clip's marker (first), frames and audio files."""
    marker = marker_path(out, name)
    if osp.exists(marker):
        os.remove(marker)
    shutil.rmtree(frame_dir(out, name), ignore_errors=True)
    for ext in ('.wav', '.pt', '.fbank-source.wav', '.pt.tmp'):
        path = audio_path(out, name, ext)
        if osp.exists(path):
            os.remove(path)


def read_marker(out: str, name: str) -> Optional[Dict]:
    """A clip's marker, or None if missing or unreadable."""
    try:
        with open(marker_path(out, name)) as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def write_marker(job: ClipJob, frames: int, files: Dict[str, int],
                 sources: Dict[str, str]) -> None:
    """Write a clip's marker last, atomically (temp file + rename)."""
    marker = dict(
        name=job.name,
        settings=settings_dict(job.settings),
        sources=sources,
        frames=frames,
        files=dict(sorted(files.items())))
    path = marker_path(job.out, job.name)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path + '.tmp', 'w') as f:
        json.dump(marker, f, sort_keys=True)
        f.write('\n')
    os.replace(path + '.tmp', path)


def marker_state(job: ClipJob) -> Tuple[str, str]:
    """Tell whether a clip is finished.

    Args:
        job (ClipJob): The clip, with this run's settings.

    Returns:
        tuple[str, str]: ``('new', '')`` (nothing written), ``('done',
        '')``, or ``('redo', why)``: no marker (half-written), other
        settings, a changed source file, or files missing, changed or
        extra.
    """
    marker = read_marker(job.out, job.name)
    if marker is None:
        touched = osp.isdir(frame_dir(job.out, job.name)) or any(
            osp.exists(audio_path(job.out, job.name, e))
            for e in ('.wav', '.pt'))
        return ('redo',
                'half-written (no .done marker)') if touched else ('new', '')
    if marker.get('settings') != settings_dict(job.settings):
        return 'redo', 'made with other settings'
    if marker.get('sources') != sources_of(job):
        return 'redo', 'a source file changed'
    files = marker.get('files', {})
    for rel, size in files.items():
        path = osp.join(job.out, rel)
        if not osp.isfile(path) or osp.getsize(path) != size:
            return 'redo', 'files missing or changed'
    folder = frame_dir(job.out, job.name)
    if not osp.isdir(folder) or len(
            os.listdir(folder)) != marker.get('frames'):
        return 'redo', 'files missing or changed'
    return 'done', ''


# ------------------------------------------------------------ the workers


def prepare_clip(job: ClipJob) -> Dict:
    """Prepare one clip from scratch; the workers' task.

    Its marker and files are removed first, the files written, the marker
    last. An unusable clip leaves nothing. A ``KeyboardInterrupt`` leaves
    what was written (no marker: the next run redoes the clip).

    Args:
        job (ClipJob): The clip.

    Returns:
        dict: ``name``, ``status`` (``done``; ``corrupt`` for an unusable
        clip; ``error`` for anything else, e.g. a full disk), ``reason``
        and ``frames``.
    """
    result = dict(name=job.name, status='done', reason='', frames=0)
    try:
        remove_outputs(job.out, job.name)
        sources = sources_of(job)
        writer = _DiskWriter(job.out, job.name)
        result['frames'] = _build(job, writer)
        write_marker(job, result['frames'], writer.files, sources)
    except ClipError as err:
        result.update(status='corrupt', reason=str(err))
    except Exception as err:  # reported; the run exits non-zero
        result.update(status='error', reason=_first_line(err))
    if result['status'] != 'done':
        remove_outputs(job.out, job.name)
    return result


def worker_init() -> None:
    """One thread per worker for OpenCV and torch (workers are the
    parallelism)."""
    cv2.setNumThreads(1)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass


def clip_bytes(job: ClipJob) -> Optional[int]:
    """Bytes a clip's files would take (decoded and encoded, not written).

    Returns:
        int | None: The total, or None for an unusable clip.
    """
    counter = _SizeCounter()
    try:
        _build(job, counter)
    except ClipError:
        return None
    return sum(counter.files.values())


# ----------------------------------------------------------- the run plan


def classify(jobs: List[ClipJob]) -> Dict[str, List]:
    """Sort clips into ``done``, ``new`` and ``redo`` (with the reasons)."""
    state = dict(done=[], new=[], redo=[])
    for job in jobs:
        kind, why = marker_state(job)
        state[kind].append((job, why) if kind == 'redo' else job)
    return state


def plan_line(num: int, state: Dict[str, List]) -> str:
    """``Plan: N clips: a already done, b to prepare, c to redo (...)``."""
    why: Dict[str, int] = {}
    for _, reason in state['redo']:
        why[reason] = why.get(reason, 0) + 1
    return (f'Plan: {num} clips: {len(state["done"])} already done, '
            f'{len(state["new"])} to prepare, {len(state["redo"])} to redo' +
            (' (' + ', '.join(f'{n} {w}' for w, n in sorted(why.items())) +
             ')' if why else ''))


def estimate_disk(jobs: List[ClipJob], samples: int) -> str:
    """Estimate the disk space of ``jobs`` from a few sampled clips.

    The sampled clips are decoded and encoded in memory (nothing is
    written) and their mean size is extrapolated.

    Args:
        jobs (list[ClipJob]): The clips to prepare.
        samples (int): Clips sampled, spread over the list.

    Returns:
        str: ``Disk estimate: X GB ...``.
    """
    if not jobs:
        return 'Disk estimate: nothing to prepare.'
    step = max(1, len(jobs) // samples)
    picked = jobs[::step][:samples]
    worker_init()
    sizes = [s for s in (clip_bytes(j) for j in picked) if s is not None]
    if not sizes:
        return (f'Disk estimate: none of the {len(picked)} sampled clips '
                'could be prepared.')
    mean = sum(sizes) / len(sizes)
    total = mean * len(jobs)
    unusable = len(picked) - len(sizes)
    return (f'Disk estimate: {total / 1e9:.2f} GB for {len(jobs)} clips '
            f'({mean / 1e3:.1f} kB a clip, the mean of {len(sizes)} sampled '
            'clip(s) decoded and encoded in memory' +
            (f'; {unusable} sampled clip(s) unusable' if unusable else '') +
            '; file system blocks not counted).')


# ------------------------------------------------------- summary outputs


def sha256_file(path: str) -> str:
    """Hex SHA-256 of a (small) file."""
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_atomic(path: str, text: str) -> None:
    """Write a text file through a temporary file and a rename."""
    with open(path + '.tmp', 'w', newline='') as f:
        f.write(text)
    os.replace(path + '.tmp', path)


def write_skipped(path: str, skipped: List[Tuple[str, str]],
                  tool: str) -> None:
    """``skipped.txt``: a comment line, then ``<clip>  # reason`` lines."""
    lines = [
        f'# Clips left out of every list: <clip>  # reason '
        f'(written by {tool})\n'
    ]
    lines += [f'{name}  # {why}\n' for name, why in skipped]
    write_atomic(path, ''.join(lines))


def foreign_tree(out: str) -> Optional[str]:
    """Why ``visual/`` or ``audio/`` must not be touched without
    ``--overwrite``: they hold files but this tool's markers are absent."""
    if osp.isdir(osp.join(out, MARKER_DIR)):
        return None
    for sub in ('visual', 'audio'):
        folder = osp.join(out, sub)
        if osp.isdir(folder) and os.listdir(folder):
            return (f'{folder} holds files this tool did not write (no '
                    f'{osp.join(out, MARKER_DIR)}/): pass --overwrite to '
                    'prepare every clip again (files of other clips stay), '
                    'or use another output folder.')
    return None


# -------------------------------------------------------- the command line


def add_clip_arguments(parser: argparse.ArgumentParser, audio_help: str,
                       keep_size: str, min_frames: int,
                       min_frames_help: str) -> None:
    """Add ``--audio``, ``--short-side``, ``--jpeg-quality``, ``--min-frames``.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        audio_help (str): Help of ``--audio`` (names the tool's WAV rate).
        keep_size (str): What ``--short-side 0`` keeps, e.g. ``480x360``.
        min_frames (int): Default of ``--min-frames``.
        min_frames_help (str): Help of ``--min-frames``.
    """
    parser.add_argument(
        '--audio', choices=AUDIO_CHOICES, default='wav', help=audio_help)
    parser.add_argument(
        '--short-side',
        type=int,
        default=0,
        help=f'resize the frames\' short side to this (0: keep {keep_size})')
    parser.add_argument(
        '--jpeg-quality', type=int, default=JPEG_QUALITY, help='1..100')
    parser.add_argument(
        '--min-frames', type=int, default=min_frames, help=min_frames_help)


def add_run_arguments(parser: argparse.ArgumentParser, val_size_help: str,
                      seed_help: str) -> None:
    """Add ``--val-size``, ``--seed`` and the options of a run
    (``--workers``, ``--dry-run``, ``--sample-clips``, ``--strict``,
    ``--overwrite``), in this order (the order of ``--help``)."""
    parser.add_argument('--val-size', type=int, help=val_size_help)
    parser.add_argument('--seed', type=int, default=0, help=seed_help)
    parser.add_argument(
        '--workers',
        type=int,
        default=os.cpu_count() or 1,
        help='processes preparing clips (default: all cores)')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='write nothing; print the plan and a disk space estimate')
    parser.add_argument(
        '--sample-clips',
        type=int,
        default=4,
        help='clips decoded for the --dry-run disk estimate')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='exit with status 1 when a clip was skipped')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='prepare clips in visual/ and audio/ folders this tool did not '
        'write')


def check_arguments(parser: argparse.ArgumentParser,
                    args: argparse.Namespace) -> None:
    """Reject bad values of the options added here (``parser.error``)."""
    if args.short_side < 0:
        parser.error('--short-side must not be negative')
    if not 1 <= args.jpeg_quality <= 100:
        parser.error('--jpeg-quality must lie in 1..100')
    if args.min_frames < 1 or args.workers < 1 or args.sample_clips < 1:
        parser.error('--min-frames, --workers and --sample-clips must be '
                     'at least 1')
    if args.val_size is not None and args.val_size < 0:
        parser.error('--val-size must not be negative')


def settings_line(args: argparse.Namespace,
                  audio_note: str = '',
                  tail: str = '') -> str:
    """``Settings: frames at 1 fps, ...``: the options of the clips.

    Args:
        args (argparse.Namespace): The parsed options.
        audio_note (str): Follows ``audio <choice>``.
        tail (str): Ends the line.

    Returns:
        str: The line.
    """
    return (f'Settings: frames at 1 fps, short side '
            f'{args.short_side or "kept"}, JPEG quality {args.jpeg_quality}; '
            f'audio {args.audio}{audio_note}; --min-frames {args.min_frames}'
            f'{tail}')


def print_sizes(sizes: Dict[str, int], suffix: str = '') -> None:
    """Print ``name  N clips`` lines."""
    width = max(len(n) for n in sizes)
    for name, size in sizes.items():
        print(f'  {name:<{width}}  {size:>6} clips{suffix}')


# ------------------------------------------------------------- a whole run


class Outcome(NamedTuple):
    """What a run made of its clips.

    Attributes:
        prepared (dict[str, int]): Frames of every prepared clip by name.
        skipped (list[tuple[str, str]]): ``(name, reason)`` of the clips
            left out (missing or unusable input), sorted.
        failed (list[tuple[str, str]]): ``(name, reason)`` of the clips
            that failed otherwise (e.g. a write error), sorted.
    """
    prepared: Dict[str, int]
    skipped: List[Tuple[str, str]]
    failed: List[Tuple[str, str]]


def to_prepare(state: Dict[str, List]) -> List[ClipJob]:
    """The clips of a plan that are (re)prepared, sorted."""
    return sorted(state['new'] + [job for job, _ in state['redo']])


def plan(out: str, jobs: List[ClipJob],
         args: argparse.Namespace) -> Tuple[Dict[str, List], Optional[str]]:
    """Check the output tree, sort the clips and print the plan.

    Args:
        out (str): The output root.
        jobs (list[ClipJob]): Every clip to have.
        args (argparse.Namespace): ``--overwrite`` and ``--dry-run``.

    Returns:
        tuple: :func:`classify`'s result and :func:`foreign_tree`'s.

    Raises:
        SystemExit: ``out`` holds files of another tool, unless
            ``--overwrite`` or ``--dry-run``.
    """
    problem = foreign_tree(out)
    if problem and not args.overwrite and not args.dry_run:
        raise SystemExit(problem)
    state = classify(jobs)
    print(plan_line(len(jobs), state))
    return state, problem


def dry_run(state: Dict[str, List], problem: Optional[str],
            args: argparse.Namespace, lists: Callable[[], Dict[str, List]],
            title: str, missing: List[Tuple[str, str]]) -> int:
    """``--dry-run``: print the disk estimate and the lists' sizes.

    Args:
        state (dict): :func:`plan`'s plan.
        problem (str | None): :func:`plan`'s objection to the tree.
        args (argparse.Namespace): ``--overwrite`` and ``--sample-clips``.
        lists (Callable): The lists a run would write, by file name; called
            after the (slow) estimate, as it may stop the tool.
        title (str): The line above the lists' sizes.
        missing (list[tuple[str, str]]): Clips missing a source file.

    Returns:
        int: The exit status, 0.
    """
    print('Dry run: nothing is written.')
    if problem and not args.overwrite:
        print(f'Note: a real run would stop here: {problem}')
    print(estimate_disk(to_prepare(state), args.sample_clips))
    rows = lists()
    print(title)
    print_sizes({n: len(r) for n, r in rows.items()})
    if missing:
        print_problems(missing, [])
    return 0


def execute(state: Dict[str, List], workers: int,
            min_frames: int) -> Tuple[Dict[str, int], List, List]:
    """Prepare the clips a plan names and collect every clip's outcome.

    Clips already done keep their files, except where they have fewer
    frames than ``min_frames`` (a run with a larger ``--min-frames``): those
    are removed and skipped like any short clip.

    Args:
        state (dict): :func:`classify`'s result.
        workers (int): Processes.
        min_frames (int): ``--min-frames``.

    Returns:
        tuple: Frames of every prepared clip by name, the skipped clips and
        the failed ones as sorted ``(name, reason)`` lists.

    Raises:
        KeyboardInterrupt: The run was interrupted (finished clips stay).
    """
    frames, skipped = {}, []
    for job in state['done']:
        count = read_marker(job.out, job.name)['frames']
        if count < min_frames:
            remove_outputs(job.out, job.name)
            skipped.append((job.name, f'{count} frame(s) at 1 fps: at least '
                            f'{min_frames} are needed (--min-frames)'))
        else:
            frames[job.name] = count
    todo = to_prepare(state)
    print(f'Preparing {len(todo)} clip(s) with {workers} worker(s):')
    results = run_parallel(prepare_clip, todo, workers, worker_init)
    failed = []
    for r in results:
        if r['status'] == 'done':
            frames[r['name']] = r['frames']
        elif r['status'] == 'corrupt':
            skipped.append((r['name'], r['reason']))
        else:
            failed.append((r['name'], r['reason']))
    return frames, sorted(skipped), sorted(failed)


def run_clips(out: str, state: Dict[str, List], args: argparse.Namespace,
              missing: List[Tuple[str, str]], stat: str,
              classes: Sequence[str]) -> Optional[Outcome]:
    """Prepare the clips of a plan (a run that writes).

    Files of clips now missing a source are removed first, and the class
    file ``stat`` is written if absent.

    Args:
        out (str): The output root.
        state (dict): :func:`plan`'s plan.
        args (argparse.Namespace): ``--workers`` and ``--min-frames``.
        missing (list[tuple[str, str]]): Clips missing a source file, with
            the reasons.
        stat (str): File name of the class list, e.g. ``stat.csv``.
        classes (Sequence[str]): The class names, one a line there.

    Returns:
        Outcome | None: What became of the clips; None when interrupted
        (the message is printed; exit with :data:`INTERRUPTED`).
    """
    os.makedirs(osp.join(out, MARKER_DIR), exist_ok=True)
    for name, _ in missing:  # no stale files of a clip now left out
        remove_outputs(out, name)
    if not osp.isfile(osp.join(out, stat)):
        write_atomic(osp.join(out, stat), ''.join(f'{c}\n' for c in classes))
    try:
        prepared, corrupt, failed = execute(state, args.workers,
                                            args.min_frames)
    except KeyboardInterrupt:
        print('\nInterrupted: finished clips are kept; rerun the same '
              'command to resume.')
        return None
    return Outcome(prepared, sorted(missing + corrupt), failed)


def write_lists(out: str, lists: Dict[str, List], text: Callable[[List], str],
                outcome: Outcome, tool: str) -> Dict[str, Dict]:
    """Write our lists and ``skipped.txt`` under ``out``.

    Args:
        out (str): The output root.
        lists (dict): Rows of every list by file name.
        text (Callable): A list's file content from its rows.
        outcome (Outcome): The run's outcome.
        tool (str): The tool, named in ``skipped.txt``.

    Returns:
        dict: ``rows`` and ``sha256`` of every list, by file name.
    """
    files = {}
    for name, rows in lists.items():
        write_atomic(osp.join(out, name), text(rows))
        files[name] = dict(
            rows=len(rows), sha256=sha256_file(osp.join(out, name)))
    write_skipped(
        osp.join(out, SKIPPED), outcome.skipped + outcome.failed, tool)
    return files


def write_meta(out: str, name: str, tool: str, settings: Settings,
               args: argparse.Namespace, outcome: Outcome, clips: Dict,
               files: Dict[str, Dict], stat: str, authors: Dict[str, List],
               **extra) -> Dict[str, List[str]]:
    """Write the tool's JSON summary of the tree (not of the run).

    Args:
        out (str): The output root.
        name (str): The JSON file's name.
        tool (str): The tool.
        settings (Settings): The clips' settings.
        args (argparse.Namespace): ``--min-frames``.
        outcome (Outcome): The run's outcome.
        clips (dict): The tool's own clip counts.
        files (dict): :func:`write_lists`'s record.
        stat (str): File name of the class list.
        authors (dict): Rows (clip first) of the authors' files read.
        **extra: The tool's own entries.

    Returns:
        dict: The authors' clips not prepared, by file name.
    """
    prepared = outcome.prepared
    not_prepared = {
        n: sorted(c for c, _ in rows if c not in prepared)
        for n, rows in authors.items()
    }
    meta = dict(
        tool=tool,
        settings=dict(settings_dict(settings), min_frames=args.min_frames),
        clips=dict(
            clips,
            prepared=len(prepared),
            skipped=len(outcome.skipped),
            failed=len(outcome.failed)),
        skipped=[dict(clip=c, reason=w) for c, w in outcome.skipped],
        failed=[dict(clip=c, reason=w) for c, w in outcome.failed],
        lists=files,
        stat=dict(sha256=sha256_file(osp.join(out, stat))),
        authors_files={
            n: dict(rows=len(authors[n]), not_prepared=not_prepared[n])
            for n in authors
        },
        **extra)
    write_atomic(
        osp.join(out, name),
        json.dumps(meta, indent=2, sort_keys=True) + '\n')
    return not_prepared


def print_written(out: str, lists: Dict[str, List], meta: str,
                  outcome: Outcome) -> None:
    """``Wrote N lists, ...`` and the lists' sizes."""
    entries = len(outcome.skipped + outcome.failed)
    print(f'Wrote {len(lists)} lists, {SKIPPED} ({entries} entries) and '
          f'{meta} to {out}:')
    print_sizes({n: len(r) for n, r in lists.items()})


def print_problems(skipped: List[Tuple[str, str]],
                   failed: List[Tuple[str, str]],
                   limit: int = 50) -> None:
    """Print the skipped and failed clips with their reasons (the first
    ``limit`` of each; all are in ``skipped.txt``)."""
    for title, items in (('Skipped', skipped), ('Failed', failed)):
        if items:
            print(f'{title} ({len(items)}):')
            for name, why in items[:limit]:
                print(f'  {name}: {why}')
            if len(items) > limit:
                print(f'  ... and {len(items) - limit} more (all in '
                      'skipped.txt)')


def exit_status(skipped: List, failed: List, strict: bool) -> int:
    """0, or 1 for failures (or skipped clips with ``--strict``)."""
    if failed:
        print(f'ERROR: {len(failed)} clip(s) failed for another reason than '
              'a missing or unusable input (see above); exit status 1.')
        return 1
    if skipped:
        return warn_exit(
            f'{len(skipped)} clip(s) skipped (named above and in '
            'skipped.txt); they are in none of our lists', strict)
    return 0


def finish(outcome: Outcome, strict: bool) -> int:
    """Print the skipped and failed clips; return the exit status."""
    print_problems(outcome.skipped, outcome.failed)
    return exit_status(outcome.skipped, outcome.failed, strict)
