"""Where an audio-visual clip's frames and audio are: the layouts users have.

Pure functions over the file system, no registry. Three layouts are in use
for CREMA-D and Kinetics-Sounds:

* mmdr's preparation tools and the D&R authors' processed data:
  ``visual/<clip>/frame_00001.jpg ...`` (numbered from 1),
  ``audio/<clip>.wav`` (or ``.pt`` / ``.npy`` features);
* OGM-GE's CREMA-D (the public release plus its frame extraction):
  ``Image-01-FPS/<clip>/00000.jpg 00030.jpg ...`` (named by the source
  video's frame index, not numbered 1..N), ``AudioWAV/<clip>.wav`` at
  16 kHz;
* OGM-GE's Kinetics-Sounds: ``visual/<clip>/frame_0000<k>.jpg``,
  ``audio_spec/<clip>.npy`` features.

:func:`frame_folder` and :func:`audio_folder` pick the folder by name,
:func:`listed_frames` reads a clip's frames in name order when they are not
numbered, :class:`FrameNameList` lets mmaction2's ``RawFrameDecode`` read
such a list, and :func:`audio_suffix` finds the audio files' suffix among
those the pipeline can read.
"""
import glob
import os
import os.path as osp
import re
from typing import List, Optional, Sequence, Tuple

from .file_checks import IMAGE_SUFFIXES

#: Folders of frames, by preference: mmdr's and the authors', then
#: OGM-GE's ``Image-<fps>-FPS`` (any frame rate, in name order).
FRAME_FOLDERS = ('visual', 'Image-*-FPS')
#: Folders of audio, by preference: mmdr's and the authors' ``audio``,
#: the release's ``AudioWAV`` (OGM-GE reads it), OGM-GE's Kinetics-Sounds
#: ``audio_spec``.
AUDIO_FOLDERS = ('audio', 'AudioWAV', 'audio_spec')
#: Suffixes of waveform files (read by soundfile) and of precomputed
#: features (read by ``LoadAudioFeatureFile``).
WAVEFORM_SUFFIXES = ('.wav', '.flac', '.ogg')
FEATURE_SUFFIXES = ('.pt', '.npy')
#: Suffixes recognised as audio of some kind, for the message of a file
#: the pipeline cannot read (OGM-GE's Kinetics-Sounds ``.pkl`` included).
KNOWN_AUDIO_SUFFIXES = WAVEFORM_SUFFIXES + FEATURE_SUFFIXES + ('.pkl', )
#: Clips looked at to find the audio suffix (a tree without any audio file
#: is reported by the file checks, not searched through).
PROBED_CLIPS = 20


def _first_existing(data_root: str, patterns: Sequence[str]) -> Optional[str]:
    """The first folder under ``data_root`` that a pattern names."""
    for pattern in patterns:
        found = sorted(
            osp.relpath(p, data_root)
            for p in glob.glob(osp.join(glob.escape(data_root), pattern))
            if osp.isdir(p))
        if found:
            return found[0]
    return None


def frame_folder(data_root: str) -> Optional[str]:
    """The folder of clip frame folders under ``data_root``.

    Args:
        data_root (str): The data set's folder.

    Returns:
        str | None: ``'visual'``, else OGM-GE's ``'Image-01-FPS'`` (the
        first ``Image-*-FPS`` in name order), else None.
    """
    return _first_existing(data_root, FRAME_FOLDERS)


def audio_folder(data_root: str) -> Optional[str]:
    """The folder of the clips' audio files under ``data_root``.

    Args:
        data_root (str): The data set's folder.

    Returns:
        str | None: The first of :data:`AUDIO_FOLDERS` that exists, or None.
    """
    return _first_existing(data_root, AUDIO_FOLDERS)


def natural_key(name: str) -> List:
    """Sort key that orders the digits in a name by value.

    ``frame_9.jpg`` before ``frame_10.jpg``; zero-padded names keep their
    order. :func:`re.split` with a group alternates text and digits, so
    equal positions hold the same type.

    Args:
        name (str): A file name.

    Returns:
        list: The key.
    """
    return [
        int(part) if index % 2 else part
        for index, part in enumerate(re.split(r'(\d+)', name))
    ]


def listed_frames(folder: str) -> List[str]:
    """A clip's frame files in name order (digits by value).

    Args:
        folder (str): The clip's frame folder.

    Returns:
        list[str]: The names of its image files.
    """
    return sorted((name for name in os.listdir(folder)
                   if name.lower().endswith(IMAGE_SUFFIXES)),
                  key=natural_key)


def numbered_frames(names: Sequence[str], filename_tmpl: str) -> int:
    """How many of a folder's names the template numbers from 1, in a row.

    Args:
        names (Sequence[str]): The folder's file names.
        filename_tmpl (str): E.g. ``'frame_{:05d}.jpg'``.

    Returns:
        int: N when ``filename_tmpl.format(k)`` is among the names for
        every k in 1..N (and not for N + 1).
    """
    present = set(names)
    count = 0
    while filename_tmpl.format(count + 1) in present:
        count += 1
    return count


def is_numbered(names: Sequence[str], filename_tmpl: str) -> bool:
    """Whether a folder's frames are exactly the template's 1..N.

    Args:
        names (Sequence[str]): The folder's image file names.
        filename_tmpl (str): The template.

    Returns:
        bool: True when there is a frame and every frame is numbered.
    """
    count = numbered_frames(names, filename_tmpl)
    return count > 0 and count == len(names)


class FrameNameList:
    """A clip's frame names, formatted by index as a filename template.

    mmaction2's ``SampleFrames`` draws indices 1..``total_frames`` and its
    ``RawFrameDecode`` reads ``filename_tmpl.format(index)`` in the clip's
    folder. A clip whose frames are not numbered 1..N (OGM-GE names them
    by the source video's frame index: ``00000.jpg``, ``00030.jpg``, ...)
    is read unchanged by both when its ``filename_tmpl`` is this list:
    ``format(k)`` is the k-th name in name order.

    Args:
        names (Sequence[str]): The clip's frame file names, in order.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)

    def format(self, index: int) -> str:
        """The name of frame ``index``.

        Args:
            index (int): 1-based, as ``SampleFrames`` draws it.

        Returns:
            str: The file name.
        """
        index = int(index)
        if not 1 <= index <= len(self.names):
            raise IndexError(f'frame {index} of a clip with '
                             f'{len(self.names)} frames {self.names}')
        return self.names[index - 1]

    def __len__(self) -> int:
        return len(self.names)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, FrameNameList) and other.names == self.names)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({list(self.names)})'


def audio_suffix(audio_dir: str, clips: Sequence[str],
                 readable: Sequence[str]) -> Tuple[Optional[str], List[str]]:
    """The suffix of the clips' audio files, among those the pipeline reads.

    The first clip that has an audio file of a known kind decides.

    Args:
        audio_dir (str): The audio folder.
        clips (Sequence[str]): Clip names, in list order; the first
            :data:`PROBED_CLIPS` are looked at.
        readable (Sequence[str]): Suffixes the pipeline reads, by
            preference.

    Returns:
        tuple[str | None, list[str]]: The first readable suffix found for
        that clip (None if none), and the files of that clip with a known
        audio suffix (to name what is there instead).
    """
    for clip in clips[:PROBED_CLIPS]:
        found = [
            clip + suffix for suffix in KNOWN_AUDIO_SUFFIXES
            if osp.isfile(osp.join(audio_dir, clip + suffix))
        ]
        if not found:
            continue
        for suffix in readable:
            if clip + suffix in found:
                return suffix, found
        return None, found
    return None, []
