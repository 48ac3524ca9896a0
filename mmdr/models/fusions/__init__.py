from .base_fusion import BaseFusion
from .concat_fusion import ConcatFusion
from .film_fusion import FiLMFusion
from .gated_fusion import GatedFusion
from .sum_fusion import SumFusion

__all__ = [
    'BaseFusion', 'ConcatFusion', 'SumFusion', 'FiLMFusion', 'GatedFusion'
]
