"""UCF-101 split lists: parse, name the classes, carve by whole groups.

Pure functions (lines in, clips and names out; nothing is read or written),
shared by :class:`mmdr.datasets.UCF101Dataset`, which carves its validation
part in memory when the lists are not on disk, and
``tools/data/ucf101/prepare_ucf101.py``, which writes the same lists as
files: both give the same clips for the same seed and held-out groups.

The official ``ucfTrainTestlist/`` (``UCF101TrainTestSplits-
RecognitionTask.zip``) holds ``classInd.txt`` (``1 ApplyEyeMakeup``, 1-based),
``trainlist0N.txt`` (``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1``,
1-based label) and ``testlist0N.txt`` (``ApplyEyeMakeup/v_ApplyEyeMakeup_
g01_c01.avi``, no label), N = 1, 2, 3, with CR LF line ends. The class of a
clip is its folder (``HandstandPushups/v_HandStandPushups_g01_c01.avi``: the
file names of that class are spelt otherwise).

mmaction2's ``tools/data/build_file_list.py`` turns them into
``ucf101_{train,val}_split_N_{rawframes,videos}.txt``; mmaction2 calls the
official *test* list ``val``. Lines: ``<Class>/<clip> <total_frames>
<label>`` for rawframes (total_frames: the number of RGB frames) and
``<Class>/<clip>.avi <label>`` for videos, labels 0-based (classInd index
minus 1). :func:`build_lists` writes the same, in the official lists' order
(mmaction2 shuffles them with ``--shuffle``), plus the validation carve:

``mmdr_ucf101_trainpart_split_N_*.txt`` and ``mmdr_ucf101_holdout_split_N_
*.txt`` split the training list of split N by whole groups
(:func:`carve_holdout`): for every class, ``holdout_groups`` (default 2) of
its training groups, drawn with ``numpy.random.default_rng([seed, N, class
index])``, are held out for validation; the rest is ``trainpart``. Clips of
one group share actor and scene, so a (class, group) never straddles the
two. Real UCF-101 has 18 training groups per class in every split, so the
default holds out 2 of 18 groups (about 11 % of the clips) of every class.
A carve whose validation part would not be smaller than its training part
is refused.

Without ``classInd.txt`` the class names come from the lists themselves
(:func:`class_names_from_lists`): every clip's class folder (or the
``v_<Class>_`` of its name) and its label.
"""
import os.path as osp
import re
from typing import (Dict, Iterable, List, NamedTuple, Optional, Sequence,
                    Tuple)

import numpy as np

SPLITS = (1, 2, 3)
FORMATS = ('rawframes', 'videos')
DEFAULT_HOLDOUT_GROUPS = 2
DEFAULT_CARVE_SEED = 0
CLIP_NAME = re.compile(r'^v_(?P<name>.+)_g(?P<group>\d+)_c(?P<clip>\d+)$')
#: A clip, its label and where it was read: ``(where, path, label)``.
LabelledClip = Tuple[str, str, int]


class Clip(NamedTuple):
    """One clip of a split file.

    Attributes:
        path (str): ``<Class>/<file>.avi`` as the split file writes it (or
            ``<Class>/<clip>`` as a rawframes list does).
        label (int): 0-based label (classInd index minus 1).
        group (int): The group number ``gXX``.
    """
    path: str
    label: int
    group: int

    @property
    def class_name(self) -> str:
        """The class folder."""
        return self.path.split('/')[0]

    @property
    def frame_dir(self) -> str:
        """``<Class>/<clip>``: the rawframe folder under ``rawframes/``."""
        return osp.splitext(self.path)[0]


def parse_class_index(lines: Iterable[str]) -> List[str]:
    """Parse ``classInd.txt``.

    Args:
        lines (Iterable[str]): Its lines (``1 ApplyEyeMakeup``).

    Returns:
        list[str]: Class names; the name at position ``i`` has label ``i``.

    Raises:
        ValueError: Malformed lines, indices not 1..C, repeated names.
    """
    entries = []
    for num, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(f'classInd.txt line {num}: expected "<index> '
                             f'<class>", got {line.strip()!r}')
        entries.append((int(parts[0]), parts[1]))
    indices = [i for i, _ in entries]
    if indices != list(range(1, len(entries) + 1)):
        raise ValueError('classInd.txt must number its classes 1, 2, ... in '
                         'order')
    names = [n for _, n in entries]
    if len(set(names)) != len(names):
        raise ValueError('classInd.txt names a class twice')
    return names


def parse_clip_group(path: str) -> int:
    """Return the group of ``[<Class>/]v_<Name>_gXX_cYY[.avi]``."""
    stem = osp.splitext(path.split('/')[-1])[0]
    match = CLIP_NAME.match(stem)
    if match is None:
        raise ValueError(f'{path!r} is not named v_<Class>_gXX_cYY')
    return int(match.group('group'))


def clip_class(path: str) -> Optional[Tuple[str, str]]:
    """The class a clip's path names, and what names it.

    Args:
        path (str): ``<Class>/<clip>[.avi]`` (the class folder names the
            class) or ``v_<Class>_gXX_cYY[.avi]`` without a folder (its
            name does).

    Returns:
        tuple[str, str] | None: ``(class, 'class folder')`` or ``(class,
        'clip name')``; None when the path names no class.
    """
    parts = path.replace('\\', '/').split('/')
    if len(parts) > 1:
        return parts[-2], 'class folder'
    match = CLIP_NAME.match(osp.splitext(parts[0])[0])
    if match is None:
        return None
    return match.group('name'), 'clip name'


def label_contradiction(path: str, label: int, class_names: Sequence[str],
                        names_from: str) -> Optional[str]:
    """Why a clip's label contradicts the class its path names, if it does.

    Names are compared without case: the real archive's
    ``v_HandStandPushups_*`` clips belong to ``HandstandPushups``.

    Args:
        path (str): The clip as listed.
        label (int): Its label, 0-based, within ``class_names``.
        class_names (Sequence[str]): Classes in label order.
        names_from (str): Where the names come from, for the message.

    Returns:
        str | None: The contradiction and its fix, or None.
    """
    found = clip_class(path)
    if found is None:
        return None
    name, source = found
    lower = [c.lower() for c in class_names]
    if name.lower() == lower[label]:
        return None
    said = (f'label {label} is {class_names[label]!r} ({names_from}), but '
            f'the clip\'s {source} says {name!r}')
    if name.lower() not in lower:
        return (f'{said}, which is no class there; fix the {source} or the '
                'class list')
    right = lower.index(name.lower())
    return (f'{said} (label {right}); fix the label to {right} if the '
            f'{source} is right, or move the clip to '
            f'{class_names[label]}/ if the label is')


def class_names_from_lists(clips: Iterable[LabelledClip]) -> List[str]:
    """Class names in label order, read from labelled lists.

    Every clip names its class by its folder (or the ``v_<Class>_`` of its
    name, :func:`clip_class`); a label goes with the name most of its
    clips give, a name with the label most of its clips have. A clip that
    disagrees is a contradiction (a wrong label, or a clip in the wrong
    folder). Names are compared without case; the folder's spelling wins.

    Args:
        clips (Iterable[tuple[str, str, int]]): ``(where, path, label)`` of
            every clip of the lists, labels from 0.

    Returns:
        list[str]: The names; ``max(label) + 1`` of them.

    Raises:
        ValueError: A contradiction (naming both sides with a line each and
            the fix), no clip that names a class, or a label below the
            largest that no clip names.
    """
    # (label, lower name) -> [count, first where, name as spelt, source]
    pairs: Dict[Tuple[int, str], list] = {}
    for where, path, label in clips:
        found = clip_class(path)
        if found is None:
            continue
        name, source = found
        entry = pairs.setdefault((label, name.lower()),
                                 [0, where, name, source])
        entry[0] += 1
        if source == 'class folder' and entry[3] != source:
            entry[2:] = [name, source]
    if not pairs:
        raise ValueError('no clip names its class (<Class>/<clip> or '
                         'v_<Class>_gXX_cYY)')

    def majority(key_index: int) -> Dict:
        best: Dict = {}
        for key, entry in pairs.items():
            known = best.get(key[key_index])
            if known is None or entry[0] > pairs[known][0]:
                best[key[key_index]] = key
        return best

    by_label, by_name = majority(0), majority(1)
    for key in sorted(pairs, key=lambda k: pairs[k][0]):
        label, name = key
        if by_label[label] == key and by_name[name] == key:
            continue
        count, where, spelt, source = pairs[key]
        owner = pairs[by_label[label]]
        own_label = by_name[name][0]
        told = (f'{where}: label {label} with the {source} {spelt!r}, but '
                f'label {label} is {owner[2]!r} in {owner[0]} line(s) (e.g. '
                f'{owner[1]})')
        if own_label != label:
            other = pairs[by_name[name]]
            raise ValueError(f'{told} and {spelt!r} has label {own_label} in '
                             f'{other[0]} line(s) (e.g. {other[1]}); fix the '
                             f'label to {own_label}, or move the clip to '
                             f'{owner[2]}/ if the label is right')
        raise ValueError(f'{told}; one of them is wrong: fix that line, or '
                         'give the official classInd.txt (class_file=...) to '
                         'settle it')
    names = {label: pairs[key][2] for label, key in by_label.items()}
    num_classes = max(names) + 1
    unnamed = [k for k in range(num_classes) if k not in names]
    if unnamed:
        raise ValueError(
            f'labels run to {num_classes - 1}, but no clip names label(s) '
            f'{unnamed[:10]}: every label 0..{num_classes - 1} needs a '
            'class; give classInd.txt (class_file=...)')
    return [names[k] for k in range(num_classes)]


def parse_split_file(lines: Iterable[str],
                     class_names: Sequence[str],
                     source: str = 'split file') -> List[Clip]:
    """Parse an official ``trainlist0N.txt`` or ``testlist0N.txt``.

    A label on a line (train lists) must agree with the clip's folder in
    ``classInd.txt``; test lines have none, their label comes from the
    folder.

    Args:
        lines (Iterable[str]): The file's lines (CR LF or LF).
        class_names (Sequence[str]): From :func:`parse_class_index`.
        source (str): The file's name, for error messages.

    Returns:
        list[Clip]: The clips in file order.
    """
    label_of = {name: i for i, name in enumerate(class_names)}
    clips, seen = [], set()
    for num, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        path = parts[0].replace('\\', '/')
        if len(parts) > 2 or path.count('/') != 1:
            raise ValueError(f'{source} line {num}: expected "<Class>/'
                             f'<clip>.avi [label]", got {line.strip()!r}')
        cls = path.split('/')[0]
        if cls not in label_of:
            raise ValueError(f'{source} line {num}: class {cls!r} is not in '
                             'classInd.txt')
        label = label_of[cls]
        if len(parts) == 2 and int(parts[1]) != label + 1:
            raise ValueError(
                f'{source} line {num}: label {parts[1]} but classInd.txt '
                f'numbers {cls} {label + 1}')
        if path in seen:
            raise ValueError(f'{source} line {num}: {path} listed twice')
        seen.add(path)
        clips.append(Clip(path, label, parse_clip_group(path)))
    return clips


def check_disjoint(train: Sequence[Clip], test: Sequence[Clip],
                   split: int) -> None:
    """Raise ``ValueError`` if a clip or a (class, group) is in both lists."""
    test_groups = {(c.class_name, c.group) for c in test}
    shared = sorted({(c.class_name, c.group) for c in train} & test_groups)
    if shared:
        cls, group = shared[0]
        raise ValueError(f'split {split}: group g{group:02d} of {cls} is in '
                         f'both the training and the test list '
                         f'({len(shared)} such groups)')


def groups_per_class(clips: Iterable[Clip]) -> str:
    """How many groups the classes of a list have, for messages.

    Args:
        clips (Iterable[Clip]): The list.

    Returns:
        str: ``'18'``, or the range ``'17..18'`` when classes differ.
    """
    groups: Dict[int, set] = {}
    for clip in clips:
        groups.setdefault(clip.label, set()).add(clip.group)
    counts = sorted(len(g) for g in groups.values())
    if not counts:
        return '0'
    return (f'{counts[0]}'
            if counts[0] == counts[-1] else f'{counts[0]}..{counts[-1]}')


def carve_holdout(
    train: Sequence[Clip],
    class_names: Sequence[str],
    split: int,
    holdout_groups: int = DEFAULT_HOLDOUT_GROUPS,
    seed: int = DEFAULT_CARVE_SEED,
    option: str = 'holdout_groups'
) -> Tuple[List[Clip], List[Clip], Dict[str, List[int]]]:
    """Hold whole groups of every class out of a training list.

    For class ``k`` (label ``k``) the groups are drawn with ``numpy.random.
    default_rng([seed, split, k]).choice(groups, holdout_groups,
    replace=False)`` from its training groups in ascending order, so a
    class's draw depends on nothing but the seed, the split and the
    class's own groups.

    Args:
        train (Sequence[Clip]): The training list of the split.
        class_names (Sequence[str]): Classes, in label order.
        split (int): The split number (part of the seed).
        holdout_groups (int): Groups held out per class (at least 1).
        seed (int): Carve seed.
        option (str): The setting that chooses ``holdout_groups``, for the
            messages (the tool's ``--holdout-groups``). Defaults to
            ``'holdout_groups'``.

    Returns:
        tuple: ``trainpart`` and ``holdout`` (lists of clips in the order of
        ``train``) and ``{class: [held-out groups]}``.

    Raises:
        ValueError: A class with fewer than ``holdout_groups + 1`` training
            groups, or a validation part as large as the training part or
            larger (the counts and ``option`` in the message).
    """
    if holdout_groups < 1:
        raise ValueError(f'{option} must be at least 1, got {holdout_groups}')
    groups: Dict[int, set] = {k: set() for k in range(len(class_names))}
    for clip in train:
        groups[clip.label].add(clip.group)
    held: Dict[int, List[int]] = {}
    for k, name in enumerate(class_names):
        candidates = sorted(groups[k])
        if not candidates:
            continue
        if len(candidates) <= holdout_groups:
            raise ValueError(
                f'split {split}: class {name} has {len(candidates)} training '
                f'group(s); holding out {holdout_groups} would leave none to '
                f'train on (lower {option})')
        rng = np.random.default_rng([seed, split, k])
        picked = rng.choice(len(candidates), holdout_groups, replace=False)
        held[k] = sorted(candidates[i] for i in picked)
    is_held = {(k, g) for k, gs in held.items() for g in gs}
    holdout = [c for c in train if (c.label, c.group) in is_held]
    trainpart = [c for c in train if (c.label, c.group) not in is_held]
    if len(holdout) >= len(trainpart):
        raise ValueError(
            f'split {split}: holding out {holdout_groups} of the '
            f'{groups_per_class(train)} training groups of every class puts '
            f'{len(holdout)} clips into validation and leaves {len(trainpart)}'
            ' for training: the validation part must be the smaller one; '
            f'lower {option}')
    return trainpart, holdout, {class_names[k]: gs for k, gs in held.items()}


def list_names(split: int) -> Dict[str, Dict[str, str]]:
    """File names of the lists of one split.

    Args:
        split (int): 1, 2 or 3.

    Returns:
        dict: ``{role: {format: file name}}`` for the roles ``train`` and
        ``val`` (mmaction2's names; ``val`` is the official test list),
        ``trainpart`` and ``holdout`` (the carve), formats ``rawframes`` and
        ``videos``.
    """
    names = {}
    for role in ('train', 'val', 'trainpart', 'holdout'):
        prefix = 'ucf101' if role in ('train', 'val') else 'mmdr_ucf101'
        names[role] = {
            fmt: f'{prefix}_{role}_split_{split}_{fmt}.txt'
            for fmt in FORMATS
        }
    return names


def rawframes_line(clip: Clip, total_frames: int) -> str:
    """``<Class>/<clip> <total_frames> <label>`` (mmaction2's format)."""
    return f'{clip.frame_dir} {total_frames} {clip.label}\n'


def videos_line(clip: Clip) -> str:
    """``<Class>/<clip>.avi <label>`` (mmaction2's format)."""
    return f'{clip.path} {clip.label}\n'


def build_lists(roles: Dict[str, Sequence[Clip]], split: int,
                frames: Dict[str, int],
                videos: Iterable[str]) -> Dict[str, List[str]]:
    """Write the lines of every list of one split.

    Like mmaction2's ``build_file_list``, a clip enters a list only if it
    was prepared: rawframe lists hold the clips found in ``frames``, video
    lists those in ``videos``.

    Args:
        roles (dict[str, Sequence[Clip]]): Clips of ``train``, ``val``
            (official test list), ``trainpart`` and ``holdout``.
        split (int): The split number.
        frames (dict[str, int]): RGB frame count of every prepared
            ``<Class>/<clip>`` frame folder.
        videos (Iterable[str]): Usable ``<Class>/<clip>.avi`` files.

    Returns:
        dict[str, list[str]]: File name to its lines, in the order of
        :func:`list_names`.
    """
    videos = set(videos)
    out = {}
    for role, names in list_names(split).items():
        clips = roles[role]
        out[names['rawframes']] = [
            rawframes_line(c, frames[c.frame_dir]) for c in clips
            if c.frame_dir in frames
        ]
        out[names['videos']] = [
            videos_line(c) for c in clips if c.path in videos
        ]
    return out
