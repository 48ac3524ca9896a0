"""One audio-visual clip to frames at 1 fps and audio files; resumably.

What ``tools/data/cremad/prepare_cremad.py`` and
``tools/data/kinetics_sounds/prepare_kinetics_sounds.py`` share below their
command line (:mod:`mmdr.preparation.clip_cli`): one clip's preparation
(the workers' task), its ``.done`` marker, the plan of a run and the disk
space estimate of ``--dry-run``.

One clip ``<name>`` gives, under the output root (the layout OGM-GE and
Diagnosing & Re-learning read):

* ``visual/<name>/frame_00001.jpg``, ``frame_00002.jpg``, ...: one frame
  per second (:func:`mmdr.preparation.media.frames_at_1fps`), original
  size or the short side resized to ``short_side``; JPEG quality 95
  (OpenCV's default, which OGM-GE's ``cv2.imencode`` used). The folder
  holds the frames only: the reference counts its entries.
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

Every file is written atomically (:mod:`mmdr.utils.atomic_write`). A clip
that cannot be used raises :class:`~mmdr.preparation.media.ClipError` and
leaves no output: a source file that is missing, truncated (an FLV tag, an
MP4 box or a RIFF chunk runs past the end of the file: FFmpeg would decode
up to the cut without complaint), unreadable, undecodable, without a video
stream or an audio track, or with fewer 1-fps frames than ``min_frames``.
"""
import glob
import hashlib
import os
import os.path as osp
import shutil
from typing import Dict, List, NamedTuple, Optional, Tuple

import cv2
import numpy as np
from mmengine.fileio import dump, load

from mmdr.audio.frontends import kaldi_fbank
from mmdr.audio.io import AudioFileError, read_audio, resample, write_wav
from mmdr.utils.atomic_write import open_atomic, write_text_atomic
from .media import (ClipError, audio_track, encode_jpeg, first_line,
                    frames_at_1fps, tensor_bytes)

FRAME_TMPL = 'frame_{:05d}.jpg'
MARKER_DIR = '.mmdr_prepare'
MARKER_EXT = '.done'
JPEG_QUALITY = 95
#: Rate of the audio the filterbank is computed from.
FBANK_RATE = 16000
#: Bumped when a change of this module changes what a clip's files hold,
#: so that markers of older runs no longer count as done.
RECIPE = 1
#: Audio files of a clip (``.fbank-source.wav``: the 16-bit WAV file a
#: filterbank is computed from when no WAV file is kept).
AUDIO_EXTS = ('.wav', '.pt', '.fbank-source.wav')
#: Bytes hashed at each end of a source file for its fingerprint.
FINGERPRINT_BYTES = 8192


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


def temp_pattern(path: str) -> str:
    """Glob of the temporary files that an atomic write of ``path`` makes
    (:func:`mmdr.utils.atomic_write.open_atomic`: ``.<name>.<pid>.<uuid>.tmp``
    in the same folder)."""
    folder, name = osp.split(path)
    return osp.join(glob.escape(folder), f'.{glob.escape(name)}.*.tmp')


class DiskWriter:
    """Write a clip's files under the output root; remember their sizes.

    Every file is written atomically: a run interrupted in a clip leaves
    whole files, which the missing marker sends to be redone.
    """

    def __init__(self, out: str, name: str) -> None:
        self.out, self.name = out, name
        self.files: Dict[str, int] = {}
        os.makedirs(frame_dir(out, name))
        os.makedirs(osp.join(out, 'audio'), exist_ok=True)

    def _put(self, path: str, data: bytes) -> None:
        with open_atomic(path, 'wb') as f:
            f.write(data)
        self._record(path)

    def _record(self, path: str) -> None:
        rel = osp.relpath(path, self.out).replace(os.sep, '/')
        self.files[rel] = osp.getsize(path)

    def frame(self, index: int, jpeg: bytes) -> None:
        """Write frame ``index`` (1-based) of the clip."""
        self._put(
            osp.join(frame_dir(self.out, self.name), FRAME_TMPL.format(index)),
            jpeg)

    def wav(self, samples: np.ndarray, rate: int, keep: bool,
            read_back: bool) -> np.ndarray:
        """Write the WAV file (a temporary one unless ``keep``); return
        the samples as stored (16-bit) when ``read_back``."""
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
    """Remove a clip's marker (first), frames and audio files, and what
    an atomic write of them left behind."""
    marker = marker_path(out, name)
    if osp.exists(marker):
        os.remove(marker)
    shutil.rmtree(frame_dir(out, name), ignore_errors=True)
    for ext in AUDIO_EXTS:
        path = audio_path(out, name, ext)
        if osp.exists(path):
            os.remove(path)
        # The temporary file of an atomic write cut short by a kill.
        for tmp in glob.glob(temp_pattern(path)):
            os.remove(tmp)


def read_marker(out: str, name: str) -> Optional[Dict]:
    """A clip's marker, or None if missing or unreadable."""
    try:
        marker = load(marker_path(out, name), file_format='json')
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def write_marker(job: ClipJob, frames: int, files: Dict[str, int],
                 sources: Dict[str, str]) -> None:
    """Write a clip's marker last, atomically."""
    marker = dict(
        name=job.name,
        settings=settings_dict(job.settings),
        sources=sources,
        frames=frames,
        files=dict(sorted(files.items())))
    path = marker_path(job.out, job.name)
    os.makedirs(osp.dirname(path), exist_ok=True)
    write_text_atomic(path,
                      dump(marker, file_format='json', sort_keys=True) + '\n')


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
        writer = DiskWriter(job.out, job.name)
        result['frames'] = _build(job, writer)
        write_marker(job, result['frames'], writer.files, sources)
    except ClipError as err:
        result.update(status='corrupt', reason=str(err))
    except Exception as err:  # reported; the run exits non-zero
        result.update(status='error', reason=first_line(err))
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
