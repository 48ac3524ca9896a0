from typing import List, Optional, Tuple

from mmdr.registry import DATASETS
from .audio_visual_clip_dataset import AudioVisualClipDataset, DerivedSplit
from .splits import DEFAULT_SPEAKER_SPLIT, carve_val_size, speaker_split

CREMAD_PREPARE_COMMAND = 'python tools/data/cremad/prepare_cremad.py'
#: CREMA-D's emotion codes, in the order of the reference's ``stat.csv``;
#: label ``i`` is ``CREMAD_CLASSES[i]``.
CREMAD_CLASSES = ('NEU', 'HAP', 'SAD', 'FEA', 'DIS', 'ANG')
#: The header row of the reference's ``train.csv`` and ``test.csv``.
CSV_HEADER = ['name', 'label']
#: The authors' split lists (D&R's; OGM-GE has ``train.csv``, ``test.csv``).
AUTHORS_LISTS = ('train.csv', 'test.csv', 'my_train.csv', 'val.csv')
#: Seed of the splits made in memory: the preparation tool's default.
SPLIT_SEED = 0


@DATASETS.register_module()
class CREMADDataset(AudioVisualClipDataset):
    """CREMA-D: 7,442 clips of 91 actors speaking with 6 emotions.

    Reads the layouts CREMA-D's users have, found from the files (see
    :class:`AudioVisualClipDataset`)::

        data/cremad/                          prepare_cremad.py, the authors'
          visual/<clip>/frame_00001.jpg ...   1 fps, from 1
          audio/<clip>.wav                    22,050 Hz (16 kHz is resampled)
          audio/<clip>.pt                     the reference fbank (.pt)
          train.csv test.csv my_train.csv val.csv stat.csv    the authors'
          mmdr_speaker_{train,val,test}.csv                   speaker-disjoint
          mmdr_carve_{train,val}.csv                          our carve

        data/cremad/                          OGM-GE's (the public release)
          Image-01-FPS/<clip>/00000.jpg 00030.jpg ...   by frame index
          AudioWAV/<clip>.wav                 16 kHz
          train.csv test.csv                  without a header, CR LF

    Split lists hold ``<clip>,<label>`` rows, e.g. ``1001_DFA_ANG_XX,ANG``;
    a first row ``name,label`` is a header (the authors' ``train.csv`` and
    ``test.csv`` have one, ``my_train.csv``, ``val.csv`` and OGM-GE's lists
    do not). Clip names are ``<ActorID>_<Sentence>_<Emotion>_<Level>``.

    Bad input fails at start-up, naming file and line: a row without
    exactly two columns, a label outside :data:`CREMAD_CLASSES`, a label
    other than the emotion in the clip's name, a clip listed twice, a
    missing frame folder, a missing, empty or truncated frame or audio
    file.

    Named splits (``split``; ``subset`` is ``'train'``, ``'val'`` or
    ``'test'``). A training or validation list that is not on disk is made
    in memory from the lists that are, with the seed and sizes of
    ``tools/data/cremad/prepare_cremad.py`` (which writes the same clips as
    files), and logged; the test list is never used to validate.

    * ``'reference'``: the reference code's lists: ``my_train.csv``
      (5,954), ``val.csv`` (744), ``test.csv`` (744). All 91 actors are on
      both sides. Without ``my_train.csv`` and ``val.csv`` (OGM-GE's lists,
      or the authors' public ``train.csv`` and ``test.csv`` only), training
      and validation are the ``'carve'`` split's.
    * ``'carve'``: our seeded, stratified carve of the authors'
      ``train.csv`` into ``mmdr_carve_train.csv`` and ``mmdr_carve_val.csv``
      (as many clips as ``val.csv``, else 10 %); ``test.csv``.
    * ``'speaker'``: speaker-disjoint lists generated from the actor ids
      (``mmdr_speaker_{train,val,test}.csv``; in memory from the clips of
      the authors' lists).

    Args:
        split (str): A named split. Defaults to ``'reference'``.
        subset (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'train'``.
        data_root (str): The data set's folder. Defaults to
            ``'data/cremad'``.
        kwargs: Further arguments of :class:`AudioVisualClipDataset`
            (``audio_suffix``, ``min_frames``, ``pipeline``, ...).
    """

    METAINFO = dict(classes=CREMAD_CLASSES)
    PREPARE_COMMAND = CREMAD_PREPARE_COMMAND
    PREPARE_ROOT_OPTION = '--root'
    FEATURE_CONFIG = 'configs/_base_/datasets/cremad_fbank.py'
    SPLITS = dict(
        reference=dict(train='my_train.csv', val='val.csv', test='test.csv'),
        carve=dict(
            train='mmdr_carve_train.csv',
            val='mmdr_carve_val.csv',
            test='test.csv'),
        speaker=dict(
            train='mmdr_speaker_train.csv',
            val='mmdr_speaker_val.csv',
            test='mmdr_speaker_test.csv'))

    def __init__(self,
                 split: str = 'reference',
                 subset: str = 'train',
                 data_root: str = 'data/cremad',
                 **kwargs) -> None:
        super().__init__(
            split=split, subset=subset, data_root=data_root, **kwargs)

    def parse_row(self, fields: List[str], where: str,
                  line_index: int) -> Optional[Tuple[str, int]]:
        """Read a ``<clip>,<label>`` row.

        Args:
            fields (list[str]): The row's columns.
            where (str): File and line, for messages.
            line_index (int): The row's position, from 0.

        Returns:
            tuple[str, int] | None: Clip and label, or None for the header.
        """
        if line_index == 0 and [f.lower() for f in fields] == CSV_HEADER:
            return None
        if len(fields) != 2:
            raise ValueError(f'{where}: {len(fields)} columns, a CREMA-D '
                             'split row is "<clip>,<label>"')
        clip, name = fields
        classes = self.metainfo['classes']
        if name not in classes:
            raise ValueError(f'{where}: unknown label {name!r}; the classes '
                             f'are {", ".join(classes)}')
        parts = clip.split('_')
        if len(parts) != 4 or parts[2] != name:
            raise ValueError(
                f'{where}: clip {clip!r} does not match label {name!r}; '
                'CREMA-D clips are named <ActorID>_<Sentence>_<Emotion>_'
                '<Level> and labelled with their emotion')
        return clip, classes.index(name)

    def missing_list_hint(self, path: str) -> str:
        """The authors' lists are copied, ours are made from them.

        Args:
            path (str): The missing list.

        Returns:
            str: One sentence.
        """
        return (
            'The authors\' lists (train.csv and test.csv of the D&R or '
            'OGM-GE repository; my_train.csv and val.csv of D&R\'s) go '
            'into the data set\'s folder; mmdr makes the validation '
            'split from them (split=\'reference\' without my_train.csv '
            'and val.csv, \'carve\', \'speaker\'). From the public '
            f'release, prepare them with: {self.prepare_hint(self.data_root)}')

    def carve_label(self, label: int) -> str:
        """The emotion code, as the tool's carve of ``train.csv`` draws it.

        Args:
            label (int): The class index.

        Returns:
            str: E.g. ``'ANG'``.
        """
        return CREMAD_CLASSES[label]

    def derive_split(self, split: str, subset: str) -> Optional[DerivedSplit]:
        """Make a training or validation list from the authors' lists.

        Args:
            split (str): The named split.
            subset (str): The subset whose file is absent.

        Returns:
            DerivedSplit | None: The list; None for a test list of
            ``'reference'`` or ``'carve'`` (``test.csv``, the authors').
        """
        if split == 'speaker':
            self.all_or_none(
                [self.split_file(split, s) for s in ('train', 'val', 'test')],
                'the speaker split\'s lists')
            return self._speaker_split(subset)
        if subset == 'test':
            return None
        carve = [self.split_file('carve', s) for s in ('train', 'val')]
        absent = f'{" and ".join(carve)} are not in {self.data_root}'
        if split == 'reference':
            self.all_or_none(['my_train.csv', 'val.csv'],
                             'the reference split\'s lists')
            absent = (f'my_train.csv and val.csv are not in {self.data_root}'
                      ', so the \'reference\' split trains and validates on '
                      'the carve')
            if self.all_or_none(carve, 'the carve\'s lists'):
                name = self.split_file('carve', subset)
                rows = self.read_rows(name)
                return DerivedSplit(
                    name, rows, f'{absent} that prepare_cremad.py wrote, '
                    f'{name}: {len(rows)} clips')
        self.all_or_none(carve, 'the carve\'s lists')
        if self.has_list('train.csv'):
            sources = ['train.csv']
        elif self.all_or_none(['my_train.csv', 'val.csv'],
                              'the reference split\'s lists'):
            sources = ['my_train.csv', 'val.csv']
        else:
            raise FileNotFoundError(
                f'{type(self).__name__}: no training list in '
                f'{self.data_root} (train.csv, or my_train.csv and val.csv).'
                f' {self.missing_list_hint(self.data_root)}')
        items = [row for name in sources for row in self.read_rows(name)]
        val_size = carve_val_size(
            len(items),
            len(self.read_rows('val.csv'))
            if self.has_list('val.csv') else None)
        derived = self.carve(sources, items, val_size, SPLIT_SEED)
        return derived._replace(
            note=f'{absent}: {derived.note}, as prepare_cremad.py writes '
            'mmdr_carve_{train,val}.csv')

    def _speaker_split(self, subset: str) -> DerivedSplit:
        """The speaker-disjoint split of the clips of the authors' lists,
        as prepare_cremad.py writes it to ``mmdr_speaker_*.csv``."""
        present = [name for name in AUTHORS_LISTS if self.has_list(name)]
        if not present:
            raise FileNotFoundError(
                f'{type(self).__name__}: no list of clips in '
                f'{self.data_root} to split by speaker. '
                f'{self.missing_list_hint(self.data_root)}')
        by_clip = {}
        for name in present:
            for row in self.read_rows(name):
                by_clip.setdefault(row.clip, row)
        parts, actors = speaker_split(
            sorted(by_clip), DEFAULT_SPEAKER_SPLIT, SPLIT_SEED)
        rows = [by_clip[clip] for clip in sorted(parts[subset])]
        sizes = ' / '.join(f'{role} {len(parts[role])} ({len(actors[role])} '
                           'actors)' for role in parts)
        return DerivedSplit(
            present[0], rows,
            f'mmdr_speaker_*.csv are not in {self.data_root}: the speaker-'
            f'disjoint split of the {len(by_clip)} clips of '
            f'{" + ".join(present)} (seed {SPLIT_SEED}): {sizes}, as '
            'prepare_cremad.py writes it')
