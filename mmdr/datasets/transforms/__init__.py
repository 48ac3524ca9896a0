from .audio import (CachedAudioFeature, KaldiFbank, LoadAudioFeatureFile,
                    LoadWaveform, LogSpectrogram)
from .formatting import PackMultiModalInputs
from .frame_decode import FrameDecode
from .loading import ImageToFloat
from .modality_pipeline import ModalityPipeline, SelectClipFrames
from .text import BagOfWords, HFTokenize

__all__ = [
    'BagOfWords', 'CachedAudioFeature', 'FrameDecode', 'HFTokenize',
    'ImageToFloat', 'KaldiFbank', 'LoadAudioFeatureFile', 'LoadWaveform',
    'LogSpectrogram', 'ModalityPipeline', 'PackMultiModalInputs',
    'SelectClipFrames'
]
from .fixed_noise import FixedNoise  # noqa: E402

__all__ += ['FixedNoise']
