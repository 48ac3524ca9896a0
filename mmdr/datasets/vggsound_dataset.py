from mmdr.registry import DATASETS
from .clip_list_dataset import ClipListDataset

VGGSOUND_PREPARE_COMMAND = (
    'python tools/data/vggsound/prepare_vggsound.py '
    '--videos <VGGSound clips> --annotations <vggsound.csv>')
#: Classes of VGGSound's ``vggsound.csv`` (the D&R authors' and
#: BalanceBenchmark's models have 309 outputs).
VGGSOUND_NUM_CLASSES = 309


@DATASETS.register_module()
class VGGSoundDataset(ClipListDataset):
    """VGGSound (Chen et al., ICASSP 2020): 10 s YouTube clips of 309
    sound classes.

    Reads the layout that ``tools/data/vggsound/prepare_vggsound.py``
    writes from the clips users download (``<youtube_id>_<start:06d>.mp4``)
    and ``vggsound.csv``; see :class:`ClipListDataset`::

        data/vggsound/
          visual/<name>/frame_00001.jpg ...   1 fps
          audio/<name>.wav                    16 kHz (or .pt filterbanks)
          stat.txt                            the classes, sorted
          mmdr_{train,test}.txt               the csv's train / test rows
          mmdr_carve_{train,val}.txt          our validation carve
          skipped.txt                         clips left out, with reasons

    Rows are ``<name>,<n>,<label>``, e.g. ``---g-f_I2yQ_000001,10,187``:
    the clip (``<youtube_id>_<start:06d>``), its 1-fps frames (read and
    not used) and the label, an index into ``stat.txt`` (the csv's labels
    sorted). Many of the listed videos are no longer on YouTube: the
    preparation names every clip it did not find in ``skipped.txt``,
    which the data set reads and counts in a warning.

    Named splits (``split``; ``subset`` is ``'train'``, ``'val'`` or
    ``'test'``): ``'reference'`` trains on our carve of ``mmdr_train.txt``
    (whole YouTube videos drawn, seeded, stratified, 10 %), validates on
    the rest of it and tests on the csv's test clips (``mmdr_test.txt``);
    without the carve's files the same carve is made in memory.

    Args:
        split (str): A named split. Defaults to ``'reference'``.
        subset (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'train'``.
        data_root (str): The prepared folder. Defaults to
            ``'data/vggsound'``.
        kwargs: Further arguments of :class:`ClipListDataset`
            (``audio_suffix``, ``min_frames``, ``pipeline``, ...).
    """

    DATA_SET_NAME = 'VGGSound'
    CARVE_BY_VIDEO = True
    DATA_ROOT = 'data/vggsound'
    PREPARE_COMMAND = VGGSOUND_PREPARE_COMMAND
    FEATURE_CONFIG = 'configs/_base_/datasets/vggsound_fbank.py'
