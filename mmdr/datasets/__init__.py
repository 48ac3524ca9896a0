# mmaction2's transforms (PackActionInputs, ...) must be registered for
# pipelines built in the mmdr scope to find them.
import mmaction.datasets  # noqa: F401

from .audio_visual_clip_dataset import AudioVisualClipDataset
from .avdigits_dataset import AVDigitsDataset
from .balanced_av_dataset import BalancedAVDataset
from .base_multimodal_dataset import BaseMultiModalDataset, SampleLoadError
from .clip_list_dataset import ClipListDataset
from .cmu_mosi_dataset import CMUMOSEIDataset, CMUMOSIDataset
from .cremad_dataset import CREMAD_CLASSES, CREMADDataset
from .food101_dataset import Food101Dataset
from .kinetics_sounds_dataset import (KINETICS_SOUNDS_CLASSES,
                                      KineticsSoundsDataset)
from .mfeat_dataset import MFEAT_VIEWS, MultipleFeaturesDataset
from .transforms import *  # noqa: F401,F403
from .ucf101_dataset import UCF101Dataset
from .vggsound_dataset import VGGSoundDataset

__all__ = [
    'AudioVisualClipDataset', 'AVDigitsDataset', 'BalancedAVDataset',
    'BaseMultiModalDataset', 'ClipListDataset', 'CMUMOSEIDataset',
    'CMUMOSIDataset', 'CREMAD_CLASSES', 'CREMADDataset', 'Food101Dataset',
    'KINETICS_SOUNDS_CLASSES', 'KineticsSoundsDataset', 'MFEAT_VIEWS',
    'MultipleFeaturesDataset', 'SampleLoadError', 'UCF101Dataset',
    'VGGSoundDataset'
]
