import os
import os.path as osp
from abc import abstractmethod
from typing import Callable, Dict, List, Optional, Tuple, Union

from .base_multimodal_dataset import BaseMultiModalDataset, read_skip_list


class AudioVisualClipDataset(BaseMultiModalDataset):
    """Base of audio-visual clip data sets in OGM-GE's prepared layout.

    The layout that OGM-GE's and D&R's code read, which the preparation
    tools of CREMA-D and Kinetics-Sounds write::

        <data_root>/
          visual/<clip>/frame_00001.jpg ...   frames at 1 fps, from 1
          audio/<clip>.wav                    or .pt / .npy features
          <split lists>

    Subclasses read their split lists' rows (:meth:`parse_row`). Each clip
    gives an mmaction2 rawframes sample (``frame_dir``, ``total_frames``,
    ``start_index`` 1, ``filename_tmpl``, ``modality`` ``'RGB'``), so the
    visual branch is mmaction2's ``SampleFrames`` and ``RawFrameDecode``,
    plus ``audio_path`` for the audio branch, ``label``, ``clip`` and
    ``modalities`` (``('audio', 'visual')``).

    Bad input fails when the data set starts, naming the list's file and
    line: a missing frame folder or audio file, fewer than ``min_frames``
    frames, or whatever :meth:`parse_row` rejects. Nothing is dropped
    silently (the reference code skips clips whose files are missing):
    clips named in ``skip_list`` (the ``skipped.txt`` that the preparation
    tools write: corrupt, without audio, not downloaded) are left out with
    a warning that counts and names them.

    Splits are named (:attr:`SPLITS`): ``split`` and ``subset`` choose the
    list, e.g. ``split='speaker', subset='val'``, so that a config switches
    all three loaders with one variable; ``ann_file`` names a list
    directly instead.

    Args:
        split (str): A named split of :attr:`SPLITS`.
        subset (str): ``'train'``, ``'val'`` or ``'test'``.
        ann_file (str, optional): Split list, relative to ``data_root``
            unless absolute; overrides ``split`` and ``subset``.
        data_root (str): The prepared folder.
        audio_suffix (str): The audio files' suffix: ``'.wav'`` (waveforms)
            or a precomputed feature (``'.pt'``, ``'.npy'``, read by
            ``LoadAudioFeature``). Defaults to ``'.wav'``.
        data_prefix (dict): Folders of ``visual`` and ``audio`` under
            ``data_root``.
        filename_tmpl (str): Frame file names. Defaults to
            ``'frame_{:05d}.jpg'``.
        min_frames (int): Fewest frames a clip may have. Defaults to 1.
        skip_list (str, optional): Clips to leave out, one per line
            (``# reason`` allowed), relative to ``data_root`` unless
            absolute.
        pipeline (list): Transforms applied to every sample.
        test_mode (bool): Whether the data set is for testing.
        kwargs: Further arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    MODALITIES = ('audio', 'visual')
    #: Named splits: split -> subset -> list file.
    SPLITS: Dict[str, Dict[str, str]] = {}
    #: The split lists' column separator.
    DELIMITER = ','

    def __init__(self,
                 split: str,
                 subset: str,
                 data_root: str,
                 ann_file: Optional[str] = None,
                 audio_suffix: str = '.wav',
                 data_prefix: dict = dict(visual='visual', audio='audio'),
                 filename_tmpl: str = 'frame_{:05d}.jpg',
                 min_frames: int = 1,
                 skip_list: Optional[str] = None,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 **kwargs) -> None:
        if min_frames < 1:
            raise ValueError(f'{type(self).__name__}: min_frames must be at '
                             f'least 1, got {min_frames}')
        if ann_file is None:
            ann_file = self.split_file(split, subset)
        self.split = split
        self.subset = subset
        self.audio_suffix = audio_suffix
        self.filename_tmpl = filename_tmpl
        self.min_frames = min_frames
        if skip_list is not None and not osp.isabs(skip_list):
            skip_list = osp.join(data_root, skip_list)
        self.skip_list = skip_list
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=dict(data_prefix),
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    @classmethod
    def split_file(cls, split: str, subset: str) -> str:
        """The list file of a named split's subset.

        Args:
            split (str): A key of :attr:`SPLITS`.
            subset (str): ``'train'``, ``'val'`` or ``'test'``.

        Returns:
            str: The list's file name under ``data_root``.
        """
        if split not in cls.SPLITS:
            raise ValueError(f'{cls.__name__}: split={split!r}; choose one '
                             f'of {sorted(cls.SPLITS)}')
        if subset not in cls.SPLITS[split]:
            raise ValueError(
                f'{cls.__name__}: subset={subset!r}; split {split!r} has '
                f'{sorted(cls.SPLITS[split])}')
        return cls.SPLITS[split][subset]

    @property
    def modalities(self) -> tuple:
        """tuple[str]: The modalities every sample provides."""
        return self.MODALITIES

    @abstractmethod
    def parse_row(self, fields: List[str], where: str,
                  line_index: int) -> Union[Tuple[str, int], None]:
        """Read one row of a split list.

        Args:
            fields (list[str]): The row's columns.
            where (str): File and line, for messages.
            line_index (int): The row's position among non-blank rows,
                from 0 (a header may only be row 0).

        Returns:
            tuple[str, int] | None: The clip name and its label, or None for
            a header row.
        """

    def load_data_list(self) -> List[dict]:
        """Read the split list and check every clip it names on disk.

        Returns:
            list[dict]: One dict per clip.
        """
        if self.skip_list is not None and not osp.isfile(self.skip_list):
            raise FileNotFoundError(
                f'{type(self).__name__}: skip_list {self.skip_list} not '
                'found; the preparation tool writes it '
                f'({self.prepare_hint(self.data_root)}), or set '
                'skip_list=None')
        skip = read_skip_list(self.skip_list) if self.skip_list else {}
        data_list, seen, skipped = [], {}, []
        prefix, _, suffix = self.filename_tmpl.partition('{')
        suffix = suffix.partition('}')[2]
        for index, (where, fields) in enumerate(
                self.annotation_lines(self.DELIMITER)):
            row = self.parse_row(fields, where, index)
            if row is None:
                continue
            clip, label = row
            if clip in seen:
                raise ValueError(f'{where}: clip {clip} is listed twice '
                                 f'(first at {seen[clip]})')
            seen[clip] = where
            if clip in skip:
                skipped.append(clip)
                continue
            data_list.append(
                self._clip_info(clip, label, where, (prefix, suffix)))
        self.warn_skipped(skipped, len(data_list), self.skip_list)
        if not data_list:
            raise ValueError(f'{self.ann_file} lists no usable clip')
        return data_list

    def _clip_info(self, clip: str, label: int, where: str,
                   frame_affixes: Tuple[str, str]) -> dict:
        """Paths and frame count of one clip, checked on disk."""
        hint = f'prepare it with: {self.prepare_hint(self.data_root)}'
        frame_dir = osp.join(self.data_prefix['visual'], clip)
        if not osp.isdir(frame_dir):
            raise FileNotFoundError(
                f'{where}: frame folder {frame_dir} is missing; {hint}')
        prefix, suffix = frame_affixes
        total_frames = sum(
            name.startswith(prefix) and name.endswith(suffix)
            for name in os.listdir(frame_dir))
        if total_frames < self.min_frames:
            raise ValueError(
                f'{where}: {frame_dir} holds {total_frames} frames, fewer '
                f'than min_frames={self.min_frames}; {hint}')
        last = osp.join(frame_dir, self.filename_tmpl.format(total_frames))
        if not osp.isfile(last):
            # Frames are numbered 1..N without gaps; SampleFrames relies on
            # it.
            raise ValueError(f'{where}: {frame_dir} holds {total_frames} '
                             f'frames but not {osp.basename(last)}: the '
                             f'frames must be numbered from 1 without gaps')
        audio_path = osp.join(self.data_prefix['audio'],
                              clip + self.audio_suffix)
        if not osp.isfile(audio_path):
            raise FileNotFoundError(
                f'{where}: audio file {audio_path} is missing; {hint}')
        return dict(
            clip=clip,
            label=label,
            frame_dir=frame_dir,
            total_frames=total_frames,
            start_index=1,
            filename_tmpl=self.filename_tmpl,
            modality='RGB',
            audio_path=audio_path,
            ann_line=where)
