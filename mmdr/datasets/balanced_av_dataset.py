from mmdr.registry import DATASETS
from .clip_list_dataset import ClipListDataset

BALANCED_AV_PREPARE_COMMAND = (
    'python tools/data/balanced_av/prepare_balanced_av.py '
    '--videos <BalancedAV clips> --annotations <annotation json>')
#: Classes of BalancedAV (BalanceBenchmark's configuration).
BALANCED_AV_NUM_CLASSES = 30


@DATASETS.register_module()
class BalancedAVDataset(ClipListDataset):
    """BalancedAV (Xia et al., "Balanced Audiovisual Dataset for Imbalance
    Analysis", 2023): audio-visual clips whose modality discrepancy is
    spread evenly, from audio-dominant to visual-dominant samples.

    Reads the layout that ``tools/data/balanced_av/prepare_balanced_av.py``
    writes from the release's annotation file (``{"labels": [...],
    "database": {<clip>: {"subset": "training" | "validation" |
    "testing", "label": <name>}}}``, as BalanceBenchmark reads it) and the
    clips as ``<clip>.mp4``; see :class:`ClipListDataset`::

        data/balanced_av/
          visual/<clip>/frame_00001.jpg ...   1 fps
          audio/<clip>.wav                    16 kHz (or .pt filterbanks)
          stat.txt                            the classes, in the json's order
          mmdr_{train,test}.txt               the "training" / "testing" clips
          mmdr_carve_{train,val}.txt          our validation carve
          skipped.txt                         clips left out, with reasons

    Rows are ``<clip>,<n>,<label>``; the label indexes ``stat.txt`` (the
    json's ``labels``, whose order BalanceBenchmark's labels follow).

    Named splits: ``'reference'`` trains on our carve of ``mmdr_train.txt``
    (seeded, stratified, 10 %; clips named ``<youtube_id>_<start:06d>
    [_<end:06d>]`` are drawn by whole YouTube video), validates on the rest
    of it and tests on the "testing" clips, as BalanceBenchmark does
    (which validates on nothing and leaves the "validation" clips out).

    Args:
        split (str): A named split. Defaults to ``'reference'``.
        subset (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'train'``.
        data_root (str): The prepared folder. Defaults to
            ``'data/balanced_av'``.
        kwargs: Further arguments of :class:`ClipListDataset`
            (``audio_suffix``, ``min_frames``, ``pipeline``, ...).
    """

    DATA_SET_NAME = 'BalancedAV'
    CARVE_BY_VIDEO = True
    DATA_ROOT = 'data/balanced_av'
    PREPARE_COMMAND = BALANCED_AV_PREPARE_COMMAND
    FEATURE_CONFIG = 'configs/_base_/datasets/balanced_av_fbank.py'
