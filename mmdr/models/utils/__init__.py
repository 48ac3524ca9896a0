from .pareto import (ParetoWeights, min_norm_2, mmpareto_weights,
                     pareto_direction, rescale_to_total)
from .pretrained import (PretrainedReport, adapt_input_channels,
                         is_input_channel_mismatch, map_torchvision_resnet,
                         match_pretrained_state_dict)
from .remote_checkpoint import (CheckpointUnreachableError,
                                explain_unreachable, hub_cache_file, is_remote,
                                resolve_url)

__all__ = [
    'PretrainedReport', 'adapt_input_channels', 'is_input_channel_mismatch',
    'map_torchvision_resnet', 'match_pretrained_state_dict', 'ParetoWeights',
    'min_norm_2', 'mmpareto_weights', 'pareto_direction', 'rescale_to_total',
    'CheckpointUnreachableError', 'explain_unreachable', 'hub_cache_file',
    'is_remote', 'resolve_url'
]
