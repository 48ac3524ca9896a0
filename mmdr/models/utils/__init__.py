from .pretrained import (PretrainedReport, adapt_input_channels,
                         is_input_channel_mismatch, map_torchvision_resnet,
                         match_pretrained_state_dict)

__all__ = [
    'PretrainedReport', 'adapt_input_channels', 'is_input_channel_mismatch',
    'map_torchvision_resnet', 'match_pretrained_state_dict'
]
