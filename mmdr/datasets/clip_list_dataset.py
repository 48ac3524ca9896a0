"""Clip data sets listed as ``<name>,<n>,<label>`` rows, validated on a
carve of their training list: Kinetics-Sounds, VGGSound, BalancedAV."""
import os.path as osp
from typing import List, Optional, Tuple

from .audio_visual_clip_dataset import AudioVisualClipDataset, DerivedSplit
from .splits import default_val_size, youtube_video


class ClipListDataset(AudioVisualClipDataset):
    """Base of the clip data sets whose split lists hold ``<name>,<n>,<label>``
    rows and whose validation split is a seeded carve of the training list.

    The lists are those of OGM-GE's Kinetics-Sounds (``my_train.txt``) and
    those the preparation tools write from the annotations users download
    (``mmdr_train.txt``, ``mmdr_test.txt``, ``mmdr_carve_{train,val}.txt``;
    ``tools/data/<set>/``, built on :mod:`mmdr.preparation.clip_lists`).
    A row is the clip's name, a number that is read and not used (its
    1-fps frames, as the tools write it) and the label, an index into the
    classes. Without the carve's files the data set makes the same carve in
    memory (seed 0, 10 %), from the first of :attr:`CARVE_SOURCES` there,
    and logs it.

    Class names are :attr:`METAINFO`'s; a data set whose classes come with
    its annotations (:attr:`METAINFO` without ``classes``) reads them from
    :attr:`CLASSES_FILE` under ``data_root``, one a line, label = line
    index, as the preparation writes it.

    Args:
        split (str): A named split of :attr:`SPLITS`. Defaults to
            ``'reference'``.
        subset (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'train'``.
        data_root (str, optional): The prepared folder; None is
            :attr:`DATA_ROOT`. Defaults to None.
        metainfo (dict, optional): Overrides the class names. Defaults to
            None.
        kwargs: Further arguments of :class:`AudioVisualClipDataset`
            (``audio_suffix``, ``min_frames``, ``pipeline``, ...).
    """

    #: The data set's name in messages.
    DATA_SET_NAME = ''
    #: The prepared folder by default.
    DATA_ROOT = ''
    #: ``'reference'``: trained and validated on the carve of the training
    #: list, tested on the release's test clips.
    SPLITS = dict(
        reference=dict(
            train='mmdr_carve_train.txt',
            val='mmdr_carve_val.txt',
            test='mmdr_test.txt'))
    #: The training lists the validation carve is drawn from, by
    #: preference.
    CARVE_SOURCES: Tuple[str, ...] = ('mmdr_train.txt', )
    #: Seed of the carve made in memory: the preparation tools' default.
    SPLIT_SEED = 0
    #: Whether the carve draws whole YouTube videos
    #: (:func:`~mmdr.datasets.splits.youtube_video`), so that clips cut
    #: from one video are never on both sides.
    CARVE_BY_VIDEO = False
    #: The class names' file under ``data_root``, when :attr:`METAINFO`
    #: has none.
    CLASSES_FILE = 'stat.txt'

    def __init__(self,
                 split: str = 'reference',
                 subset: str = 'train',
                 data_root: Optional[str] = None,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        data_root = self.DATA_ROOT if data_root is None else data_root
        if ('classes' not in self.METAINFO
                and 'classes' not in (metainfo or {})
                and osp.isdir(data_root)):
            metainfo = dict(
                metainfo or {}, classes=self.read_classes(data_root))
        super().__init__(
            split=split,
            subset=subset,
            data_root=data_root,
            metainfo=metainfo,
            **kwargs)

    @classmethod
    def read_classes(cls, data_root: str) -> Tuple[str, ...]:
        """The class names of :attr:`CLASSES_FILE`, one a line.

        Args:
            data_root (str): The prepared folder.

        Returns:
            tuple[str]: The names; label ``i`` is the ``i``-th.
        """
        path = osp.join(data_root, cls.CLASSES_FILE)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{cls.__name__}: {path} (the class names, one a line) is '
                'missing; prepare the data set with: '
                f'{cls.prepare_hint(data_root)}')
        with open(path, encoding='utf-8-sig') as f:
            names = tuple(line.strip() for line in f if line.strip())
        if not names or len(set(names)) != len(names):
            raise ValueError(f'{cls.__name__}: {path} must name every class '
                             'once, one a line')
        return names

    @classmethod
    def tool_name(cls) -> str:
        """The preparation tool's file name, for messages."""
        return osp.basename(cls.PREPARE_COMMAND.split()[1])

    def parse_row(self, fields: List[str], where: str,
                  line_index: int) -> Optional[Tuple[str, int]]:
        """Read a ``<name>,<n>,<label>`` row.

        Args:
            fields (list[str]): The row's columns.
            where (str): File and line, for messages.
            line_index (int): The row's position, from 0.

        Returns:
            tuple[str, int]: Clip and label.
        """
        if len(fields) != 3:
            raise ValueError(f'{where}: {len(fields)} columns, a '
                             f'{self.DATA_SET_NAME} split row is '
                             '"<name>,<n>,<label>"')
        label = self.parse_label(fields[2], len(self.metainfo['classes']),
                                 where)
        return fields[0], label

    def derive_split(self, split: str, subset: str) -> Optional[DerivedSplit]:
        """Carve the validation split out of the training list in memory.

        Args:
            split (str): The named split.
            subset (str): The subset whose file is absent.

        Returns:
            DerivedSplit | None: The list; None for a test list.
        """
        if subset == 'test':
            return None
        carve = [self.split_file(split, s) for s in ('train', 'val')]
        self.all_or_none(carve, 'the carve\'s lists')
        source = next((n for n in self.CARVE_SOURCES if self.has_list(n)),
                      None)
        if source is None:
            raise FileNotFoundError(
                f'{type(self).__name__}: no training list in '
                f'{self.data_root} ({" or ".join(self.CARVE_SOURCES)}). '
                f'{self.missing_list_hint(self.data_root)}')
        items = self.read_rows(source)
        unit = ' of the YouTube videos' if self.CARVE_BY_VIDEO else ''
        drawn = len({self.carve_group(row.clip) for row in items})
        derived = self.carve([source], items, default_val_size(drawn),
                             self.SPLIT_SEED)
        return derived._replace(
            note=f'{" and ".join(carve)} are not in {self.data_root}: '
            f'{derived.note} (10 %{unit}), as {self.tool_name()} writes '
            'them')

    def carve_group(self, clip: str) -> str:
        """What the carve draws a clip with: its YouTube video where
        :attr:`CARVE_BY_VIDEO`, else the clip itself.

        Args:
            clip (str): The clip's name.

        Returns:
            str: Its group.
        """
        return youtube_video(clip) if self.CARVE_BY_VIDEO else clip
