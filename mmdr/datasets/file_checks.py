"""Why a data file cannot be used: cheap checks and full decoding.

Pure functions, no registry. Two levels:

* :func:`file_problem` is cheap (one ``stat``, and a WAV header read): a
  missing file, an empty one, a WAV file that holds less audio than its
  header declares. Data sets run it on every file of every sample when they
  start (:func:`find_file_problems`, in a thread pool).
* :func:`folder_listing` and :func:`listed_file_problems` give the same
  cheap answers for the many files of a frame folder from one listing (a
  ``stat`` per file, no lookup per expected name).
* :func:`decode_problem` decodes the whole file as training would (an image
  with OpenCV, as mmcv's ``imfrombytes``; audio with soundfile; a video
  with decord, as mmaction2's ``DecordInit``; features with numpy or
  torch). Data sets run it on a sample whose pipeline failed, to name the
  file (:func:`unreadable_files`), and ``tools/analysis/check_data.py``
  runs it on every sample.
"""
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from mmdr.audio import AudioFileError, read_audio
from mmdr.audio.io import wav_data_shortfall

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')
AUDIO_SUFFIXES = ('.wav', '.flac', '.ogg', '.mp3')
VIDEO_SUFFIXES = ('.avi', '.mp4', '.mkv', '.webm', '.flv', '.mov')
#: Keys of a sample's info that name its files, as mmaction2's and mmdr's
#: data sets write them.
FILE_KEYS = ('filename', 'img_path', 'audio_path')
FOLDER_KEYS = ('frame_dir', )


def file_problem(path: str) -> Optional[str]:
    """Cheap check of one file: present, not empty, a WAV file complete.

    Args:
        path (str): The file.

    Returns:
        str | None: Why the file is unusable, or None.
    """
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return 'missing'
    except OSError as err:
        return f'cannot be read ({err.strerror})'
    if size == 0:
        return 'empty (0 bytes)'
    if path.lower().endswith('.wav'):
        try:
            shortfall = wav_data_shortfall(path)
        except OSError as err:
            return f'cannot be read ({err.strerror})'
        if shortfall is not None:
            return (f'truncated WAV: its header declares {shortfall[0]} bytes'
                    f' of audio data, the file holds {shortfall[1]}')
    return None


def find_file_problems(entries: Sequence[Tuple[str, str]],
                       num_threads: int = 8) -> List[Tuple[str, str, str]]:
    """Run :func:`file_problem` on many files at once.

    ``stat`` calls release the GIL, so threads overlap the file system's
    latency (a network file system above all).

    Args:
        entries (Sequence[tuple[str, str]]): ``(where, path)`` pairs; where
            says which sample or annotation line the file belongs to.
        num_threads (int): Threads. Defaults to 8.

    Returns:
        list[tuple[str, str, str]]: ``(where, path, problem)`` of every
        unusable file, in the order of ``entries``.
    """
    paths = [path for _, path in entries]
    if len(paths) < 64 or num_threads <= 1:
        problems = [file_problem(p) for p in paths]
    else:
        with ThreadPoolExecutor(num_threads) as pool:
            problems = list(pool.map(file_problem, paths, chunksize=256))
    return [(where, path, problem)
            for (where, path), problem in zip(entries, problems) if problem]


def folder_listing(folder: str) -> Optional[Dict[str, int]]:
    """The files of a folder and their sizes, from one listing.

    One ``os.scandir`` and a ``stat`` per file instead of one lookup per
    expected name: a frame folder holds hundreds of files.

    Args:
        folder (str): The folder.

    Returns:
        dict[str, int] | None: File name to size in bytes; None when the
        folder does not exist.
    """
    sizes = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    if entry.is_file():
                        sizes[entry.name] = entry.stat().st_size
                except OSError:
                    # Gone or unreadable since the listing: report it as
                    # missing rather than stopping the check.
                    continue
    except (FileNotFoundError, NotADirectoryError):
        return None
    return sizes


def listed_file_problems(folder: str, listing: Dict[str, int],
                         names: Iterable[str]) -> List[Tuple[str, str]]:
    """Cheap check of the files a folder must hold, against its listing.

    Args:
        folder (str): The folder.
        listing (dict[str, int]): Its :func:`folder_listing`.
        names (Iterable[str]): The file names it must hold.

    Returns:
        list[tuple[str, str]]: ``(path, problem)`` of every missing or
        empty file, in the order of ``names``.
    """
    found = []
    for name in names:
        size = listing.get(name)
        if size is None:
            found.append((osp.join(folder, name), 'missing'))
        elif size == 0:
            found.append((osp.join(folder, name), 'empty (0 bytes)'))
    return found


def _image_problem(path: str) -> Optional[str]:
    import cv2
    with open(path, 'rb') as f:
        data = f.read()
    if path.lower().endswith(('.jpg', '.jpeg')):
        if not data.startswith(b'\xff\xd8'):
            return 'not a JPEG file'
        # A JPEG cut short decodes with grey rows in OpenCV: the end
        # marker tells it.
        if not data.rstrip(b'\x00').endswith(b'\xff\xd9'):
            return 'truncated JPEG'
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        return 'cannot be decoded as an image (OpenCV)'
    return None


def _audio_problem(path: str) -> Optional[str]:
    try:
        read_audio(path)
    except AudioFileError as err:
        # The caller names the file: keep the reason only.
        return str(err).replace(f' {path}', '')
    return None


def _video_problem(path: str) -> Optional[str]:
    import decord
    try:
        reader = decord.VideoReader(path, num_threads=1)
        num_frames = len(reader)
        if num_frames == 0:
            return 'holds no video frame'
        # Every frame, in order: a corrupt packet anywhere fails here.
        for index in range(num_frames):
            reader[index]
    except (decord.DECORDError, RuntimeError) as err:
        first = str(err).strip().splitlines()
        return 'cannot be decoded as a video (decord: ' + (
            first[0] if first else type(err).__name__) + ')'
    return None


def _feature_problem(path: str) -> Optional[str]:
    try:
        if path.endswith('.npy'):
            np.load(path, allow_pickle=False)
        else:
            import torch
            torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: B902 - any failure makes it unusable
        first = str(err).strip().splitlines()
        return (f'cannot be loaded ({type(err).__name__}: '
                f'{first[0] if first else ""})')
    return None


def decode_problem(path: str) -> Optional[str]:
    """Decode one file completely, as training reads it.

    Images, audio, videos and ``.npy``/``.pt`` features are recognised by
    their suffix; other files get the cheap check only.

    Args:
        path (str): The file.

    Returns:
        str | None: Why the file is unusable, or None.
    """
    problem = file_problem(path)
    if problem is not None:
        return problem
    lower = path.lower()
    try:
        if lower.endswith(IMAGE_SUFFIXES):
            return _image_problem(path)
        if lower.endswith(AUDIO_SUFFIXES):
            return _audio_problem(path)
        if lower.endswith(VIDEO_SUFFIXES):
            return _video_problem(path)
        if lower.endswith(('.npy', '.pt', '.pth')):
            return _feature_problem(path)
    except OSError as err:
        return f'cannot be read ({err.strerror or err})'
    return None


def sample_files(info: dict) -> List[str]:
    """The files a sample's info names: its file keys and frame folders.

    Args:
        info (dict): A data set's info of one sample (``filename``,
            ``audio_path``, ``frame_dir``, ...).

    Returns:
        list[str]: The files, each once (an image under both ``img_path``
        and ``filename`` is decoded once), frame folders listed in name
        order.
    """
    files = [info[key] for key in FILE_KEYS if isinstance(info.get(key), str)]
    for key in FOLDER_KEYS:
        folder = info.get(key)
        if isinstance(folder, str) and osp.isdir(folder):
            files += sorted(
                osp.join(folder, name) for name in os.listdir(folder)
                if name.lower().endswith(IMAGE_SUFFIXES))
    return list(dict.fromkeys(files))


def unreadable_files(info: dict) -> List[Tuple[str, str]]:
    """Decode every file of one sample; name those that fail.

    Args:
        info (dict): A data set's info of one sample.

    Returns:
        list[tuple[str, str]]: ``(path, problem)`` of every unusable file.
    """
    found = []
    for path in sample_files(info):
        problem = decode_problem(path)
        if problem is not None:
            found.append((path, problem))
    return found


def describe_files(found: Iterable[Tuple[str, str]], limit: int = 5) -> str:
    """``path (problem)`` of the first few files, for a message.

    Args:
        found (Iterable[tuple[str, str]]): ``(path, problem)`` pairs.
        limit (int): How many to name. Defaults to 5.

    Returns:
        str: One line.
    """
    found = list(found)
    text = '; '.join(f'{path} ({problem})' for path, problem in found[:limit])
    if len(found) > limit:
        text += f'; and {len(found) - limit} more'
    return text
