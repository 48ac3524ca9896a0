"""Speaker-disjoint splits and stratified carves of clip lists.

Pure list logic (no file is read or written), used by
``prepare_cremad.py`` and, for its stratified carve, by
``tools/data/kinetics_sounds/prepare_kinetics_sounds.py``.

* CREMA-D clip names are ``<ActorID>_<Sentence>_<Emotion>_<Level>``, e.g.
  ``1001_DFA_ANG_XX``: the actor (1001..1091) is the speaker, the emotion
  code the label (:func:`parse_clip`).
* :func:`speaker_split`: the actors are shuffled with a seed and cut into
  consecutive groups of the given sizes (73/9/9 of the 91 actors by
  default), so no speaker is in two parts.
* :func:`stratified_carve`: every label gives a share of the validation
  part proportional to its size (largest remainders), its clips drawn with
  a seed.

Shuffles use :class:`random.Random`, whose ``shuffle`` has given the same
order for a seed on every Python 3 release since 3.2.
"""
import random
import re
from typing import Dict, List, Sequence, Tuple

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


def allocate(total: int,
             weights: Sequence[float],
             at_least_one: bool = False) -> List[int]:
    """Split ``total`` into integers proportional to ``weights``.

    Largest remainders (Hamilton's method); ties go to the earlier weight.
    Weights that sum to ``total`` come back as they are.

    Args:
        total (int): What is shared out.
        weights (Sequence[float]): Non-negative shares, not all zero.
        at_least_one (bool): Give every positive weight one at least (taken
            from the largest counts).

    Returns:
        list[int]: Counts summing to ``total``.

    Raises:
        ValueError: Negative or all-zero weights, or fewer than one each
            where ``at_least_one`` asks for it.
    """
    if total < 0 or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f'cannot share {total} by {list(weights)}')
    scale = sum(weights)
    exact = [total * w / scale for w in weights]
    counts = [int(e) for e in exact]
    order = sorted(
        range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[:total - sum(counts)]:
        counts[i] += 1
    if at_least_one:
        positive = [i for i, w in enumerate(weights) if w > 0]
        if total < len(positive):
            raise ValueError(
                f'cannot give each of {len(positive)} parts one of {total}')
        for i in positive:
            if counts[i] == 0:
                donor = max(range(len(counts)), key=lambda j: counts[j])
                counts[donor] -= 1
                counts[i] = 1
    return counts


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


def stratified_carve(
    items: Sequence[Tuple[str, str]],
    val_size: int,
    seed: int = 0,
) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    """Carve a validation part out of a labelled list, stratified by label.

    Each label's share of ``val_size`` is proportional to its number of
    items (:func:`allocate`); within a label, the items are sorted by name
    and shuffled with one ``random.Random(seed)`` (labels in sorted order),
    and the first ones are taken.

    Args:
        items (Sequence[tuple[str, str]]): ``(name, label)`` pairs, names
            unique; labels of any hashable, sortable kind.
        val_size (int): Items in the validation part, 0..len(items).
        seed (int): Seed of the draw.

    Returns:
        tuple[list, list]: The training part and the validation part, each
        in the order of ``items``.

    Raises:
        ValueError: ``val_size`` out of range or a name given twice.
    """
    if not 0 <= val_size <= len(items):
        raise ValueError(f'cannot carve {val_size} of {len(items)} items')
    names = [name for name, _ in items]
    if len(set(names)) != len(names):
        raise ValueError('a name is listed twice')
    by_label: Dict = {}
    for name, label in items:
        by_label.setdefault(label, []).append(name)
    labels = sorted(by_label)
    if not labels:
        return [], []
    quota = allocate(val_size, [len(by_label[lab]) for lab in labels])
    rng = random.Random(seed)
    chosen = set()
    for label, count in zip(labels, quota):
        pool = sorted(by_label[label])
        rng.shuffle(pool)
        chosen.update(pool[:count])
    train = [item for item in items if item[0] not in chosen]
    val = [item for item in items if item[0] in chosen]
    return train, val
