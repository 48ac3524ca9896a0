"""Pure split logic of mmdr's data sets: lists in, lists out, no file read.

The data sets make their validation splits in memory with these functions
when the lists are not on disk, and the preparation tools (``tools/data/
<set>/``) write the same splits as files, so both give the same clips.
``carve``: the stratified carve (CREMA-D, Kinetics-Sounds) and its
group-disjoint form (VGGSound, BalancedAV: whole YouTube videos,
``youtube``); ``cremad``:
CREMA-D's clip names and speaker split; ``ucf101``: the official split
files, mmaction2's lists and the group-disjoint carve (imported as
``mmdr.datasets.splits.ucf101``).
"""
from .carve import (allocate, default_val_size, stratified_carve,
                    stratified_group_carve)
from .cremad import (CLIP_RE, DEFAULT_SPEAKER_SPLIT, SPEAKER_ROLES,
                     carve_val_size, parse_clip, speaker_split)
from .youtube import youtube_video

__all__ = [
    'CLIP_RE', 'DEFAULT_SPEAKER_SPLIT', 'SPEAKER_ROLES', 'allocate',
    'carve_val_size', 'default_val_size', 'parse_clip', 'speaker_split',
    'stratified_carve', 'stratified_group_carve', 'youtube_video'
]
