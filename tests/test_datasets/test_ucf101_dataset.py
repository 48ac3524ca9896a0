"""UCF101Dataset and the per-modality pipelines of the UCF-101 configs.

The tree is written here in mmaction2's rawframes layout with real JPEGs
(cv2): ``rawframes/<Class>/<clip>/img_00001.jpg`` (N), ``flow_x_00001.jpg``
and ``flow_y_00001.jpg`` (N - 1 each), and an XVID ``.avi`` per clip.
"""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from mmengine.logging import MMLogger

from mmdr.registry import DATASETS
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
    # stacks read from rawframes (1-based).
    pipeline = _config_pipeline('val_pipeline')
    pipeline[1]['transforms'] = [
        dict(type='DecordInit'),
        dict(type='SelectClipFrames', num=1, index_offset=-1),
        dict(type='DecordDecode'), *pipeline[1]['transforms'][2:]
    ]
    dataset = _dataset(
        tree, ann='train_videos.txt', data_format='videos', pipeline=pipeline)
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


@pytest.mark.parametrize('line, message', [
    ('Archery/v_Archery_g01_c01 13\n', '2 columns'),
    ('Archery/v_Archery_g01_c01 13 7\n', 'unknown label 7.*classInd.txt'),
    ('Archery/v_Archery_g01_c01 13 x\n', 'label must be an integer'),
    ('Archery/v_Archery_g01_c01 1 1\n', 'total_frames=1 is too few'),
    ('Archery/v_Archery_g09_c01 13 1\n', 'frame folder .* is missing'),
])
def test_bad_annotation_fails_at_start_naming_file_and_line(
        tree, line, message):
    ann = tree / 'bad.txt'
    ann.write_text('ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01 12 0\n' + line)
    with pytest.raises((ValueError, FileNotFoundError), match=message) as err:
        _dataset(tree, ann='bad.txt')
    assert f'{ann}, line 2' in str(err.value)


def test_skip_list_leaves_clips_out_with_a_warning(tree, capsys):
    ann = tree / 'with_missing.txt'
    ann.write_text((tree / 'train_rawframes.txt').read_text() +
                   'Archery/v_Archery_g09_c01 13 1\n')
    skip = tree / 'skip.txt'
    skip.write_text('# written by check_rawframes.py\n'
                    'Archery/v_Archery_g09_c01  # missing folder\n')
    # A logger made now writes to pytest's captured stream.
    MMLogger.get_instance('ucf101_skip_list_test')
    dataset = _dataset(tree, ann='with_missing.txt', skip_list=str(skip))
    assert len(dataset) == 3
    out = capsys.readouterr()
    assert ('1 of the 4 clips of' in out.out + out.err
            and "left out: ['Archery/v_Archery_g09_c01']" in out.out + out.err)
    assert 'Archery/v_Archery_g09_c01' not in [
        dataset.get_data_info(i)['clip'] for i in range(3)
    ]


def test_missing_class_file_and_root_are_explained(tree, tmp_path):
    (tree / 'ucfTrainTestlist' / 'classInd.txt').unlink()
    with pytest.raises(FileNotFoundError, match='no classInd.txt'):
        _dataset(tree)
    with pytest.raises(
            FileNotFoundError, match='prepare_ucf101.py --root .*nowhere'):
        _dataset(tmp_path / 'nowhere')
