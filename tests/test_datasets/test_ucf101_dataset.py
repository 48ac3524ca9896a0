"""UCF101Dataset and the per-modality pipelines of the UCF-101 configs.

The tree is written here in mmaction2's rawframes layout with real JPEGs
(cv2): ``rawframes/<Class>/<clip>/img_00001.jpg`` (N), ``flow_x_00001.jpg``
and ``flow_y_00001.jpg`` (N - 1 each), and an XVID ``.avi`` per clip; the
named subsets are tested on trees as mmaction2's own tools leave them
(``tests/ucf101_fixtures.py``: ``write_mmaction2_tree``).
"""
import os
import os.path as osp
import re
import shutil

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO
from log_capture import captured_log
from mmengine.config import Config
from ucf101_fixtures import DEFAULT_CLASSES, write_mmaction2_tree

from mmdr.datasets.splits.ucf101 import list_names
from mmdr.registry import DATASETS
from mmdr.utils.dataset_classes import describe_classes
from mmdr.utils import register_all_modules

register_all_modules()
CLASSES = ('ApplyEyeMakeup', 'Archery', 'Basketball')
SIZE = (40, 30)  # W, H
CONFIG = osp.join(REPO, 'configs', '_base_', 'datasets', 'ucf101_rgb_flow.py')


def _rgb(index):
    """Frame ``index`` (1-based): its number written into every pixel."""
    return np.full((SIZE[1], SIZE[0], 3), 10 * index, np.uint8)


def _flow(index, axis):
    """Flow frame ``index``: x frames hold 100 + index, y frames 200 -
    index, so a decoded stack tells which frames were read."""
    value = 100 + index if axis == 'x' else 200 - index
    return np.full((SIZE[1], SIZE[0]), value, np.uint8)


def write_clip(root, clip, num_frames, video=True):
    frame_dir = root / 'rawframes' / clip
    frame_dir.mkdir(parents=True)
    for i in range(1, num_frames + 1):
        assert cv2.imwrite(str(frame_dir / f'img_{i:05d}.jpg'), _rgb(i))
    for i in range(1, num_frames):
        for axis in 'xy':
            assert cv2.imwrite(
                str(frame_dir / f'flow_{axis}_{i:05d}.jpg'), _flow(i, axis))
    if video:
        path = root / 'videos' / f'{clip}.avi'
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(
            str(path), cv2.VideoWriter_fourcc(*'XVID'), 25, SIZE)
        for i in range(1, num_frames + 1):
            writer.write(_rgb(i))
        writer.release()


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / 'ucf101'
    (root / 'ucfTrainTestlist').mkdir(parents=True)
    (root / 'ucfTrainTestlist' / 'classInd.txt').write_text(''.join(
        f'{i + 1} {c}\n' for i, c in enumerate(CLASSES)))
    lines, video_lines = [], []
    for label, cls in enumerate(CLASSES):
        clip = f'{cls}/v_{cls}_g01_c01'
        write_clip(root, clip, num_frames=12 + label)
        lines.append(f'{clip} {12 + label} {label}\n')
        video_lines.append(f'{clip}.avi {label}\n')
    (root / 'train_rawframes.txt').write_text(''.join(lines))
    (root / 'train_videos.txt').write_text(''.join(video_lines))
    return root


def _dataset(root, ann='train_rawframes.txt', pipeline=(), **kwargs):
    return DATASETS.build(
        dict(
            type='UCF101Dataset',
            ann_file=ann,
            data_root=str(root),
            pipeline=list(pipeline),
            **kwargs))


def test_rawframes_annotation_and_flow_frame_count(tree):
    dataset = _dataset(tree)
    assert len(dataset) == 3
    assert dataset.metainfo['classes'] == CLASSES
    assert dataset.modalities == ('rgb', 'flow')
    info = dataset.get_data_info(1)
    assert info['clip'] == 'Archery/v_Archery_g01_c01'
    assert info['frame_dir'] == str(tree / 'rawframes' / info['clip'])
    # 13 RGB frames, 12 flow pairs: sampling draws from the 12 positions
    # that have both.
    assert info['rgb_total_frames'] == 13
    assert info['total_frames'] == 12
    assert info['start_index'] == 1 and info['label'] == 1
    rgb_only = _dataset(tree, modalities=('rgb', ))
    assert rgb_only.get_data_info(1)['total_frames'] == 13


def _config_pipeline(name, crop=24, short_side=30):
    """The config's pipeline with small sizes, as --cfg-options would."""
    cfg = Config.fromfile(CONFIG)
    pipeline = cfg[name]
    for branch in pipeline[1:3]:
        for t in branch['transforms']:
            if t['type'] == 'Resize' and t['scale'][0] == -1:
                t['scale'] = (-1, short_side)
            elif t['type'] == 'Resize':
                t['scale'] = (crop, crop)
            elif t['type'] == 'MultiScaleCrop':
                t['input_size'] = crop
            elif t['type'] == 'CenterCrop':
                t['crop_size'] = crop
    return pipeline


def test_shared_segments_rgb_frame_and_flow_stack(tree):
    dataset = _dataset(tree, pipeline=_config_pipeline('val_pipeline'))
    sample = dataset[2]  # Basketball: 14 RGB frames, 13 flow pairs
    rgb, flow = sample['inputs']['rgb'], sample['inputs']['flow']
    # 3 segments; RGB (3, 3, H, W), flow 5 x/y pairs stacked (3, 10, H, W).
    assert rgb.shape == (3, 3, 24, 24)
    assert flow.shape == (3, 10, 24, 24)
    rgb_index = rgb[:, 0, 12, 12].double() / 10
    flow_x = flow[:, 0::2, 12, 12].double() - 100
    flow_y = 200 - flow[:, 1::2, 12, 12].double()
    # JPEG is lossy: read the frame numbers back to the nearest integer.
    rgb_index, flow_x, flow_y = (
        t.round().long() for t in (rgb_index, flow_x, flow_y))
    assert torch.equal(flow_x, flow_y)
    for seg in range(3):
        start = int(rgb_index[seg])
        # The flow stack starts at the segment's RGB frame, consecutive.
        assert flow_x[seg].tolist() == list(range(start, start + 5))
    # Every stack ends within the 13 flow frames.
    assert int(flow_x.max()) <= 13
    assert sample['data_samples'].gt_labels.item.item() == 2


def test_train_pipeline_flips_flow_x_with_the_image(tree, monkeypatch):
    pipeline = _config_pipeline('train_pipeline')
    dataset = _dataset(tree, pipeline=pipeline)
    np.random.seed(0)
    sample = dataset[0]
    assert sample['inputs']['rgb'].shape == (3, 3, 24, 24)
    assert sample['inputs']['flow'].shape == (3, 10, 24, 24)
    # mmaction2's Flip inverts flow x (255 - v) when the branch's modality
    # is 'Flow': force a flip and compare with the unflipped stack.
    for t in pipeline[2]['transforms']:
        if t['type'] == 'Flip':
            t['flip_ratio'] = 1.0
    flipped = _dataset(tree, pipeline=pipeline)
    np.random.seed(0)
    x_flipped = flipped[0]['inputs']['flow'][:, 0::2].double().mean()
    np.random.seed(0)
    for t in pipeline[2]['transforms']:
        if t['type'] == 'Flip':
            t['flip_ratio'] = 0.0
    x_kept = _dataset(tree, pipeline=pipeline)[0]['inputs']['flow'][:, 0::2]
    assert abs(float(x_flipped) - (255 - float(x_kept.double().mean()))) < 3


def test_videos_rgb_with_rawframe_flow(tree):
    # RGB decoded from the video (0-based) at the positions of the flow
    # stacks read from rawframes (1-based): the config's own pipeline
    # (FrameDecode), the format read from the list's two columns.
    pipeline = _config_pipeline('val_pipeline')
    dataset = _dataset(tree, ann='train_videos.txt', pipeline=pipeline)
    assert dataset.data_format == 'videos'
    info = dataset.get_data_info(2)
    assert info['filename'].endswith('Basketball/v_Basketball_g01_c01.avi')
    assert info['total_frames'] == 13  # counted flow_x frames
    sample = dataset[2]
    rgb_index = (sample['inputs']['rgb'][:, 0, 12, 12].double() /
                 10).round().long()
    flow_x = (sample['inputs']['flow'][:, 0, 12, 12].double() -
              100).round().long()
    # XVID is lossier than JPEG; the frame numbers still match.
    assert torch.equal(rgb_index, flow_x)
    # The same pipeline reads rawframes samples from their frame folders.
    rawframes = _dataset(tree, pipeline=pipeline)[2]['inputs']['rgb']
    assert torch.equal((rawframes[:, 0, 12, 12].double() / 10).round().long(),
                       rgb_index)


@pytest.mark.parametrize('line, message', [
    ('Archery/v_Archery_g01_c01 13\n', '2 columns'),
    ('Archery/v_Archery_g01_c01 13 7\n', 'unknown label 7.*classInd.txt'),
    ('Archery/v_Archery_g01_c01 13 x\n', 'label must be an integer'),
    ('Archery/v_Archery_g01_c01 1 1\n', 'total_frames=1 is too few'),
    ('Archery/v_Archery_g09_c01 13 1\n', 'frame folder .* is missing'),
    ('Archery/v_Archery_g01_c01 13 2\n', "label 2 is 'Basketball'"),
    ('ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01 12 0\n', 'listed twice'),
])
def test_bad_annotation_fails_at_start_naming_file_and_line(
        tree, line, message):
    ann = tree / 'bad.txt'
    ann.write_text('ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01 12 0\n' + line)
    with pytest.raises((ValueError, FileNotFoundError), match=message) as err:
        _dataset(tree, ann='bad.txt')
    assert f'{ann}, line 2' in str(err.value)


def test_skip_list_leaves_clips_out_with_a_warning(tree):
    ann = tree / 'with_missing.txt'
    ann.write_text((tree / 'train_rawframes.txt').read_text() +
                   'Archery/v_Archery_g09_c01 13 1\n')
    skip = tree / 'skip.txt'
    skip.write_text('# written by check_rawframes.py\n'
                    'Archery/v_Archery_g09_c01  # missing folder\n')
    with captured_log() as records:
        dataset = _dataset(tree, ann='with_missing.txt', skip_list=str(skip))
    assert len(dataset) == 3
    log = '\n'.join(record.getMessage() for record in records)
    assert ('1 of the 4 clips of' in log
            and "left out: ['Archery/v_Archery_g09_c01']" in log)
    assert 'Archery/v_Archery_g09_c01' not in [
        dataset.get_data_info(i)['clip'] for i in range(3)
    ]


def test_missing_class_file_and_root_are_explained(tree, tmp_path):
    with pytest.raises(
            FileNotFoundError, match='class_file .*nowhere.txt not found'):
        _dataset(tree, class_file='nowhere.txt')
    with pytest.raises(
            FileNotFoundError, match='prepare_ucf101.py --root .*nowhere'):
        _dataset(tmp_path / 'nowhere')


# ------------------------------------------- trees of mmaction2's tools


def _subset(root, subset, **kwargs):
    return DATASETS.build(
        dict(
            type='UCF101Dataset',
            data_root=str(root),
            subset=subset,
            pipeline=[],
            **kwargs))


def _clips(dataset):
    return [dataset.get_data_info(i)['clip'] for i in range(len(dataset))]


def _group(clip):
    return int(re.search(r'_g(\d+)_c', clip).group(1))


@pytest.mark.parametrize('class_ind', [False, True])
def test_mmaction2_rawframes_tree_trains_on_a_carve(tmp_path, class_ind):
    """mmaction2's rawframes and lists, with or without classInd.txt: the
    named subsets carve the validation part from the training list (no
    model is selected on the official test list)."""
    root = tmp_path / 'ucf101'
    tree = write_mmaction2_tree(str(root), class_ind=class_ind)
    with captured_log() as records:
        train, val, test = (_subset(root, s) for s in ('train', 'val', 'test'))
    for dataset in (train, val, test):
        assert dataset.metainfo['classes'] == DEFAULT_CLASSES
        assert dataset.data_format == 'rawframes'
    # Where the classes came from, as the class-count checks name it.
    assert describe_classes(train, 'train_dataloader.dataset').endswith(
        f'(from classInd.txt at {root / "annotations" / "classInd.txt"})'
        if class_ind else
        "(from the lists' class folders and labels (no classInd.txt))")
    assert (len(train), len(val), len(test)) == (9, 6, 6)
    assert sorted(_clips(train) + _clips(val)) == sorted(tree['train'][1])
    assert _clips(test) == tree['test'][1]  # mmaction2's val list
    held = {(c.split('/')[0], _group(c)) for c in _clips(val)}
    assert not held & {(c.split('/')[0], _group(c)) for c in _clips(train)}
    # Two whole groups of every class, of its five training groups.
    assert sorted(c for c, _ in held) == sorted(DEFAULT_CLASSES * 2)
    info = val.get_data_info(0)
    assert info['ann_line'].startswith(
        f'{root / "ucf101_train_split_1_rawframes.txt"}, line ')
    assert DEFAULT_CLASSES[info['label']] == info['clip'].split('/')[0]
    assert ("2 of the 5 training groups of every class held out (seed 0): 9 "
            'training / 6 validation clips') in '\n'.join(
                record.getMessage() for record in records)


def test_in_memory_carve_is_the_lists_prepare_writes(ucf101_root, tmp_path):
    """Without mmdr's carve lists, the data set carves the same clips, in
    the same order, as prepare_ucf101.py wrote them (same seed, groups)."""
    root = tmp_path / 'ucf101'
    root.mkdir()
    for name in ('rawframes', 'ucfTrainTestlist'):
        os.symlink(osp.join(ucf101_root, name), root / name)
    for split in (1, 2, 3):
        names = list_names(split)
        shutil.copy(osp.join(ucf101_root, names['train']['rawframes']), root)
        for subset, role in (('train', 'trainpart'), ('val', 'holdout')):
            dataset = _subset(root, subset, split=split, holdout_groups=1)
            assert dataset.ann_file == str(root / names['train']['rawframes'])
            with open(osp.join(ucf101_root, names[role]['rawframes'])) as f:
                written = [line.split()[0] for line in f]
            assert _clips(dataset) == written, (split, subset)


def test_videos_list_without_flow_frames_says_how_to_extract(tmp_path):
    root = tmp_path / 'ucf101'
    write_mmaction2_tree(str(root), rawframes=False, videos=True)
    with pytest.raises(FileNotFoundError) as err:
        _subset(root, 'train')
    message = str(err.value)
    assert 'ucf101_train_split_1_videos.txt lists videos' in message
    assert f'{root / "rawframes"} does not exist' in message
    assert f'prepare_ucf101.py --root {root}' in message
    # RGB alone needs no flow frames.
    rgb = _subset(root, 'test', modalities=('rgb', ))
    assert rgb.data_format == 'videos' and len(rgb) == 6


@pytest.mark.parametrize('layout', ['classInd', 'lists', 'clip name'])
def test_label_contradicting_the_class_stops_at_start(tmp_path, layout):
    root = tmp_path / 'ucf101'
    write_mmaction2_tree(str(root), class_ind=layout == 'classInd')
    ann = root / 'ucf101_train_split_1_rawframes.txt'
    lines = ann.read_text().splitlines(keepends=True)
    # Line 6: an Archery clip (label 1) labelled as HandstandPushups.
    clip = lines[5].split()[0]
    assert clip.startswith('Archery/')
    if layout == 'clip name':
        # No class folders: the v_<Class>_ of the name is the class (the
        # labels are checked before any frame is looked for).
        lines = [osp.basename(line) for line in lines]
        clip = osp.basename(clip)
    lines[5] = f'{clip} 10 2\n'
    ann.write_text(''.join(lines))
    with pytest.raises(ValueError) as err:
        _subset(root, 'train')
    message = str(err.value)
    assert f"{ann}, line 6 ('{clip} 10 2')" in message
    assert "'HandstandPushups'" in message and "'Archery'" in message
    assert 'fix the label to 1' in message


def test_class_names_from_lists_name_every_label(tmp_path):
    root = tmp_path / 'ucf101'
    write_mmaction2_tree(str(root))
    for name in ('train', 'val'):
        ann = root / f'ucf101_{name}_split_1_rawframes.txt'
        ann.write_text(''.join(
            line for line in ann.read_text().splitlines(keepends=True)
            if not line.startswith('Archery/')))
    with pytest.raises(ValueError, match=r'no clip names label\(s\) \[1\]'):
        _subset(root, 'test')
    (root / 'classes.txt').write_text('1 ApplyEyeMakeup\n2 Archery\n'
                                      '3 HandstandPushups\n')
    assert len(_subset(root, 'test', class_file='classes.txt')) == 4


def test_carve_with_a_larger_validation_part_is_refused(tmp_path):
    """3 training groups per class: holding out the default 2 would
    validate on twice as many clips as are trained on."""
    root = tmp_path / 'ucf101'
    write_mmaction2_tree(str(root), groups_per_class=4)
    with pytest.raises(ValueError) as err:
        _subset(root, 'val')
    message = str(err.value)
    assert 'holding out 2 of the 3 training groups of every class puts 6 ' \
        'clips into validation and leaves 3 for training' in message
    assert 'lower holdout_groups' in message
    assert str(root / 'ucf101_train_split_1_rawframes.txt') in message
    assert len(_subset(root, 'val', holdout_groups=1)) == 3


def test_start_up_checks_list_every_missing_or_empty_frame(tmp_path):
    root = tmp_path / 'ucf101'
    tree = write_mmaction2_tree(str(root))
    test = tree['test'][1]
    frames = root / 'rawframes'
    (frames / test[0] / 'flow_y_00009.jpg').unlink()
    (frames / test[4] / 'img_00002.jpg').write_bytes(b'')
    ann = root / 'ucf101_val_split_1_rawframes.txt'
    with pytest.raises(FileNotFoundError) as err:
        _subset(root, 'test')
    message = str(err.value)
    # 6 clips x (10 RGB + 2 x 9 flow) files.
    assert 'UCF101Dataset: 2 of the 168 files named by' in message
    assert (f"{ann}, line 1 ('{test[0]} 10 0'): "
            f'{frames / test[0] / "flow_y_00009.jpg"} is missing') in message
    assert (f"{ann}, line 5 ('{test[4]} 10 2'): "
            f'{frames / test[4] / "img_00002.jpg"} is empty') in message
    assert 'check_rawframes.py' in message
    # RGB alone does not need the flow frame; check_files=False skips all.
    with pytest.raises(FileNotFoundError, match='1 of the 60 files'):
        _subset(root, 'test', modalities=('rgb', ))
    assert len(_subset(root, 'test', check_files=False)) == 6


def test_skip_lists_are_relative_to_data_root(tmp_path, monkeypatch):
    root = tmp_path / 'ucf101'
    tree = write_mmaction2_tree(str(root))
    test = tree['test'][1]
    (root / 'skipped.txt').write_text(f'{test[0]}  # from the preparation\n')
    (tmp_path / 'unreadable.txt').write_text(f'{test[1]}\n')
    dataset = _subset(
        root,
        'test',
        skip_list=['skipped.txt',
                   str(tmp_path / 'unreadable.txt')])
    assert _clips(dataset) == test[2:]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        _subset(root, 'test', skip_list='unreadable.txt')
    assert (f'skip_list {root / "unreadable.txt"} not found (a relative '
            'skip_list is relative to data_root); it exists relative to the '
            'working directory') in str(err.value)
