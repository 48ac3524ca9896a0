"""Write tiny UCF-101 archives in the layout of the real one.

The real UCF-101 comes as ``UCF101.rar`` (``UCF-101/<Class>/*.avi``, renamed
``videos/`` by mmaction2's ``download_videos.sh``) and
``UCF101TrainTestSplits-RecognitionTask.zip`` (``ucfTrainTestlist/``). Its
101 classes each hold 25 groups ``gXX`` (clips of one group share actor and
scene) of 4 to 7 clips ``cYY``; split ``N`` (1, 2, 3) tests groups 1-7,
8-14 and 15-21, and trains on the other 18 groups of every class.
:func:`write_ucf101_archive` writes the same layout at toy scale:

* ``videos/<Class>/v_<Name>_gXX_cYY.avi``: real XVID AVI files (OpenCV's
  ``VideoWriter``, 25 fps) that decord reads. ``<Name>`` is the class name,
  except where the real archive spells it otherwise (``HandstandPushups``
  holds ``v_HandStandPushups_*.avi``, see :data:`VIDEO_NAMES`).
* ``ucfTrainTestlist/classInd.txt`` (``1 ApplyEyeMakeup``),
  ``trainlist0N.txt`` (``<Class>/<file>.avi <1-based label>``) and
  ``testlist0N.txt`` (``<Class>/<file>.avi``), CR LF line ends as in the
  official files, clips in class, group, clip order.

Each frame shows a moving shape on a static textured background. The shape
(disc, square, triangle, ...), its colour and its direction of motion depend
on the class, so classes are learnable from RGB and from optical flow; the
background texture depends on the class and the group (one scene per
group), the start point and speed on the clip. Everything is drawn from
``numpy.random.default_rng([seed, class, group, clip])``: the same arguments
give the same frames (the AVI bytes depend on the OpenCV build).

Splits follow the official principle with fewer groups: split ``N`` tests a
contiguous block of ``block = max(1, round(groups_per_class * 7 / 25))``
groups, ``(N - 1) * block + 1 .. N * block`` (official: 25 groups, blocks of
7), and trains on the others.
"""
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from .av_clips import truncate_file

#: Classes of the default archive: real UCF-101 names, one of them with the
#: real archive's spelling quirk in its file names.
DEFAULT_CLASSES = ('ApplyEyeMakeup', 'Archery', 'HandstandPushups')
#: Class names that the real archive spells otherwise in its file names.
VIDEO_NAMES = {'HandstandPushups': 'HandStandPushups'}
FPS = 25
SPLITS = (1, 2, 3)


def split_block(groups_per_class: int) -> int:
    """Number of groups each split tests (7 of 25 in UCF-101)."""
    return max(1, int(round(groups_per_class * 7 / 25)))


def split_test_groups(groups_per_class: int, split: int) -> List[int]:
    """The 1-based groups that official-style split ``split`` tests.

    Args:
        groups_per_class (int): Groups of every class.
        split (int): 1, 2 or 3.

    Returns:
        list[int]: Contiguous block of test groups.
    """
    block = split_block(groups_per_class)
    return list(range((split - 1) * block + 1, split * block + 1))


def video_relpath(cls: str, group: int, clip: int) -> str:
    """``<Class>/v_<Name>_gXX_cYY.avi`` as the real archive names it."""
    name = VIDEO_NAMES.get(cls, cls)
    return f'{cls}/v_{name}_g{group:02d}_c{clip:02d}.avi'


def _shape_points(kind: int, center: np.ndarray, radius: float) -> np.ndarray:
    """Corners of a regular polygon with ``kind + 2`` corners (kind >= 1)."""
    corners = kind + 2
    angles = np.arange(corners) * 2 * np.pi / corners - np.pi / 2
    pts = center + radius * np.stack([np.cos(angles), np.sin(angles)], 1)
    return np.round(pts).astype(np.int32)


def make_frames(cls_idx: int, num_classes: int, group: int, clip: int,
                num_frames: int, size: Tuple[int,
                                             int], seed: int) -> np.ndarray:
    """Draw the BGR frames of one clip.

    Args:
        cls_idx (int): 0-based class index.
        num_classes (int): Number of classes (spreads the directions).
        group (int): 1-based group.
        clip (int): 1-based clip within the group.
        num_frames (int): Frames to draw.
        size (tuple[int, int]): ``(width, height)``.
        seed (int): Archive seed.

    Returns:
        np.ndarray: uint8 array ``(num_frames, height, width, 3)``.
    """
    width, height = size
    scene = np.random.default_rng([seed, cls_idx, group])
    rng = np.random.default_rng([seed, cls_idx, group, clip])
    # One static scene per group: smooth texture, so optical flow is
    # defined on the background too (and zero there).
    noise = scene.uniform(0, 255, (height // 4 + 2, width // 4 + 2, 3))
    background = cv2.resize(
        noise.astype(np.float32), (width, height),
        interpolation=cv2.INTER_CUBIC)
    background = np.clip(background * 0.5 + 40, 0, 255)
    angle = 2 * np.pi * cls_idx / max(num_classes, 1) + rng.uniform(-.3, .3)
    direction = np.array([np.cos(angle), np.sin(angle)])
    speed = rng.uniform(0.8, 1.6) * min(width, height) / max(num_frames, 1)
    radius = max(3.0, min(width, height) / 6)
    path_len = speed * (num_frames - 1)
    start = np.array([width, height]) / 2 - direction * path_len / 2
    start += rng.uniform(-radius / 2, radius / 2, 2)
    hue = int(180 * cls_idx / max(num_classes, 1))
    color = cv2.cvtColor(np.uint8([[[hue, 200, 255]]]), cv2.COLOR_HSV2BGR)
    color = tuple(int(c) for c in color[0, 0])
    kind = cls_idx % 4
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        frame = background.copy()
        center = start + direction * speed * t
        if kind == 0:
            cv2.circle(frame, tuple(int(round(c)) for c in center),
                       int(radius), color, -1, cv2.LINE_AA)
        else:
            cv2.fillPoly(frame, [_shape_points(kind, center, radius * 1.2)],
                         color, cv2.LINE_AA)
        frames[t] = np.clip(frame, 0, 255).astype(np.uint8)
    return frames


def write_video(path: str, frames: np.ndarray, fps: int = FPS) -> None:
    """Write BGR frames as an XVID AVI file with OpenCV.

    Args:
        path (str): The ``.avi`` file.
        frames (np.ndarray): uint8 ``(T, H, W, 3)`` BGR frames.
        fps (int): Frame rate.
    """
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'XVID'), fps,
                             (width, height))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write XVID AVI files ({path})')
    for frame in frames:
        writer.write(frame)
    writer.release()


def write_ucf101_archive(root: str,
                         classes: Sequence[str] = DEFAULT_CLASSES,
                         groups_per_class: int = 6,
                         clips_per_group: int = 2,
                         num_frames: int = 12,
                         size: Tuple[int, int] = (64, 48),
                         seed: int = 0) -> Dict:
    """Write a tiny UCF-101 archive layout under ``root``.

    Args:
        root (str): Folder that receives ``videos/`` and
            ``ucfTrainTestlist/`` (created if needed).
        classes (Sequence[str]): Class names, in ``classInd.txt`` order.
        groups_per_class (int): Groups ``g01..`` per class; at least 3 so
            that each of the three splits tests its own block.
        clips_per_group (int): Clips ``c01..`` per group.
        num_frames (int): Frames per clip.
        size (tuple[int, int]): Frame ``(width, height)``, even numbers.
        seed (int): Seed of the drawings.

    Returns:
        dict: ``classes`` (list of names), ``videos`` (relative paths under
        ``videos/``, in list order), ``test_groups`` (split to its test
        groups), ``num_frames`` and ``size``.
    """
    if size[0] % 2 or size[1] % 2:
        raise ValueError(f'XVID needs an even width and height, got {size}')
    videos = archive_videos(classes, groups_per_class, clips_per_group)
    for rel in videos:
        cls = rel.split('/')[0]
        os.makedirs(osp.join(root, 'videos', cls), exist_ok=True)
        group, clip = _group(rel), int(rel.rsplit('_c', 1)[1][:2])
        frames = make_frames(
            classes.index(cls), len(classes), group, clip, num_frames, size,
            seed)
        write_video(osp.join(root, 'videos', rel), frames)
    splits = write_official_lists(root, classes, groups_per_class,
                                  clips_per_group)
    return dict(
        classes=list(classes),
        videos=videos,
        test_groups=splits,
        num_frames=num_frames,
        size=tuple(size))


def archive_videos(classes: Sequence[str], groups_per_class: int,
                   clips_per_group: int) -> List[str]:
    """``<Class>/v_<Name>_gXX_cYY.avi`` of an archive, in list order."""
    if groups_per_class < 3 * split_block(groups_per_class):
        raise ValueError('groups_per_class must be at least 3')
    return [
        video_relpath(cls, group, clip) for cls in classes
        for group in range(1, groups_per_class + 1)
        for clip in range(1, clips_per_group + 1)
    ]


def write_official_lists(root: str, classes: Sequence[str],
                         groups_per_class: int,
                         clips_per_group: int) -> Dict[int, List[int]]:
    """Write ``ucfTrainTestlist/`` as the official zip holds it.

    Args:
        root (str): Receives ``ucfTrainTestlist/``.
        classes (Sequence[str]): Class names, in ``classInd.txt`` order.
        groups_per_class (int): Groups per class.
        clips_per_group (int): Clips per group.

    Returns:
        dict[int, list[int]]: The test groups of every split.
    """
    videos = archive_videos(classes, groups_per_class, clips_per_group)
    lists = osp.join(root, 'ucfTrainTestlist')
    os.makedirs(lists, exist_ok=True)
    _write_crlf(
        osp.join(lists, 'classInd.txt'),
        [f'{i} {cls}' for i, cls in enumerate(classes, 1)])
    label = {cls: i for i, cls in enumerate(classes, 1)}
    splits = {}
    for split in SPLITS:
        tested = set(split_test_groups(groups_per_class, split))
        train = [v for v in videos if _group(v) not in tested]
        test = [v for v in videos if _group(v) in tested]
        _write_crlf(
            osp.join(lists, f'trainlist{split:02d}.txt'),
            [f'{v} {label[v.split("/")[0]]}' for v in train])
        _write_crlf(osp.join(lists, f'testlist{split:02d}.txt'), test)
        splits[split] = sorted(tested)
    return splits


def _flow_image(cls_idx: int, index: int, axis: str,
                size: Tuple[int, int]) -> np.ndarray:
    """A quantised flow frame: a class-dependent ramp around 128."""
    width, height = size
    ramp = np.linspace(-1, 1, width if axis == 'x' else height)
    ramp = ramp[None, :] if axis == 'x' else ramp[:, None]
    value = 128 + (cls_idx + 1) * 12 * ramp + index
    return np.broadcast_to(np.clip(value, 0, 255),
                           (height, width)).astype(np.uint8)


def write_mmaction2_tree(root: str,
                         classes: Sequence[str] = DEFAULT_CLASSES,
                         groups_per_class: int = 7,
                         clips_per_group: int = 1,
                         num_frames: int = 10,
                         size: Tuple[int, int] = (32, 24),
                         class_ind: bool = False,
                         rawframes: bool = True,
                         videos: bool = False,
                         splits: Sequence[int] = (1, ),
                         seed: int = 0) -> Dict:
    """Write a UCF-101 tree as mmaction2's own tools leave it.

    ``tools/data/ucf101/extract_frames.sh`` (denseflow) writes
    ``rawframes/<Class>/<clip>/img_00001.jpg`` .. ``img_N.jpg`` and
    ``flow_x_00001.jpg`` .. ``flow_x_{N-1}.jpg``, ``flow_y_*`` likewise;
    ``tools/data/build_file_list.py ucf101`` writes
    ``ucf101_{train,val}_split_N_{rawframes,videos}.txt``: ``<Class>/<clip>
    <RGB frames> <label>`` or ``<Class>/<clip>.avi <label>``, labels from 0,
    in the official lists' order (``val`` is the official test list);
    ``download_annotations.sh`` leaves ``annotations/classInd.txt``, which
    users often do not copy along. Frames are tiny JPEGs (RGB: the
    archive's moving shapes; flow: a class-dependent ramp); videos are XVID
    AVI files of the same RGB frames.

    Args:
        root (str): The tree's folder (created if needed).
        classes (Sequence[str]): Class names in label order.
        groups_per_class (int): Groups per class; the official-style test
            block of split N is :func:`split_test_groups` (2 of 7 groups).
        clips_per_group (int): Clips per group.
        num_frames (int): RGB frames per clip (flow: one fewer).
        size (tuple[int, int]): Frame ``(width, height)``, even numbers.
        class_ind (bool): Write ``annotations/classInd.txt``.
        rawframes (bool): Write the frame folders and rawframes lists.
        videos (bool): Write ``videos/`` and the videos lists.
        splits (Sequence[int]): Splits whose lists are written.
        seed (int): Seed of the drawings.

    Returns:
        dict: ``clips`` (``<Class>/<clip>`` in list order), ``train`` and
        ``test`` (split to its clips), ``num_frames``.
    """
    clips = [
        osp.splitext(v)[0]
        for v in archive_videos(classes, groups_per_class, clips_per_group)
    ]
    os.makedirs(root, exist_ok=True)
    for clip in clips:
        cls = clip.split('/')[0]
        k = classes.index(cls)
        group, index = _group(clip), int(clip.rsplit('_c', 1)[1])
        frames = make_frames(k, len(classes), group, index, num_frames, size,
                             seed)
        if rawframes:
            folder = osp.join(root, 'rawframes', clip)
            os.makedirs(folder, exist_ok=True)
            for i, frame in enumerate(frames, 1):
                cv2.imwrite(osp.join(folder, f'img_{i:05d}.jpg'), frame)
            for i in range(1, num_frames):
                for axis in 'xy':
                    cv2.imwrite(
                        osp.join(folder, f'flow_{axis}_{i:05d}.jpg'),
                        _flow_image(k, i, axis, size))
        if videos:
            os.makedirs(osp.join(root, 'videos', cls), exist_ok=True)
            write_video(osp.join(root, 'videos', clip + '.avi'), frames)
    if class_ind:
        os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
        with open(osp.join(root, 'annotations', 'classInd.txt'), 'w') as f:
            f.writelines(f'{i} {c}\n' for i, c in enumerate(classes, 1))
    train, test = {}, {}
    for split in splits:
        tested = set(split_test_groups(groups_per_class, split))
        test[split] = [c for c in clips if _group(c) in tested]
        train[split] = [c for c in clips if _group(c) not in tested]
        for role, part in (('train', train[split]), ('val', test[split])):
            label = [classes.index(c.split('/')[0]) for c in part]
            formats = {
                'rawframes':
                [f'{c} {num_frames} {k}\n' for c, k in zip(part, label)],
                'videos': [f'{c}.avi {k}\n' for c, k in zip(part, label)]
            }
            for fmt, lines in formats.items():
                if {'rawframes': rawframes, 'videos': videos}[fmt]:
                    name = f'ucf101_{role}_split_{split}_{fmt}.txt'
                    with open(osp.join(root, name), 'w') as f:
                        f.writelines(lines)
    return dict(clips=clips, train=train, test=test, num_frames=num_frames)


def corrupt_file(path: str) -> None:
    """Replace a file by bytes that no decoder reads (a damaged copy)."""
    with open(path, 'wb') as f:
        f.write(b'\x00\x17 not an image ' * 8)


def _group(relpath: str) -> int:
    return int(relpath.rsplit('_g', 1)[1].split('_c')[0])


def _write_crlf(path: str, lines: Sequence[str]) -> None:
    with open(path, 'w', newline='\r\n') as f:
        f.writelines(line + '\n' for line in lines)


def truncate_video(path: str, keep: float = 0.5) -> None:
    """Cut a video file short, as an interrupted download or copy does.

    decord still opens such an AVI and decodes the frames before the cut
    (its index at the end is gone), so only the RIFF header, which names the
    full size, gives the truncation away.

    Args:
        path (str): The video file, rewritten in place.
        keep (float): Share of the bytes to keep.
    """
    truncate_file(path, keep)


def write_undecodable(path: str) -> None:
    """Write a file with a video's name that no decoder can open."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(b'This is not a video. ' * 64)


def write_short_video(path: str,
                      num_frames: int = 1,
                      size: Tuple[int, int] = (64, 48)) -> None:
    """Replace a video by a valid one with only ``num_frames`` frames."""
    frames = make_frames(0, 1, 1, 1, num_frames, size, 0)
    write_video(path, frames)
