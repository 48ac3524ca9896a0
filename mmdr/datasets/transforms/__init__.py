from .audio import (CachedAudioFeature, KaldiFbank, LoadAudioFeatureFile,
                    LoadWaveform, LogSpectrogram)
from .formatting import PackMultiModalInputs
from .frame_decode import FrameDecode
from .loading import ImageToFloat
from .modality_pipeline import ModalityPipeline, SelectClipFrames

__all__ = [
    'CachedAudioFeature', 'FrameDecode', 'ImageToFloat', 'KaldiFbank',
    'LoadAudioFeatureFile', 'LoadWaveform', 'LogSpectrogram',
    'ModalityPipeline', 'PackMultiModalInputs', 'SelectClipFrames'
]
from .fixed_noise import FixedNoise  # noqa: E402

__all__ += ['FixedNoise']
