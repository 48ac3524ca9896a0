"""Stratified carves of labelled lists: a validation part drawn per label.

* :func:`allocate` shares a total out in proportion to weights (largest
  remainders).
* :func:`stratified_carve`: every label gives a share of the validation
  part proportional to its size, its items drawn with a seed.
* :func:`stratified_group_carve`: the same over whole groups (the clips of
  one source video), so that no group straddles the two parts.

Shuffles use :class:`random.Random`, whose ``shuffle`` has given the same
order for a seed on every Python 3 release since 3.2.
"""
import random
from typing import Callable, Dict, List, Sequence, Tuple


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


def stratified_carve(
    items: Sequence[Tuple[str, str]],
    val_size: int,
    seed: int = 0,
) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    """Carve a validation part out of a labelled list, stratified by label.

    Each label's share of ``val_size`` is proportional to its number of
    items (:func:`allocate`); within a label, the items are sorted by name
    and shuffled with one ``random.Random(seed)`` (labels in sorted order),
    and the first ones are taken. The parts depend on the set of items
    only, not on their order.

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


def default_val_size(num_items: int, share: float = 0.1) -> int:
    """The validation part's size when none is given: 10 % of the list.

    Args:
        num_items (int): Items of the list carved.
        share (float): The share. Defaults to 0.1.

    Returns:
        int: ``round(share * num_items)``.
    """
    return int(round(share * num_items))


def stratified_group_carve(
    items: Sequence[Tuple[str, str]],
    val_size: int,
    group_of: Callable[[str], str],
    seed: int = 0,
) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    """Carve a validation part of whole groups, stratified by label.

    Clips cut from one source video share a group (e.g. their YouTube id):
    all of a group's clips fall on the same side, so nothing of a video
    seen in training is validated on. The groups are carved as
    :func:`stratified_carve` carves items, each labelled with the label of
    its first clip in name order; where every group holds one clip the
    parts are those of :func:`stratified_carve` on the groups' names.

    Args:
        items (Sequence[tuple[str, str]]): ``(name, label)`` pairs, names
            unique.
        val_size (int): Groups in the validation part, 0..number of groups.
        group_of (Callable[[str], str]): A clip's group from its name.
        seed (int): Seed of the draw.

    Returns:
        tuple[list, list]: The training part and the validation part, each
        in the order of ``items``.

    Raises:
        ValueError: ``val_size`` out of range or a name given twice.
    """
    if len({name for name, _ in items}) != len(items):
        raise ValueError('a name is listed twice')
    groups: Dict[str, Tuple[str, str]] = {}
    for name, label in sorted(items):
        groups.setdefault(group_of(name), (name, label))
    _, val = stratified_carve([(group, first[1])
                               for group, first in sorted(groups.items())],
                              val_size, seed)
    chosen = {group for group, _ in val}
    return ([item for item in items if group_of(item[0]) not in chosen],
            [item for item in items if group_of(item[0]) in chosen])
