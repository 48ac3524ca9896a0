from typing import List, Optional, Tuple

from mmdr.registry import DATASETS
from .audio_visual_clip_dataset import AudioVisualClipDataset

CREMAD_PREPARE_COMMAND = 'python tools/data/cremad/prepare_cremad.py'
#: CREMA-D's emotion codes, in the order of the reference's ``stat.csv``;
#: label ``i`` is ``CREMAD_CLASSES[i]``.
CREMAD_CLASSES = ('NEU', 'HAP', 'SAD', 'FEA', 'DIS', 'ANG')
#: The header row of the reference's ``train.csv`` and ``test.csv``.
CSV_HEADER = ['name', 'label']


@DATASETS.register_module()
class CREMADDataset(AudioVisualClipDataset):
    """CREMA-D: 7,442 clips of 91 actors speaking with 6 emotions.

    Reads the layout of the reference code, as
    ``tools/data/cremad/prepare_cremad.py`` writes it from the public
    release (and as the authors' processed data is laid out)::

        data/cremad/
          visual/<clip>/frame_00001.jpg ...   1 fps, from 1
          audio/<clip>.wav                    22,050 Hz (audio_suffix='.wav')
          audio/<clip>.pt                     the reference fbank (.pt)
          train.csv test.csv my_train.csv val.csv stat.csv    the authors'
          mmdr_speaker_{train,val,test}.csv                   speaker-disjoint
          mmdr_carve_{train,val}.csv                          our carve

    Split lists hold ``<clip>,<label>`` rows, e.g. ``1001_DFA_ANG_XX,ANG``;
    a first row ``name,label`` is a header (the authors' ``train.csv`` and
    ``test.csv`` have one, ``my_train.csv`` and ``val.csv`` do not). Clip
    names are ``<ActorID>_<Sentence>_<Emotion>_<Level>``.

    Bad input fails at start-up, naming file and line: a row without
    exactly two columns, a label outside :data:`CREMAD_CLASSES`, a label
    other than the emotion in the clip's name, a clip listed twice, a
    missing frame folder or audio file.

    Named splits (``split``; ``subset`` is ``'train'``, ``'val'`` or
    ``'test'``):

    * ``'reference'``: the reference code's lists: ``my_train.csv``
      (5,954), ``val.csv`` (744), ``test.csv`` (744). All 91 actors are on
      both sides.
    * ``'carve'``: our seeded, stratified carve of the authors'
      ``train.csv`` into ``mmdr_carve_train.csv`` and ``mmdr_carve_val.csv``
      (as many clips as ``val.csv``); ``test.csv``.
    * ``'speaker'``: speaker-disjoint lists generated from the actor ids
      (``mmdr_speaker_{train,val,test}.csv``).

    Args:
        split (str): A named split. Defaults to ``'reference'``.
        subset (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'train'``.
        data_root (str): The prepared folder. Defaults to ``'data/cremad'``.
        kwargs: Further arguments of :class:`AudioVisualClipDataset`
            (``audio_suffix``, ``min_frames``, ``pipeline``, ...).
    """

    METAINFO = dict(classes=CREMAD_CLASSES)
    PREPARE_COMMAND = CREMAD_PREPARE_COMMAND
    PREPARE_ROOT_OPTION = '--root'
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
