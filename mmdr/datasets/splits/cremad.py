"""CREMA-D's clip names and its speaker-disjoint split.

* CREMA-D clip names are ``<ActorID>_<Sentence>_<Emotion>_<Level>``, e.g.
  ``1001_DFA_ANG_XX``: the actor (1001..1091) is the speaker, the emotion
  code the label (:func:`parse_clip`).
* :func:`speaker_split`: the actors are shuffled with a seed and cut into
  consecutive groups of the given sizes (73/9/9 of the 91 actors by
  default), so no speaker is in two parts.
"""
import random
import re
from typing import Dict, List, Optional, Sequence, Tuple

from .carve import allocate, default_val_size

#: ``<ActorID>_<Sentence>_<Emotion>_<Level>``, as every CREMA-D file name.
CLIP_RE = re.compile(r'^(\d+)_([A-Za-z]+)_([A-Za-z]+)_([A-Za-z]+)$')
#: The speaker split's parts, in order.
SPEAKER_ROLES = ('train', 'val', 'test')
#: 73/9/9 of CREMA-D's 91 actors.
DEFAULT_SPEAKER_SPLIT = (73, 9, 9)


def parse_clip(name: str) -> Tuple[str, str]:
    """Actor and emotion code of a CREMA-D clip name.

    Args:
        name (str): E.g. ``1001_DFA_ANG_XX``.

    Returns:
        tuple[str, str]: ``('1001', 'ANG')``.

    Raises:
        ValueError: The name is not ``<Actor>_<Sentence>_<Emotion>_<Level>``.
    """
    match = CLIP_RE.match(name)
    if match is None:
        raise ValueError(f'{name!r} is not a CREMA-D clip name '
                         '(<ActorID>_<Sentence>_<Emotion>_<Level>)')
    return match.group(1), match.group(3)


def speaker_split(
    clips: Sequence[str],
    parts: Sequence[int] = DEFAULT_SPEAKER_SPLIT,
    seed: int = 0,
    roles: Sequence[str] = SPEAKER_ROLES
) -> Tuple[Dict[str, List[str]], Dict[str, List[str]]]:
    """Split clips by speaker: no actor is in two parts.

    The sorted actors are shuffled with ``random.Random(seed)`` and cut
    into consecutive groups. ``parts`` are actor counts when they sum to
    the number of actors (73 + 9 + 9 = 91 on CREMA-D), else proportions
    (:func:`allocate`, every part one actor at least).

    Args:
        clips (Sequence[str]): CREMA-D clip names.
        parts (Sequence[int]): Actors per part (or proportions).
        seed (int): Seed of the shuffle.
        roles (Sequence[str]): Names of the parts.

    Returns:
        tuple[dict, dict]: Clips of every part (in the order given) and
        the part's actors (sorted).

    Raises:
        ValueError: A malformed clip name, or fewer actors than parts.
    """
    if len(parts) != len(roles):
        raise ValueError(f'{len(parts)} part sizes for {len(roles)} parts')
    actor_of = {clip: parse_clip(clip)[0] for clip in clips}
    actors = sorted(set(actor_of.values()), key=lambda a: (len(a), a))
    counts = allocate(len(actors), parts, at_least_one=True)
    random.Random(seed).shuffle(actors)
    groups, start = {}, 0
    for role, count in zip(roles, counts):
        groups[role] = sorted(
            actors[start:start + count], key=lambda a: (len(a), a))
        start += count
    role_of = {a: role for role, group in groups.items() for a in group}
    split = {role: [] for role in roles}
    for clip in clips:
        split[role_of[actor_of[clip]]].append(clip)
    return split, groups


def carve_val_size(num_train: int, num_val: Optional[int] = None) -> int:
    """Size of the validation part carved out of the authors' ``train.csv``.

    As many clips as their ``val.csv`` where it is there (744 on CREMA-D),
    else 10 % of ``train.csv``.

    Args:
        num_train (int): Rows of ``train.csv``.
        num_val (int, optional): Rows of ``val.csv``; None when it is not
            there.

    Returns:
        int: The validation part's size.
    """
    return default_val_size(num_train) if num_val is None else num_val
