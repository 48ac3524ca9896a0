"""Names of clips cut from YouTube videos: the video a clip comes from.

Kinetics names a clip ``<youtube_id>_<start:06d>_<end:06d>``, VGGSound
``<youtube_id>_<start:06d>`` (the seconds where the 10 s clip starts). A
YouTube id may hold ``_`` and ``-``, so the fields are read from the end.
"""
import re

#: ``<youtube_id>_<start:06d>_<end:06d>`` (Kinetics).
KINETICS_NAME_RE = re.compile(r'^(.+)_(\d{6})_(\d{6})$')
#: ``<youtube_id>_<start:06d>`` (VGGSound).
VGGSOUND_NAME_RE = re.compile(r'^(.+)_(\d{6})$')


def youtube_video(name: str) -> str:
    """The YouTube id a clip is cut from, read from its name.

    Args:
        name (str): A clip's name, e.g. ``---g-f_I2yQ_000001`` or
            ``--4-0ihtnBU_000058_000068``.

    Returns:
        str: The id (``---g-f_I2yQ``); the whole name when it is neither a
        Kinetics nor a VGGSound clip name (the clip is its own group).
    """
    for pattern in (KINETICS_NAME_RE, VGGSOUND_NAME_RE):
        match = pattern.match(name)
        if match is not None:
            return match.group(1)
    return name
