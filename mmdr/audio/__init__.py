"""Audio reading and front-ends as pure functions (no registry): the
transforms of :mod:`mmdr.datasets.transforms` and the preparation tools
share them."""
from functools import partial

from mmdr.utils.atomic_write import open_atomic as _open_atomic
from .frontends import FBANK_NORM_MEAN, FBANK_NORM_STD, kaldi_fbank, log_stft
from .io import AudioFileError, read_audio, resample, tile_or_cut, write_wav

# Transitional, for callers not yet on mmdr.utils.atomic_write: the binary
# open_atomic this package had. Remove when none imports it from here.
open_atomic = partial(_open_atomic, mode='wb')

__all__ = [
    'AudioFileError', 'FBANK_NORM_MEAN', 'FBANK_NORM_STD', 'kaldi_fbank',
    'log_stft', 'read_audio', 'resample', 'tile_or_cut', 'write_wav'
]
