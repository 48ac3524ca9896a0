# mmaction2's transforms (PackActionInputs, ...) must be registered for
# pipelines built in the mmdr scope to find them.
import mmaction.datasets  # noqa: F401

from .avdigits_dataset import AVDigitsDataset
from .mfeat_dataset import MFEAT_VIEWS, MultipleFeaturesDataset
from .transforms import *  # noqa: F401,F403
from .ucf101_dataset import UCF101Dataset

__all__ = [
    'AVDigitsDataset', 'MFEAT_VIEWS', 'MultipleFeaturesDataset',
    'UCF101Dataset'
]
