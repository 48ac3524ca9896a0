import os
import os.path as osp
from abc import abstractmethod
from typing import (Callable, Dict, Iterator, List, NamedTuple, Optional,
                    Sequence, Tuple, Union)

import soundfile
from mmaction.datasets.transforms import \
    LoadAudioFeature as MMActionLoadAudioFeature
from mmengine.logging import print_log

from . import av_layout
from .base_multimodal_dataset import BaseMultiModalDataset
from .file_checks import file_problem
from .splits import stratified_group_carve
from .transforms.audio import LoadAudioFeatureFile, LoadWaveform

#: Layout and split messages already logged in this process: a data set is
#: built once per loader and again by every D&R diagnosis.
_LOGGED = set()


class ListRow(NamedTuple):
    """One clip row of a split list.

    Attributes:
        where (str): File, line number and text, for messages.
        clip (str): The clip's name.
        label (int): Its class index.
        source (str): The list's file name.
    """
    where: str
    clip: str
    label: int
    source: str


class DerivedSplit(NamedTuple):
    """A split list made in memory.

    Attributes:
        source (str): The list file its rows come from (the first of
            several), named in messages.
        rows (list[ListRow]): Its rows, sorted by clip (as the
            preparation tools write the file).
        note (str): How it was made, for the log.
    """
    source: str
    rows: List[ListRow]
    note: str


def log_once(message: str, level: int = 20) -> None:
    """Log a message once per process.

    Args:
        message (str): The message.
        level (int): The logging level. Defaults to INFO.
    """
    if message not in _LOGGED:
        _LOGGED.add(message)
        print_log(message, logger='current', level=level)


def _transforms(transforms: Sequence) -> Iterator:
    """Every transform of a pipeline, those inside wrappers included."""
    for transform in transforms:
        yield transform
        inner = getattr(transform, 'transforms', None)
        if isinstance(inner, (list, tuple)):
            yield from _transforms(inner)


class AudioVisualClipDataset(BaseMultiModalDataset):
    """Base of audio-visual clip data sets in the layouts their users have.

    The layout of mmdr's preparation tools and of the D&R authors'
    processed data, and OGM-GE's (see :mod:`mmdr.datasets.av_layout`)::

        <data_root>/
          visual/<clip>/frame_00001.jpg ...   frames at 1 fps, from 1
            or Image-01-FPS/<clip>/00000.jpg 00030.jpg ...   (OGM-GE)
          audio/<clip>.wav                    or .pt / .npy features
            or AudioWAV/<clip>.wav, audio_spec/<clip>.npy    (OGM-GE)
          <split lists>

    The layout is found from the files once and logged: the frames' folder
    and naming (numbered 1..N, or any names read in name order), the audio
    folder and suffix (among those the pipeline's audio loader reads; a
    WAV file's sample rate is checked against ``LoadWaveform``'s).
    ``data_prefix``, ``filename_tmpl`` and ``audio_suffix`` set them
    instead.

    Subclasses read their split lists' rows (:meth:`parse_row`) and may
    make a named split's list in memory when its file is absent
    (:meth:`derive_split`: a seeded carve of the training list, as the
    preparation tool writes it). Each clip gives an mmaction2 rawframes
    sample (``frame_dir``, ``total_frames``, ``start_index`` 1,
    ``filename_tmpl``, ``modality`` ``'RGB'``), so the visual branch is
    mmaction2's ``SampleFrames`` and ``RawFrameDecode``; frames that are
    not numbered 1..N get a :class:`~mmdr.datasets.av_layout.FrameNameList`
    as ``filename_tmpl``. Also ``audio_path``, ``label``, ``clip``,
    ``ann_line`` and ``modalities`` (``('audio', 'visual')``).

    Bad input fails when the data set starts, naming the list's file and
    line: whatever :meth:`parse_row` rejects, a clip listed twice, fewer
    than ``min_frames`` frames, frames numbered with gaps, and, all at once
    (:meth:`check_sample_files`), every missing frame folder and every
    missing, empty or truncated frame or audio file. Nothing is dropped
    silently (the reference code skips clips whose files are missing):
    clips named in a skip list are left out with a warning that counts and
    names them, as are, for lists in :attr:`LISTS_OF_ABSENT_CLIPS`, clips
    that have neither frames nor audio.

    Splits are named (:attr:`SPLITS`): ``split`` and ``subset`` choose the
    list, e.g. ``split='speaker', subset='val'``, so that a config switches
    all three loaders with one variable; ``ann_file`` names a list
    directly instead.

    Args:
        split (str): A named split of :attr:`SPLITS`.
        subset (str): ``'train'``, ``'val'`` or ``'test'``.
        data_root (str): The data set's folder.
        ann_file (str, optional): Split list, relative to ``data_root``
            unless absolute; overrides ``split`` and ``subset``.
        audio_suffix (str, optional): The audio files' suffix, e.g.
            ``'.wav'`` (waveforms) or ``'.pt'``, ``'.npy'`` (features read
            by ``LoadAudioFeatureFile``); None finds it among the suffixes
            the pipeline reads. Defaults to None.
        data_prefix (dict, optional): Folders of ``visual`` and ``audio``
            under ``data_root``; a key left out is found. Defaults to None.
        filename_tmpl (str, optional): Frame file names, numbered from 1,
            e.g. ``'frame_{:05d}.jpg'``; None finds the naming. Defaults to
            None.
        min_frames (int): Fewest frames a clip may have. Defaults to 1.
        skip_list (str | Sequence[str], optional): Clips to leave out, one
            per line (``# reason`` allowed), relative to ``data_root``
            unless absolute; each must exist. None reads the preparation's
            ``skipped.txt`` and ``tools/analysis/check_data.py``'s
            ``unreadable.txt`` where they exist (:meth:`read_skips`).
            Defaults to None.
        pipeline (list): Transforms applied to every sample.
        test_mode (bool): Whether the data set is for testing.
        kwargs: Further arguments of :class:`BaseMultiModalDataset`.
    """

    MODALITIES = ('audio', 'visual')
    #: Named splits: split -> subset -> list file.
    SPLITS: Dict[str, Dict[str, str]] = {}
    #: The split lists' column separator.
    DELIMITER = ','
    #: Lists that name clips users commonly lack (videos no longer online):
    #: their clips without frames and audio are left out with a warning.
    LISTS_OF_ABSENT_CLIPS: Tuple[str, ...] = ()
    #: Frame names of mmdr's and the authors' layout.
    FILENAME_TMPL = 'frame_{:05d}.jpg'
    #: A config whose audio front-end reads precomputed features.
    FEATURE_CONFIG = ''

    def __init__(self,
                 split: str,
                 subset: str,
                 data_root: str,
                 ann_file: Optional[str] = None,
                 audio_suffix: Optional[str] = None,
                 data_prefix: Optional[dict] = None,
                 filename_tmpl: Optional[str] = None,
                 min_frames: int = 1,
                 skip_list: Union[str, Sequence[str], None] = None,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 **kwargs) -> None:
        if min_frames < 1:
            raise ValueError(f'{type(self).__name__}: min_frames must be at '
                             f'least 1, got {min_frames}')
        self.named_split = ann_file is None
        if ann_file is None:
            ann_file = self.split_file(split, subset)
        self.split = split
        self.subset = subset
        self.audio_suffix = audio_suffix
        self.filename_tmpl = filename_tmpl
        self.min_frames = min_frames
        self.given_prefix = dict(data_prefix or {})
        # What the arguments set, named in the layout's log line.
        self.given = [f'data_prefix.{key}' for key in self.given_prefix] + [
            name for name, value in (
                ('filename_tmpl', filename_tmpl),
                ('audio_suffix', audio_suffix)) if value is not None
        ]
        self.skip_list = skip_list
        # Set by load_data_list: whether frames are read in name order.
        self.listed_frames = False
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=dict(self.given_prefix),
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

    def derive_split(self, split: str, subset: str) -> Optional[DerivedSplit]:
        """Make a named split's list in memory when its file is absent.

        Args:
            split (str): The named split.
            subset (str): The subset whose file is absent.

        Returns:
            DerivedSplit | None: The list; None when it cannot be made here
            (the missing file is then reported).
        """
        return None

    def carve_label(self, label: int):
        """A row's label as the preparation tool's carve draws it.

        The carve shuffles the labels' clips in the order of the sorted
        labels, so it must see the labels the tool sees.

        Args:
            label (int): The class index.

        Returns:
            The label the tool's list holds (the index by default).
        """
        return label

    def carve_group(self, clip: str) -> str:
        """What the carve draws a clip with (a group of clips that stay on
        one side of it).

        Args:
            clip (str): The clip's name.

        Returns:
            str: The clip itself by default: clips are drawn one by one.
        """
        return clip

    def carve(self, sources: Sequence[str], items: List[ListRow],
              val_size: int, seed: int) -> DerivedSplit:
        """This data set's part of a stratified carve of a training list.

        Args:
            sources (Sequence[str]): The list files ``items`` were read from.
            items (list[ListRow]): The training list's rows.
            val_size (int): Groups (:meth:`carve_group`; clips by default)
                of the validation part.
            seed (int): Seed of the draw.

        Returns:
            DerivedSplit: The training or validation part (``subset``).
        """
        train, val = stratified_group_carve(
            [(row.clip, self.carve_label(row.label)) for row in items],
            val_size, self.carve_group, seed)
        chosen = {clip for clip, _ in (val if self.subset == 'val' else train)}
        rows = sorted((row for row in items if row.clip in chosen),
                      key=lambda row: row.clip)
        return DerivedSplit(
            sources[0], rows,
            f'our stratified carve of {" + ".join(sources)} (seed {seed}): '
            f'train {len(train)} / val {len(val)} clips')

    def missing_list_hint(self, path: str) -> str:
        """What to do about a split list that is not there.

        Args:
            path (str): The missing list.

        Returns:
            str: One sentence.
        """
        return ('Prepare the data set with: '
                f'{self.prepare_hint(self.data_root)}')

    def list_path(self, name: str) -> str:
        """A list file's path under ``data_root``."""
        return osp.join(self.data_root, name)

    def has_list(self, name: str) -> bool:
        """Whether a list file is in ``data_root``."""
        return osp.isfile(self.list_path(name))

    def all_or_none(self, names: Sequence[str], what: str) -> bool:
        """Whether lists that belong together are all there.

        Args:
            names (Sequence[str]): The lists' file names.
            what (str): What they are, for the message.

        Returns:
            bool: True when all are there, False when none is.

        Raises:
            FileNotFoundError: When some are there and some not: mixing a
                generated or given list with one made here could put a
                clip on both sides.
        """
        present = [name for name in names if self.has_list(name)]
        if present and len(present) < len(names):
            missing = [name for name in names if name not in present]
            raise FileNotFoundError(
                f'{type(self).__name__}: {self.data_root} holds '
                f'{", ".join(present)} but not {", ".join(missing)}: {what} '
                'are used together; put back the missing file(s) or remove '
                'the others (the data set then makes them in memory)')
        return bool(present)

    def read_rows(self, name: str) -> List[ListRow]:
        """The clip rows of a split list in ``data_root``, checked.

        Args:
            name (str): The list's file name.

        Returns:
            list[ListRow]: Its rows, in file order.
        """
        return self.read_list_file(self.list_path(name))

    def read_list_file(self, path: str) -> List[ListRow]:
        """The clip rows of a split list, checked.

        Args:
            path (str): The list file.

        Returns:
            list[ListRow]: Its rows, in file order.
        """
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{type(self).__name__}: split list {path} not found. '
                f'{self.missing_list_hint(path)}')
        rows, seen = [], {}
        for index, (where, fields) in enumerate(
                self.annotation_lines(self.DELIMITER, path)):
            row = self.parse_row(fields, where, index)
            if row is None:
                continue
            clip, label = row
            if clip in seen:
                raise ValueError(f'{where}: clip {clip} is listed twice '
                                 f'(first at {seen[clip]})')
            seen[clip] = where
            rows.append(ListRow(where, clip, label, osp.basename(path)))
        return rows

    def split_rows(self) -> List[ListRow]:
        """The rows of the data set's list, read or made in memory.

        Returns:
            list[ListRow]: The rows.
        """
        if not self.named_split or osp.isfile(self.ann_file):
            return self.read_list_file(self.ann_file)
        derived = self.derive_split(self.split, self.subset)
        if derived is None:
            return self.read_list_file(self.ann_file)
        log_once(f'{type(self).__name__}: {derived.note}')
        # Messages name the list the rows come from.
        self.ann_file = self.list_path(derived.source)
        return derived.rows

    def load_data_list(self) -> List[dict]:
        """Read the split list, find the layout, check every clip's files.

        Returns:
            list[dict]: One dict per clip.
        """
        self._refuse_mmaction_audio_loader()
        rows = self.split_rows()
        if not rows:
            raise ValueError(f'{type(self).__name__}: {self.ann_file} lists '
                             'no clip')
        rows = self._leave_out_skipped(rows)
        self._find_layout(rows)
        rows = self._leave_out_absent(rows)
        data_list, files = [], []
        for row in rows:
            info, clip_files = self._clip_info(row)
            data_list.append(info)
            files += clip_files
        if not data_list:
            raise ValueError(f'{self.ann_file} lists no usable clip')
        self.check_sample_files(files)
        return data_list

    # ------------------------------------------------------- leaving out

    def _leave_out_skipped(self, rows: List[ListRow]) -> List[ListRow]:
        """Drop the clips of the skip lists, with a counted warning."""
        skip, paths = self.read_skips(self.skip_list)
        kept = [row for row in rows if row.clip not in skip]
        self.warn_skipped([row.clip for row in rows if row.clip in skip],
                          len(kept), paths)
        return kept

    def _leave_out_absent(self, rows: List[ListRow]) -> List[ListRow]:
        """Drop clips of :attr:`LISTS_OF_ABSENT_CLIPS` that have neither
        frames nor audio, with a counted warning."""
        absent = {
            row.clip
            for row in rows if row.source in self.LISTS_OF_ABSENT_CLIPS
            and not osp.isdir(self._frame_dir(row.clip))
            and not osp.exists(self._audio_path(row.clip))
        }
        if not absent:
            return rows
        kept = [row for row in rows if row.clip not in absent]
        names = sorted(absent)
        log_once(
            f'{type(self).__name__}: {len(absent)} of the {len(rows)} clips '
            f'of {self.ann_file} have neither frames nor audio in '
            f'{self.data_root} and are left out (the lists name videos that '
            f'are no longer online): {names[:10]}'
            f'{" ..." if len(names) > 10 else ""}',
            level=30)
        return kept

    # ------------------------------------------------------------ layout

    def _frame_dir(self, clip: str) -> str:
        return osp.join(self.data_prefix['visual'], clip)

    def _audio_path(self, clip: str) -> str:
        return osp.join(self.data_prefix['audio'], clip + self.audio_suffix)

    def _audio_loaders(self) -> List:
        """The pipeline's audio loaders (inside wrappers too)."""
        return [
            t for t in _transforms(self.pipeline.transforms)
            if isinstance(t, (LoadWaveform, LoadAudioFeatureFile))
        ]

    def _refuse_mmaction_audio_loader(self) -> None:
        """Refuse mmaction2's ``LoadAudioFeature`` as the audio loader.

        It has the former name of :class:`LoadAudioFeatureFile`, so an old
        config reaches it through the parent registry; it writes
        ``'audios'``, which is not packed, and pads missing files with
        zeros or noise. Inside a wrapper (e.g. a ``ModalityPipeline`` whose
        ``out_key`` is ``'audios'``) it may be meant, and is left alone.
        """
        if any(
                isinstance(t, MMActionLoadAudioFeature)
                for t in self.pipeline.transforms):
            raise ValueError(
                f"{type(self).__name__}: the pipeline's LoadAudioFeature is "
                "mmaction2's transform, which writes 'audios' rather than "
                "'audio' and pads missing files with zeros or noise; mmdr's "
                'loader of .pt / .npy features, formerly LoadAudioFeature, '
                'is LoadAudioFeatureFile')

    def _find_layout(self, rows: List[ListRow]) -> None:
        """Set the folders, the frame naming and the audio suffix; log them.

        What the arguments gave is kept; the rest is found from the files
        of the first clips.
        """
        for key, finder, default in (('visual', av_layout.frame_folder,
                                      'visual'),
                                     ('audio', av_layout.audio_folder,
                                      'audio')):
            if key not in self.given_prefix:
                sub = finder(self.data_root)
                self.data_prefix[key] = osp.join(self.data_root, sub
                                                 or default)
        clips = [row.clip for row in rows]
        frames = self._find_frame_naming(clips)
        audio = self._find_audio_suffix(clips)
        given = f' (given: {", ".join(self.given)})' if self.given else ''
        log_once(f'{type(self).__name__}: layout of {self.data_root}: '
                 f'frames {frames}; audio {audio}{given}')

    def _find_frame_naming(self, clips: Sequence[str]) -> str:
        """Numbered frames (``filename_tmpl``) or frames in name order."""
        folder = osp.relpath(self.data_prefix['visual'], self.data_root)
        if self.filename_tmpl is None:
            self.filename_tmpl = self.FILENAME_TMPL
            first = next((self._frame_dir(c)
                          for c in clips if osp.isdir(self._frame_dir(c))),
                         None)
            if first is not None:
                names = av_layout.listed_frames(first)
                self.listed_frames = not av_layout.is_numbered(
                    names, self.filename_tmpl)
            if self.listed_frames:
                example = ' '.join(names[:3])
                return (f'{folder}/<clip>/*, read in name order ({example} '
                        f'...: not numbered {self.filename_tmpl} from 1)')
        return f'{folder}/<clip>/{self.filename_tmpl} (numbered from 1)'

    def _find_audio_suffix(self, clips: Sequence[str]) -> str:
        """The audio suffix the pipeline reads; a WAV's rate checked."""
        folder = osp.relpath(self.data_prefix['audio'], self.data_root)
        loaders = self._audio_loaders()
        if self.audio_suffix is None:
            readable = []
            if any(isinstance(t, LoadWaveform)
                   for t in loaders) or not loaders:
                readable += av_layout.WAVEFORM_SUFFIXES
            if any(isinstance(t, LoadAudioFeatureFile)
                   for t in loaders) or not loaders:
                readable += av_layout.FEATURE_SUFFIXES
            suffix, there = av_layout.audio_suffix(self.data_prefix['audio'],
                                                   clips, readable)
            if suffix is None and there:
                raise ValueError(
                    self._unreadable_audio_message(there[0], loaders,
                                                   readable))
            self.audio_suffix = suffix or readable[0]
        note = self._check_sample_rate(clips, loaders)
        return f'{folder}/<clip>{self.audio_suffix}{note}'

    def _unreadable_audio_message(self, name: str, loaders: Sequence,
                                  readable: Sequence[str]) -> str:
        """The message of audio files that the pipeline cannot read."""
        kinds = ', '.join(sorted({type(t).__name__ for t in loaders}))
        if name.endswith('.pkl'):
            advice = ('pickled features are not loaded (unpickling runs '
                      'code from the file): save them as .npy')
        elif name.endswith(av_layout.FEATURE_SUFFIXES):
            advice = (
                'these are precomputed features: train with a config '
                'whose audio front-end is LoadAudioFeatureFile' +
                (f' ({self.FEATURE_CONFIG})' if self.FEATURE_CONFIG else ''))
        else:
            advice = ('these are waveforms: train with a config whose audio '
                      'front-end is LoadWaveform')
        return (f'{type(self).__name__}: '
                f'{osp.join(self.data_prefix["audio"], name)} is the audio '
                f'of the first clips, which the pipeline ({kinds}) cannot '
                f'read: it reads {", ".join(readable)} files; {advice}, or '
                'set audio_suffix and data_prefix.audio to files it reads')

    def _check_sample_rate(self, clips: Sequence[str],
                           loaders: Sequence) -> str:
        """Hold the first WAV file's rate against the pipeline's loaders.

        Returns:
            str: A note on the rate for the layout's log line.

        Raises:
            ValueError: When a ``LoadWaveform`` expects another rate and
                does not resample: every sample would fail to load.
        """
        waveform = [t for t in loaders if isinstance(t, LoadWaveform)]
        if not waveform or self.audio_suffix not in (
                av_layout.WAVEFORM_SUFFIXES):
            return ''
        path = next(
            (self._audio_path(c)
             for c in clips[:20] if file_problem(self._audio_path(c)) is None),
            None)
        if path is None:
            return ''  # the file checks report them
        try:
            rate = soundfile.info(path).samplerate
        except (soundfile.SoundFileError, RuntimeError):
            return ''  # the failing sample names the file
        notes = []
        for loader in waveform:
            if loader.sample_rate == rate:
                continue
            if not loader.resample:
                raise ValueError(
                    f'{type(self).__name__}: {path} has a sample rate of '
                    f'{rate} Hz; the pipeline\'s LoadWaveform reads '
                    f'{loader.sample_rate} Hz without resampling: set '
                    'resample=True there (soxr HQ, as librosa.load with sr='
                    f'{loader.sample_rate})')
            notes.append(f'resampled to {loader.sample_rate} Hz')
        return f' ({rate} Hz' + ''.join(f', {n}' for n in notes) + ')'

    # -------------------------------------------------------------- clips

    def _clip_info(self, row: ListRow) -> Tuple[dict, List[Tuple[str, str]]]:
        """One clip's sample, and its files for the start-up checks.

        Args:
            row (ListRow): The clip's row.

        Returns:
            tuple[dict, list[tuple[str, str]]]: The sample's info, and
            ``(where, path)`` of its audio file and of every frame it may
            read (its frame folder when that is missing).
        """
        hint = f'prepare it with: {self.prepare_hint(self.data_root)}'
        where = row.where
        frame_dir = self._frame_dir(row.clip)
        audio_path = self._audio_path(row.clip)
        files = []
        filename_tmpl = self.filename_tmpl
        names: List[str] = []
        if not osp.isdir(frame_dir):
            files.append((where, frame_dir))
        elif self.listed_frames:
            names = av_layout.listed_frames(frame_dir)
            filename_tmpl = av_layout.FrameNameList(names)
        else:
            prefix, _, suffix = self.filename_tmpl.partition('{')
            suffix = suffix.partition('}')[2]
            total = sum(
                name.startswith(prefix) and name.endswith(suffix)
                for name in os.listdir(frame_dir))
            last = self.filename_tmpl.format(total)
            if total and not osp.isfile(osp.join(frame_dir, last)):
                # Frames are numbered 1..N without gaps; SampleFrames
                # relies on it.
                raise ValueError(f'{where}: {frame_dir} holds {total} frames '
                                 f'but not {last}: the frames must be '
                                 'numbered from 1 without gaps')
            names = [self.filename_tmpl.format(k) for k in range(1, total + 1)]
        if osp.isdir(frame_dir) and len(names) < self.min_frames:
            naming = ('' if self.listed_frames else
                      f' named {self.filename_tmpl}')
            raise ValueError(
                f'{where}: {frame_dir} holds {len(names)} frames{naming}, '
                f'fewer than min_frames={self.min_frames}; {hint}')
        files += [(where, osp.join(frame_dir, name)) for name in names]
        files.append((where, audio_path))
        info = dict(
            clip=row.clip,
            label=row.label,
            frame_dir=frame_dir,
            total_frames=len(names),
            start_index=1,
            filename_tmpl=filename_tmpl,
            modality='RGB',
            audio_path=audio_path,
            ann_line=where)
        return info, files
