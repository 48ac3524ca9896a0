"""UCF-101 split files: parse the official ones, write mmaction2's, carve.

Pure functions (no file writing, no decoding) used by
``prepare_ucf101.py``; importable on their own.

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
*.txt`` split the official training list of split N by whole groups: for
every class, ``holdout_groups`` (default 2) of its training groups, drawn
with ``numpy.random.default_rng([seed, N, class index])``, are held out for
validation; the rest is ``trainpart``. Clips of one group share actor and
scene, so a (class, group) never straddles the two. Real UCF-101 has 18
training groups per class in every split, so the default holds out 2 of 18
groups (11.1 % of the groups, about 11 % of the clips) of every class.
"""
import os.path as osp
import re
from typing import Dict, Iterable, List, NamedTuple, Sequence, Tuple

import numpy as np

SPLITS = (1, 2, 3)
DEFAULT_HOLDOUT_GROUPS = 2
CLIP_NAME = re.compile(r'^v_(?P<name>.+)_g(?P<group>\d+)_c(?P<clip>\d+)$')


class Clip(NamedTuple):
    """One clip of a split file.

    Attributes:
        path (str): ``<Class>/<file>.avi`` as the split file writes it.
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
    """Return the group of ``<Class>/v_<Name>_gXX_cYY.avi``."""
    stem = osp.splitext(path.split('/')[-1])[0]
    match = CLIP_NAME.match(stem)
    if match is None:
        raise ValueError(f'{path!r} is not named v_<Class>_gXX_cYY')
    return int(match.group('group'))


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


def carve_holdout(train: Sequence[Clip],
                  class_names: Sequence[str],
                  split: int,
                  holdout_groups: int = DEFAULT_HOLDOUT_GROUPS,
                  seed: int = 0) -> Tuple[List[Clip], List[Clip], Dict]:
    """Hold whole groups of every class out of a training list.

    For class ``k`` the groups are drawn with ``numpy.random.
    default_rng([seed, split, k]).choice(groups, holdout_groups,
    replace=False)`` from its training groups in ascending order, so a
    class's draw depends on nothing but the seed, the split and the
    class's own groups.

    Args:
        train (Sequence[Clip]): The official training list of the split.
        class_names (Sequence[str]): Classes, in label order.
        split (int): The split number (part of the seed).
        holdout_groups (int): Groups held out per class (at least 1).
        seed (int): Carve seed.

    Returns:
        tuple: ``trainpart`` and ``holdout`` (lists of clips in the order of
        ``train``) and ``{class: [held-out groups]}``.

    Raises:
        ValueError: A class with fewer than ``holdout_groups + 1`` training
            groups.
    """
    if holdout_groups < 1:
        raise ValueError('holdout_groups must be at least 1')
    groups: Dict[str, set] = {name: set() for name in class_names}
    for clip in train:
        groups[clip.class_name].add(clip.group)
    held: Dict[str, List[int]] = {}
    for k, name in enumerate(class_names):
        candidates = sorted(groups[name])
        if len(candidates) <= holdout_groups:
            raise ValueError(
                f'split {split}: class {name} has {len(candidates)} training '
                f'group(s); holding out {holdout_groups} would leave none to '
                'train on (lower --holdout-groups)')
        rng = np.random.default_rng([seed, split, k])
        picked = rng.choice(len(candidates), holdout_groups, replace=False)
        held[name] = sorted(candidates[i] for i in picked)
    is_held = {(name, g) for name, gs in held.items() for g in gs}
    holdout = [c for c in train if (c.class_name, c.group) in is_held]
    trainpart = [c for c in train if (c.class_name, c.group) not in is_held]
    return trainpart, holdout, held


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
            for fmt in ('rawframes', 'videos')
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
