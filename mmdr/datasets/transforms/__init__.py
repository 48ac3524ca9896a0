from .audio import LoadWaveform, LogSpectrogram
from .formatting import PackMultiModalInputs
from .loading import ImageToFloat
from .modality_pipeline import ModalityPipeline, SelectClipFrames

__all__ = [
    'ImageToFloat', 'LoadWaveform', 'LogSpectrogram', 'ModalityPipeline',
    'PackMultiModalInputs', 'SelectClipFrames'
]
