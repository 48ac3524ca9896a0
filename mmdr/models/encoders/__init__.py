from .backbone_encoder import (FrameEncoder, PooledBackboneEncoder,
                               SpectrogramEncoder, VideoEncoder)
from .base_encoder import BaseEncoder
from .mlp_encoder import MLPEncoder

__all__ = [
    'BaseEncoder', 'PooledBackboneEncoder', 'FrameEncoder', 'VideoEncoder',
    'SpectrogramEncoder', 'MLPEncoder'
]
