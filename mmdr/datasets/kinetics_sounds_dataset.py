from mmdr.registry import DATASETS
from .clip_list_dataset import ClipListDataset

KINETICS_SOUNDS_PREPARE_COMMAND = (
    'python tools/data/kinetics_sounds/prepare_kinetics_sounds.py '
    '--videos <Kinetics-400 clips> --annotations <Kinetics-400 csv>')
#: The 31 Kinetics-400 classes of Kinetics-Sounds as OGM-GE, D&R and AdaMML
#: use it (the names as AdaMML's authors give them in IBM/AdaMML issue 3;
#: "Look, Listen and Learn" defined 34, other versions have 33). Sorted;
#: label ``i`` is ``KINETICS_SOUNDS_CLASSES[i]`` (OGM-GE's lists hold the
#: integer only).
KINETICS_SOUNDS_CLASSES = (
    'blowing nose', 'blowing out candles', 'bowling', 'chopping wood',
    'dribbling basketball', 'laughing', 'mowing lawn', 'playing accordion',
    'playing bagpipes', 'playing bass guitar', 'playing clarinet',
    'playing drums', 'playing guitar', 'playing harmonica', 'playing keyboard',
    'playing organ', 'playing piano', 'playing saxophone', 'playing trombone',
    'playing trumpet', 'playing violin', 'playing xylophone', 'ripping paper',
    'shoveling snow', 'shuffling cards', 'singing', 'stomping grapes',
    'tap dancing', 'tapping guitar', 'tapping pen', 'tickling')


@DATASETS.register_module()
class KineticsSoundsDataset(ClipListDataset):
    """Kinetics-Sounds: the 31 sounding classes of Kinetics-400.

    Reads the layout that OGM-GE's Kinetics-Sounds code reads, as
    ``tools/data/kinetics_sounds/prepare_kinetics_sounds.py`` writes it
    from the user's Kinetics-400 clips (the folders and names are found
    from the files, see :class:`AudioVisualClipDataset`)::

        data/kinetics_sounds/
          visual/<name>/frame_00001.jpg ...   1 fps (other names: in order)
          audio/<name>.wav                    16 kHz (or .pt / .npy)
            or audio_spec/<name>.npy          OGM-GE's features
          my_train.txt my_test.txt            the lists of this line of work
          mmdr_{train,test}.txt               from the Kinetics annotations
          mmdr_carve_{train,val}.txt          our validation carve

    Split lists hold ``<name>,<n>,<label>`` rows, e.g.
    ``--4-0ihtnBU_000058_000068,10,4``: the clip (``<youtube_id>_<start>_
    <end>``), a number that is read and not used (10, the clip's seconds,
    in the files seen) and the label, an index into
    :data:`KINETICS_SOUNDS_CLASSES`.

    Bad input fails at start-up, naming file and line: a row without
    exactly three columns, a label that is not an integer in 0..30, a clip
    listed twice, a missing frame folder, a missing, empty or truncated
    frame or audio file. The lists of this line of work name videos that
    are no longer online: their clips that have neither frames nor audio
    are left out with a warning that counts and names them (the
    preparation names them in ``skipped.txt``).

    Named splits (``split``; ``subset`` is ``'train'``, ``'val'`` or
    ``'test'``); validation is always our seeded, stratified carve of the
    training list (``mmdr_carve_{train,val}.txt``, made from ``my_train.txt``
    when it is there, else from ``mmdr_train.txt``; the preparation's JSON
    summary records which). Without those files the same carve is made in
    memory (seed 0, 10 %), and logged:

    * ``'reference'``: tested on ``my_test.txt`` (2,597 clips), the list of
      this line of work (its training list has 14,799).
    * ``'kinetics'``: tested on ``mmdr_test.txt``, the Kinetics-400
      validation clips of the 31 classes that the user has.

    Args:
        split (str): A named split. Defaults to ``'reference'``.
        subset (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'train'``.
        data_root (str): The prepared folder. Defaults to
            ``'data/kinetics_sounds'``.
        kwargs: Further arguments of :class:`ClipListDataset`
            (``audio_suffix``, ``min_frames``, ``pipeline``, ...).
    """

    METAINFO = dict(classes=KINETICS_SOUNDS_CLASSES)
    DATA_SET_NAME = 'Kinetics-Sounds'
    #: The list of this line of work, else the preparation's.
    CARVE_SOURCES = ('my_train.txt', 'mmdr_train.txt')
    DATA_ROOT = 'data/kinetics_sounds'
    PREPARE_COMMAND = KINETICS_SOUNDS_PREPARE_COMMAND
    FEATURE_CONFIG = 'configs/_base_/datasets/kinetics_sounds_fbank.py'
    LISTS_OF_ABSENT_CLIPS = ('my_train.txt', 'my_test.txt')
    SPLITS = dict(
        reference=dict(
            train='mmdr_carve_train.txt',
            val='mmdr_carve_val.txt',
            test='my_test.txt'),
        kinetics=dict(
            train='mmdr_carve_train.txt',
            val='mmdr_carve_val.txt',
            test='mmdr_test.txt'))

    def missing_list_hint(self, path: str) -> str:
        """The lists of this line of work are copied, ours are prepared.

        Args:
            path (str): The missing list.

        Returns:
            str: One sentence.
        """
        return ('Put the lists of this line of work (my_train.txt, '
                'my_test.txt) there, or prepare the data set with: '
                f'{self.prepare_hint(self.data_root)}')
