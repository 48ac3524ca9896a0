"""Write tiny CREMA-D, Kinetics-Sounds, VGGSound and BalancedAV inputs in
their real formats.

* :func:`write_cremad_release`: the public CREMA-D release's layout:
  ``AudioWAV/<clip>.wav`` (16 kHz 16-bit mono, soundfile),
  ``VideoFlash/<clip>.flv`` (FLV with mp3 audio, written with PyAV; the
  tools read the audio from the WAV files, so the FLV's is low-rate, for
  speed) and
  ``processedResults/summaryTable.csv`` (``,FileName,VoiceVote,...``, a row
  index first). The real FLV files hold VP6 video, for which FFmpeg has a
  decoder but no encoder; FLV1 (Sorenson H.263, PyAV's codec ``flv``) is
  the codec the same container and decoder path take here. Clips are
  64x48 at 30 fps, 2.2 to 3.2 s long (3 or 4 frames at 1 fps).
* :func:`write_authors_splits`: the authors' split files of Diagnosing &
  Re-learning in their exact formats: ``train.csv`` and ``test.csv`` with a
  ``name,label`` header and CR LF line ends, ``my_train.csv`` and
  ``val.csv`` without a header and with LF, ``stat.csv`` with a UTF-8 BOM
  and CR LF.
* The trees users train on without a preparation:
  :func:`write_cremad_authors_tree` (the D&R authors' processed layout,
  ``visual/<clip>/frame_0000N.jpg``, with CREMA-D's 16 kHz WAV files as
  shipped in ``audio/``), :func:`write_ogm_ge_cremad_tree` (OGM-GE's:
  ``AudioWAV/`` at 16 kHz, ``Image-01-FPS/<clip>/<frame index:05d>.jpg``
  as its ``video_preprocessing.py`` names them, ``train.csv`` /
  ``test.csv`` without a header, CR LF) and
  :func:`write_ogm_ge_kinetics_tree` (``my_train.txt`` / ``my_test.txt``
  with CR LF, ``visual/`` frames, ``audio/`` 16 kHz WAV files).
* :func:`write_kinetics_clips`: Kinetics-400 clips as the public
  downloaders write them, ``<youtube_id>_<start:06d>_<end:06d>.mp4``
  (H.264 + AAC, 64x48, 25 fps, 3 to 4 s: shorter than the real 10 s, for
  speed) in ``train/`` and ``val/``, one clip without an audio track, one
  of a class outside Kinetics-Sounds, and the annotation CSV
  (``label,youtube_id,time_start,time_end,split,is_cc``).
* :func:`write_vggsound_clips` and :func:`write_balanced_av_clips`: VGGSound
  clips ``video/<youtube_id>_<start:06d>.mp4`` with ``vggsound.csv`` (no
  header), BalancedAV clips ``<clip>.mp4`` with the release's annotation
  json; in each, one clip without an audio track and one annotated clip
  without a video file.
* Corrupters: :func:`truncate_file` (an interrupted download: a WAV keeps
  its header, an FLV or MP4 is cut mid-tag or mid-box), :func:`write_garbage`.

Everything is drawn from ``numpy.random.default_rng`` with fixed seeds: the
same arguments give the same clips.
"""
import csv
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

CREMAD_EMOTIONS = ('NEU', 'HAP', 'SAD', 'FEA', 'DIS', 'ANG')
CREMAD_SENTENCES = ('DFA', 'IEO', 'IOM', 'ITH', 'ITS', 'IWL', 'IWW', 'MTI',
                    'TAI', 'TIE', 'TSI', 'WSI')
#: The vote letters of summaryTable.csv, by emotion code.
CREMAD_VOTES = dict(NEU='N', HAP='H', SAD='S', FEA='F', DIS='D', ANG='A')
CREMAD_TABLE_HEADER = ('', 'FileName', 'VoiceVote', 'VoiceLevel', 'FaceVote',
                       'FaceLevel', 'MultiModalVote', 'MultiModalLevel')
#: Kinetics-Sounds classes of the default fixture, with their labels
#: (indices in KINETICS_SOUNDS_CLASSES).
KS_CLASSES = ('playing bagpipes', 'playing drums', 'tapping pen')
KS_FPS = 25
SIZE = (64, 48)
_DTYPES = {
    's16': np.int16,
    's16p': np.int16,
    's32': np.int32,
    's32p': np.int32,
    'flt': np.float32,
    'fltp': np.float32
}

# ---------------------------------------------------------------- media


def _frames(rng: np.random.Generator, count: int, size=SIZE) -> List:
    """A coloured square moving over a textured background."""
    w, h = size
    background = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3))
    background = np.kron(background, np.ones((8, 8, 1)))[:h, :w]
    color = rng.integers(0, 256, 3)
    x, y, dx, dy = rng.integers(0, w - 16), rng.integers(0, h - 16), 2, 1
    frames = []
    for _ in range(count):
        image = background.copy()
        image[y:y + 16, x:x + 16] = color
        frames.append(image.astype(np.uint8))
        x, y = (x + dx) % (w - 16), (y + dy) % (h - 16)
    return frames


def _tone(rng: np.random.Generator, seconds: float, rate: int) -> np.ndarray:
    """A tone of a random pitch plus a little noise, float in [-1, 1]."""
    t = np.arange(int(round(seconds * rate))) / rate
    wave = 0.3 * np.sin(2 * np.pi * rng.uniform(150, 900) * t)
    return (wave + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def write_media(path: str,
                seconds: float,
                seed: int = 0,
                container: str = 'mp4',
                video_codec: str = 'libx264',
                audio_codec: Optional[str] = 'aac',
                fps: int = 30,
                audio_rate: int = 22050,
                size=SIZE,
                faststart: bool = False) -> None:
    """Write a video file with PyAV: moving frames and a mono tone.

    Args:
        path (str): The file.
        seconds (float): Its length.
        seed (int): Seed of the content.
        container (str): FFmpeg muxer, ``flv`` or ``mp4``.
        video_codec (str): ``flv`` (FLV1) or ``libx264``.
        audio_codec (str | None): ``libmp3lame``, ``aac``, or None for a
            file without an audio track.
        fps (int): Frame rate.
        audio_rate (int): Sample rate of the audio track.
        size (tuple): Width and height.
        faststart (bool): MP4 only: the index (``moov``) before the data,
            as files prepared for streaming have it.
    """
    import av

    rng = np.random.default_rng(seed)
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    options = {'movflags': 'faststart'} if faststart else {}
    with av.open(path, 'w', format=container, options=options) as out:
        video = out.add_stream(video_codec, rate=fps)
        video.width, video.height = size
        video.pix_fmt = 'yuv420p'
        if video_codec == 'libx264':
            video.options = {'preset': 'ultrafast'}
        audio = None
        if audio_codec is not None:
            audio = out.add_stream(audio_codec, rate=audio_rate)
            audio.layout = 'mono'
            if audio_codec == 'libmp3lame':  # LAME's fastest mode
                audio.options = {'compression_level': '9'}
        for i, image in enumerate(
                _frames(rng, int(round(seconds * fps)), size)):
            frame = av.VideoFrame.from_ndarray(image, format='rgb24')
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if audio is None:
            return
        wave = _tone(rng, seconds, audio_rate)
        step, fmt = audio.frame_size or 1024, audio.format.name
        dtype = _DTYPES[fmt]
        scale = 1.0 if dtype == np.float32 else np.iinfo(dtype).max
        for start in range(0, wave.size, step):
            chunk = (wave[None, start:start + step] * scale).astype(dtype)
            frame = av.AudioFrame.from_ndarray(
                chunk, format=fmt, layout='mono')
            frame.sample_rate, frame.pts = audio_rate, start
            out.mux(audio.encode(frame))
        out.mux(audio.encode())


def write_wav16(path: str,
                seconds: float,
                seed: int = 0,
                rate: int = 16000) -> None:
    """A 16-bit PCM mono WAV file (as CREMA-D's AudioWAV)."""
    import soundfile

    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    soundfile.write(
        path,
        _tone(np.random.default_rng(seed), seconds, rate),
        rate,
        subtype='PCM_16')


def truncate_file(path: str, keep: float = 0.6) -> None:
    """Cut a file short, as an interrupted download or copy does.

    A WAV file keeps its header (which still declares the full length), an
    FLV file ends mid-tag, an MP4 file mid-box.

    Args:
        path (str): The file, rewritten in place.
        keep (float): Share of the bytes to keep.
    """
    size = osp.getsize(path)
    with open(path, 'r+b') as f:
        f.truncate(max(1, int(size * keep)))


def write_garbage(path: str) -> None:
    """Write a file that no decoder can open, under a media file's name."""
    with open(path, 'wb') as f:
        f.write(b'This is not a media file. ' * 64)


# -------------------------------------------------------------- CREMA-D


def cremad_clip_names(actors: Sequence[int] = tuple(range(1001, 1007)),
                      per_actor: int = 6) -> List[str]:
    """Distinct clip names: ``per_actor`` clips an actor, emotions in turn.

    As in the release, every sentence is spoken with every emotion at the
    unspecified level ``XX`` (72 clips), and the emotions other than
    neutral also at ``LO``, ``MD`` and ``HI`` (180 more); every actor starts
    at another sentence.
    """
    n = len(CREMAD_SENTENCES)
    names = []
    for a, actor in enumerate(actors):
        combos = [(CREMAD_SENTENCES[(s + a) % n], e, level)
                  for level in ('XX', 'LO', 'MD', 'HI') for s in range(n)
                  for e in CREMAD_EMOTIONS if level == 'XX' or e != 'NEU']
        if per_actor > len(combos):
            raise ValueError(f'at most {len(combos)} clips an actor')
        names += [f'{actor}_{s}_{e}_{lv}' for s, e, lv in combos[:per_actor]]
    return names


def cremad_seconds(index: int, seed: int = 0) -> float:
    """Length of clip ``index``: 2.2 to 3.2 s."""
    return float(np.random.default_rng([seed, index]).uniform(2.2, 3.2))


def write_summary_table(path: str,
                        clips: Sequence[str],
                        seed: int = 0) -> None:
    """``summaryTable.csv`` in the release's layout (a row index first)."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(CREMAD_TABLE_HEADER)
        for i, clip in enumerate(clips, start=1):
            vote = CREMAD_VOTES[clip.split('_')[2]]
            levels = [f'{v:.1f}' for v in rng.uniform(20, 100, 3)]
            writer.writerow(
                [i, clip, vote, levels[0], vote, levels[1], vote, levels[2]])


def write_cremad_release(root: str,
                         actors: Sequence[int] = tuple(range(1001, 1007)),
                         per_actor: int = 6,
                         seed: int = 0) -> List[str]:
    """Write a tiny CREMA-D release under ``root``.

    Args:
        root (str): Receives ``AudioWAV/``, ``VideoFlash/`` and
            ``processedResults/summaryTable.csv``.
        actors (Sequence[int]): Actor ids.
        per_actor (int): Clips an actor (6: every emotion once).
        seed (int): Seed of the content.

    Returns:
        list[str]: The clip names, in table order.
    """
    clips = cremad_clip_names(actors, per_actor)
    for i, clip in enumerate(clips):
        seconds = cremad_seconds(i, seed)
        write_wav16(
            osp.join(root, 'AudioWAV', clip + '.wav'), seconds,
            seed * 100003 + i)
        write_media(
            osp.join(root, 'VideoFlash', clip + '.flv'),
            seconds,
            seed * 100003 + i,
            container='flv',
            video_codec='flv',
            audio_codec='libmp3lame',
            audio_rate=11025)
    write_summary_table(
        osp.join(root, 'processedResults', 'summaryTable.csv'), clips, seed)
    return clips


def write_authors_splits(
        root: str,
        clips: Sequence[str],
        test_share: float = 0.1,
        seed: int = 0,
        only: Optional[Sequence[str]] = None) -> Dict[str, List[str]]:
    """Write the authors' split files in their exact formats.

    As theirs, the test clips are drawn by clip (every actor on both
    sides), and ``val.csv`` is carved out of ``train.csv``, the rest of
    which is ``my_train.csv``; rows are shuffled.

    Args:
        root (str): The prepared data set's folder.
        clips (Sequence[str]): CREMA-D clip names.
        test_share (float): Share of test clips (744 of 7,442 in theirs);
            ``val.csv`` takes the same number out of ``train.csv``.
        seed (int): Seed of the draw.
        only (Sequence[str], optional): The split files to write (e.g. the
            public ``train.csv`` and ``test.csv`` only); None writes all
            four. ``stat.csv`` is always written.

    Returns:
        dict[str, list[str]]: The clips of each file, in file order.
    """
    rng = np.random.default_rng(seed)
    order = [clips[i] for i in rng.permutation(len(clips))]
    n = max(1, int(round(test_share * len(clips))))
    test, train = order[:n], order[n:]
    val, my_train = train[:n], train[n:]
    files = {
        'train.csv': (train, True),
        'test.csv': (test, True),
        'my_train.csv': (my_train, False),
        'val.csv': (val, False)
    }
    for name, (rows, header) in files.items():
        if only is not None and name not in only:
            continue
        eol = '\r\n' if header else '\n'
        text = (f'name,label{eol}' if header else '') + ''.join(
            f'{c},{c.split("_")[2]}{eol}' for c in rows)
        with open(osp.join(root, name), 'w', newline='') as f:
            f.write(text)
    with open(
            osp.join(root, 'stat.csv'), 'w', newline='',
            encoding='utf-8-sig') as f:
        f.write(''.join(f'{e}\r\n' for e in CREMAD_EMOTIONS))
    return {name: rows for name, (rows, _) in files.items()}


def write_frames(folder: str,
                 names: Sequence[str],
                 seed: int = 0,
                 size=(48, 64)) -> None:
    """Small random JPEG frames under the given names.

    Args:
        folder (str): The clip's frame folder (created).
        names (Sequence[str]): File names.
        seed (int): Seed of the content.
        size (tuple): Height and width.
    """
    import cv2

    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for name in names:
        image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        assert cv2.imwrite(osp.join(folder, name), image)


def cremad_frame_count(index: int, seed: int = 0) -> int:
    """1-fps frames of clip ``index``: one a started second (3 or 4)."""
    return int(np.ceil(cremad_seconds(index, seed)))


def write_cremad_authors_tree(root: str,
                              clips: Sequence[str],
                              lists: Sequence[str] = ('train.csv', 'test.csv'),
                              rate: int = 16000,
                              test_share: float = 0.1,
                              seed: int = 0) -> Dict[str, List[str]]:
    """The D&R authors' processed layout, as a user assembles it.

    ``visual/<clip>/frame_0000N.jpg`` (N = 1..3 or 4, the names the
    reference reads), ``audio/<clip>.wav``: CREMA-D's WAV files as shipped
    (16 kHz 16-bit; ``rate`` for others), and the authors' ``lists`` in
    their formats (:func:`write_authors_splits`; by default the public
    ``train.csv`` and ``test.csv`` only, without ``my_train.csv`` and
    ``val.csv``).

    Args:
        root (str): The data set's folder.
        clips (Sequence[str]): CREMA-D clip names.
        lists (Sequence[str]): The authors' split files to write.
        rate (int): The WAV files' sample rate.
        test_share (float): Share of ``test.csv``.
        seed (int): Seed of the content and of the lists.

    Returns:
        dict[str, list[str]]: The clips of every list written.
    """
    for i, clip in enumerate(clips):
        count = cremad_frame_count(i, seed)
        write_frames(
            osp.join(root, 'visual', clip),
            [f'frame_{k:05d}.jpg' for k in range(1, count + 1)],
            seed * 100003 + i)
        write_wav16(
            osp.join(root, 'audio', clip + '.wav'), cremad_seconds(i, seed),
            seed * 100003 + i, rate)
    written = write_authors_splits(root, clips, test_share, seed, lists)
    return {name: written[name] for name in lists}


def write_ogm_ge_cremad_tree(root: str,
                             clips: Sequence[str],
                             fps: int = 30,
                             test_share: float = 0.1,
                             seed: int = 0) -> Dict[str, List[str]]:
    """OGM-GE's CREMA-D layout: the release's audio and its frame folders.

    ``AudioWAV/<clip>.wav`` (16 kHz, as the release ships it),
    ``Image-01-FPS/<clip>/<index:05d>.jpg`` where ``index`` is the source
    video's 0-based frame index of the first frame of every second (0, 30,
    60, ...: what OGM-GE's ``video_preprocessing.py`` writes), and
    ``train.csv`` / ``test.csv`` as OGM-GE's repository has them: no
    header, ``<clip>,<label>`` rows with CR LF, test clips drawn by clip.

    Args:
        root (str): The data set's folder.
        clips (Sequence[str]): CREMA-D clip names.
        fps (int): The source videos' frame rate (the index step).
        test_share (float): Share of ``test.csv``.
        seed (int): Seed of the content and of the lists.

    Returns:
        dict[str, list[str]]: The clips of ``train.csv`` and ``test.csv``.
    """
    for i, clip in enumerate(clips):
        count = cremad_frame_count(i, seed)
        write_frames(
            osp.join(root, 'Image-01-FPS', clip),
            [f'{k * fps:05d}.jpg' for k in range(count)], seed * 100003 + i)
        write_wav16(
            osp.join(root, 'AudioWAV', clip + '.wav'), cremad_seconds(i, seed),
            seed * 100003 + i)
    rng = np.random.default_rng(seed)
    order = [clips[i] for i in rng.permutation(len(clips))]
    n = max(1, int(round(test_share * len(clips))))
    lists = {'train.csv': order[n:], 'test.csv': order[:n]}
    for name, rows in lists.items():
        with open(osp.join(root, name), 'w', newline='') as f:
            f.write(''.join(f'{c},{c.split("_")[2]}\r\n' for c in rows))
    return lists


def write_ogm_ge_kinetics_tree(root: str,
                               clips: Dict[str, Tuple[int, str]],
                               absent: Sequence[str] = (),
                               frames: int = 3,
                               seed: int = 0) -> None:
    """OGM-GE's Kinetics-Sounds layout with the lists of this line of work.

    ``my_train.txt`` / ``my_test.txt``: ``<name>,10,<label>`` rows with CR
    LF, as OGM-GE's repository has them; ``visual/<name>/frame_0000k.jpg``
    (k = 1..``frames``) and ``audio/<name>.wav`` at 16 kHz (OGM-GE's
    ``ffmpeg -ar 16000`` extraction), except for the ``absent`` clips,
    which the lists name without any file (videos no longer online).

    Args:
        root (str): The data set's folder.
        clips (dict): Name to ``(label, 'train' | 'test')``.
        absent (Sequence[str]): Listed clips that get no file.
        frames (int): Frames a clip.
        seed (int): Seed of the content.
    """
    rows = dict(train=[], test=[])
    for i, (name, (label, split)) in enumerate(sorted(clips.items())):
        rows[split].append(f'{name},10,{label}\r\n')
        if name in absent:
            continue
        write_frames(
            osp.join(root, 'visual', name),
            [f'frame_{k:05d}.jpg' for k in range(1, frames + 1)],
            seed * 100003 + i)
        write_wav16(
            osp.join(root, 'audio', name + '.wav'), 3.0, seed * 100003 + i)
    for split, lines in rows.items():
        with open(osp.join(root, f'my_{split}.txt'), 'w', newline='') as f:
            f.write(''.join(lines))


# ------------------------------------------------------ Kinetics-Sounds


def kinetics_name(youtube_id: str, start: int, end: int) -> str:
    """``<youtube_id>_<start:06d>_<end:06d>``, as the downloaders name it."""
    return f'{youtube_id}_{start:06d}_{end:06d}'


def _youtube_id(rng: np.random.Generator) -> str:
    """An 11-character id; some hold ``-`` and ``_`` (as real ones)."""
    chars = ('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
             '0123456789-_')
    return ''.join(chars[i] for i in rng.integers(0, len(chars), 11))


def write_kinetics_clips(videos_dir: str,
                         annotations_csv: str,
                         classes: Sequence[str] = KS_CLASSES,
                         per_class: int = 3,
                         val_per_class: int = 1,
                         seed: int = 0) -> Dict:
    """Write Kinetics-400 clips and their annotation CSV.

    Every class gets ``per_class`` training clips (``videos_dir/train/``)
    and ``val_per_class`` validation clips (``videos_dir/val/``), 3 to 4 s
    long. Also: the first training clip has no audio track; one clip of a
    class outside Kinetics-Sounds (``abseiling``) is written and annotated;
    the label of the second class is spelled with underscores (as some
    releases do) in the CSV.

    Args:
        videos_dir (str): Receives ``train/`` and ``val/``.
        annotations_csv (str): The CSV file to write.
        classes (Sequence[str]): Kinetics-Sounds classes.
        per_class (int): Training clips a class.
        val_per_class (int): Validation clips a class.
        seed (int): Seed of ids and content.

    Returns:
        dict: ``clips`` (name to ``(class, split)``, Kinetics-Sounds clips
        only), ``no_audio`` (the name of the clip without audio),
        ``other`` (the name of the ``abseiling`` clip), ``seconds`` (name
        to length).
    """
    rng = np.random.default_rng(seed)
    rows, clips, seconds = [], {}, {}
    entries = [(c, 'train') for c in classes for _ in range(per_class)]
    entries += [(c, 'val') for c in classes for _ in range(val_per_class)]
    entries.append(('abseiling', 'train'))
    no_audio = None
    for i, (label, split) in enumerate(entries):
        start = int(rng.integers(0, 300))
        name = kinetics_name(_youtube_id(rng), start, start + 10)
        length = float(rng.uniform(3.0, 4.0))
        silent = i == 0
        write_media(
            osp.join(videos_dir, split, name + '.mp4'),
            length,
            seed * 100003 + i,
            fps=KS_FPS,
            audio_codec=None if silent else 'aac')
        spelled = label.replace(
            ' ', '_') if (len(classes) > 1 and label == classes[1]) else label
        rows.append(
            [spelled, name[:-14], start, start + 10, split,
             int(i % 2)])
        seconds[name] = length
        if label in classes:
            clips[name] = (label, split)
        if silent:
            no_audio = name
    with open(annotations_csv, 'w', newline='') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow([
            'label', 'youtube_id', 'time_start', 'time_end', 'split', 'is_cc'
        ])
        writer.writerows(rows)
    other = [n for n in seconds if n not in clips][0]
    return dict(clips=clips, no_audio=no_audio, other=other, seconds=seconds)


# ------------------------------------------------- VGGSound, BalancedAV

#: VGGSound classes of the default fixture (one holds a comma, as some of
#: vggsound.csv's do, quoted there).
VGGSOUND_CLASSES = ('cattle, bovinae cowbell', 'dog barking',
                    'people marching')
#: BalancedAV classes of the default fixture, in its json's order.
BALANCED_AV_CLASSES = ('playing piano', 'lawn mowing', 'singing')


def _write_clip_files(videos_dir: str, names: Sequence[str], seed: int,
                      silent: str) -> Dict[str, float]:
    """Write ``<videos_dir>/<name>.mp4`` (H.264 + AAC, 3 to 4 s; ``silent``
    without an audio track) for every name; return their lengths."""
    rng = np.random.default_rng(seed)
    seconds = {}
    for i, name in enumerate(names):
        seconds[name] = float(rng.uniform(3.0, 4.0))
        write_media(
            osp.join(videos_dir, name + '.mp4'),
            seconds[name],
            seed * 100003 + i,
            fps=KS_FPS,
            audio_codec=None if name == silent else 'aac')
    return seconds


def write_vggsound_clips(videos_dir: str,
                         csv_path: str,
                         classes: Sequence[str] = VGGSOUND_CLASSES,
                         per_class: int = 4,
                         test_per_class: int = 1,
                         seed: int = 0) -> Dict:
    """Write VGGSound clips as the public copies name them and their
    ``vggsound.csv``.

    Clips are ``<videos_dir>/video/<youtube_id>_<start:06d>.mp4`` (H.264 +
    AAC, 64x48, 3 to 4 s: shorter than the real 10 s, for speed); the csv
    has no header, rows ``youtube_id,start,label,split`` with the start in
    plain seconds, a label holding a comma quoted. Also: the first training
    clip has no audio track; the last training row of the first class has
    no video file (a video gone from YouTube); the second training clip of
    every class is another clip of the YouTube video of its first (another
    start).

    Args:
        videos_dir (str): Receives ``video/``.
        csv_path (str): The csv file to write.
        classes (Sequence[str]): Class names.
        per_class (int): Training rows a class.
        test_per_class (int): Test rows a class.
        seed (int): Seed of ids and content.

    Returns:
        dict: ``clips`` (name to ``(class, split)``, every row),
        ``no_audio``, ``missing`` (the names of those two clips),
        ``same_video`` (pairs of clips of one video), ``seconds``.
    """
    rng = np.random.default_rng(seed)
    rows, clips, same_video = [], {}, []
    for label in classes:
        for split, count in (('train', per_class), ('test', test_per_class)):
            for i in range(count):
                start = int(rng.integers(0, 300))
                youtube_id = _youtube_id(rng)
                if split == 'train' and i == 1:  # the previous row's video
                    youtube_id, start = rows[-1][0], rows[-1][1] + 10
                name = f'{youtube_id}_{start:06d}'
                if split == 'train' and i == 1:
                    same_video.append((list(clips)[-1], name))
                rows.append([youtube_id, start, label, split])
                clips[name] = (label, split)
    train = [n for n, (_, s) in clips.items() if s == 'train']
    no_audio = train[0]
    missing = train[per_class - 1]
    seconds = _write_clip_files(
        osp.join(videos_dir, 'video'), [n for n in clips if n != missing],
        seed, no_audio)
    with open(csv_path, 'w', newline='') as f:
        csv.writer(f, lineterminator='\n').writerows(rows)
    return dict(
        clips=clips,
        no_audio=no_audio,
        missing=missing,
        same_video=same_video,
        seconds=seconds)


def write_balanced_av_clips(videos_dir: str,
                            json_path: str,
                            classes: Sequence[str] = BALANCED_AV_CLASSES,
                            per_class: int = 4,
                            test_per_class: int = 1,
                            seed: int = 0) -> Dict:
    """Write BalancedAV clips ``<videos_dir>/<clip>.mp4`` and the release's
    annotation json.

    The json is ``{"labels": classes, "database": {<clip>: {"subset":
    "training" | "validation" | "testing", "label": <class>}}}``, clips
    named ``<youtube_id>_<start:06d>_<end:06d>``. Every class has
    ``per_class`` training, ``test_per_class`` testing and one validation
    clip (annotated, no video: the tools prepare none). Also: the first
    training clip has no audio track, the last training clip of the first
    class has no video file.

    Args:
        videos_dir (str): Receives the clips.
        json_path (str): The json file to write.
        classes (Sequence[str]): Class names, in label order.
        per_class (int): Training clips a class.
        test_per_class (int): Testing clips a class.
        seed (int): Seed of ids and content.

    Returns:
        dict: ``clips`` (name to ``(class, subset)``), ``no_audio``,
        ``missing``, ``seconds``.
    """
    import json

    rng = np.random.default_rng(seed)
    clips = {}
    for label in classes:
        for subset, count in (('training', per_class),
                              ('testing', test_per_class), ('validation', 1)):
            for _ in range(count):
                start = int(rng.integers(0, 300))
                name = kinetics_name(_youtube_id(rng), start, start + 10)
                clips[name] = (label, subset)
    train = [n for n, (_, s) in clips.items() if s == 'training']
    no_audio, missing = train[0], train[per_class - 1]
    seconds = _write_clip_files(videos_dir, [
        n for n, (_, s) in clips.items() if s != 'validation' and n != missing
    ], seed, no_audio)
    with open(json_path, 'w') as f:
        json.dump(
            dict(
                labels=list(classes),
                database={
                    n: dict(subset=s, label=label)
                    for n, (label, s) in clips.items()
                }), f)
    return dict(
        clips=clips, no_audio=no_audio, missing=missing, seconds=seconds)
