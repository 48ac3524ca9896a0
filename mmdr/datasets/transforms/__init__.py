from .audio import LoadWaveform, LogSpectrogram
from .formatting import PackMultiModalInputs
from .loading import ImageToFloat

__all__ = [
    'ImageToFloat', 'LoadWaveform', 'LogSpectrogram', 'PackMultiModalInputs'
]
