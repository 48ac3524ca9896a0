"""Audio reading and front-ends as pure functions (no registry): the
transforms of :mod:`mmdr.datasets.transforms` and the preparation tools
share them."""
from .frontends import FBANK_NORM_MEAN, FBANK_NORM_STD, kaldi_fbank, log_stft
from .io import AudioFileError, read_audio, resample, tile_or_cut, write_wav

__all__ = [
    'AudioFileError', 'FBANK_NORM_MEAN', 'FBANK_NORM_STD', 'kaldi_fbank',
    'log_stft', 'read_audio', 'resample', 'tile_or_cut', 'write_wav'
]
