from .backbone_encoder import (FrameEncoder, PooledBackboneEncoder,
                               SpectrogramEncoder, VideoEncoder)
from .base_encoder import BaseEncoder
from .hf_text_encoder import HFTextEncoder
from .lstm_encoder import LSTMEncoder
from .mlp_encoder import MLPEncoder
from .sequence_transformer_encoder import SequenceTransformerEncoder

__all__ = [
    'BaseEncoder', 'PooledBackboneEncoder', 'FrameEncoder', 'VideoEncoder',
    'SpectrogramEncoder', 'MLPEncoder', 'SequenceTransformerEncoder',
    'LSTMEncoder', 'HFTextEncoder'
]
