"""tools/data/ucf101/prepare_ucf101.py through its command line (its
``main`` with the arguments, output and exit status of a shell call, in the
test process: ``conftest.run_ucf101_tool``).

The archives are written by ``mmdr.testing.ucf101``: real XVID AVI
files that decord reads, official-style split files; trees of other tools
(rawframes only, mmaction2's lists) too. The session fixture
``ucf101_root`` (tests/conftest.py) is the prepared tree; tests that change
a tree work on a copy or on an archive of their own.
"""
import json
import os
import os.path as osp
import re
import shutil

import cv2
import numpy as np
import pytest
from conftest import UCF101_ARCHIVE, UCF101_PREPARE_ARGS, prepare_ucf101

from mmdr.datasets import UCF101Dataset
from mmdr.datasets.splits import ucf101 as sl
from mmdr.preparation import rawframes as ex
from mmdr.testing.ucf101 import (DEFAULT_CLASSES, truncate_video,
                                 write_mmaction2_tree, write_official_lists,
                                 write_short_video, write_ucf101_archive,
                                 write_undecodable)
from mmdr.utils.file_hash import sha256_file

NUM_FRAMES = UCF101_ARCHIVE['num_frames']
ROLES = ('train', 'val', 'trainpart', 'holdout')


def _lines(path):
    with open(path) as f:
        return f.read().splitlines()


def _entries(path):
    """frame_dir entries of a skip list (``#`` starts a comment)."""
    entries = [line.split('#')[0].strip() for line in _lines(path)]
    return [e for e in entries if e]


def _list_files(root):
    return sorted(n for n in os.listdir(root) if n.endswith('.txt'))


def _official(root, name):
    return [
        line.split()[0]
        for line in _lines(osp.join(root, 'ucfTrainTestlist', name))
        if line.strip()
    ]


def _group(path):
    return int(re.search(r'_g(\d+)_c\d+', path).group(1))


def _copy_tree(src, dst):
    shutil.copytree(src, dst)
    return str(dst)


def _small_archive(root, **kwargs):
    """3 classes x 4 groups x 1 clip, 6 frames: 12 videos (every split tests
    one group; one of the other three per class is held out)."""
    opts = dict(
        groups_per_class=4, clips_per_group=1, num_frames=6, size=(64, 48))
    opts.update(kwargs)
    return write_ucf101_archive(str(root), DEFAULT_CLASSES, **opts)


# ------------------------------------------------------------ layout


def test_rawframe_layout(ucf101_root):
    videos = sorted(f'{c}/{v}'
                    for c in os.listdir(osp.join(ucf101_root, 'videos'))
                    for v in os.listdir(osp.join(ucf101_root, 'videos', c)))
    assert len(videos) == 36
    expected = {f'img_{i:05d}.jpg' for i in range(1, NUM_FRAMES + 1)}
    for axis in 'xy':
        expected |= {f'flow_{axis}_{i:05d}.jpg' for i in range(1, NUM_FRAMES)}
    for video in videos:
        folder = osp.join(ucf101_root, 'rawframes', osp.splitext(video)[0])
        assert set(os.listdir(folder)) == expected | {ex.DONE_MARKER}
    folder = osp.join(ucf101_root, 'rawframes', osp.splitext(videos[0])[0])
    rgb = cv2.imread(osp.join(folder, 'img_00001.jpg'), cv2.IMREAD_UNCHANGED)
    assert rgb.shape == (48, 64, 3)  # --short-side 0 keeps 64x48
    flows = np.stack([
        cv2.imread(
            osp.join(folder, f'flow_{a}_{i:05d}.jpg'), cv2.IMREAD_UNCHANGED)
        for a in 'xy' for i in range(1, NUM_FRAMES)
    ])
    assert flows.shape == (2 * (NUM_FRAMES - 1), 48, 64)  # grayscale
    assert flows.std() > 1  # motion, not a constant image
    # The background does not move: most pixels hold the zero flow, 128.
    assert np.median(flows) in (127, 128, 129)
    marker = json.load(open(osp.join(folder, ex.DONE_MARKER)))
    assert (marker['rgb'], marker['flow']) == (NUM_FRAMES, NUM_FRAMES - 1)
    assert marker['settings']['flow_algo'] == 'farneback'


def test_short_side_and_auto_flow(tmp_path):
    _small_archive(tmp_path, num_frames=4)
    result = prepare_ucf101(tmp_path, '--short-side', '32', '--workers', '1',
                            '--holdout-groups', '1')
    assert result.returncode == 0, result.stdout + result.stderr
    algo = 'tvl1' if ex.tvl1_available() else 'farneback'
    assert f'Optical flow algorithm: {algo} = ' in result.stdout
    meta = json.load(open(tmp_path / 'mmdr_ucf101_prepare.json'))
    assert meta['flow_algo'] == algo
    assert meta['settings']['short_side'] == 32
    folder = tmp_path / 'rawframes' / 'Archery' / 'v_Archery_g01_c01'
    for name, shape in (('img_00001.jpg', (32, 42, 3)),
                        ('flow_x_00003.jpg', (32, 42)), ('flow_y_00003.jpg',
                                                         (32, 42))):
        image = cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED)
        assert image.shape == shape  # 64x48 -> 42x32 (mmaction2's rule)
    assert not (folder / 'flow_x_00004.jpg').exists()


def test_rgb_only(tmp_path):
    _small_archive(tmp_path, num_frames=3)
    result = prepare_ucf101(tmp_path, '--task', 'rgb', '--short-side', '0',
                            '--workers', '1', '--holdout-groups', '1')
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Optical flow algorithm: none' in result.stdout
    folder = tmp_path / 'rawframes' / 'Archery' / 'v_Archery_g02_c01'
    assert sorted(os.listdir(folder)) == [
        '.done', 'img_00001.jpg', 'img_00002.jpg', 'img_00003.jpg'
    ]


def test_flow_quantisation_round_trip():
    flow = np.linspace(-30, 30, 601, dtype=np.float32)
    image = ex.quantize_flow(flow, 20)
    assert image.dtype == np.uint8
    assert image[flow <= -20].tolist() == [0] * int((flow <= -20).sum())
    assert image[flow >= 20].tolist() == [255] * int((flow >= 20).sum())
    assert ex.quantize_flow(np.float32([0.0]))[0] == 128  # rint(127.5)
    inside = np.abs(flow) <= 20
    back = ex.dequantize_flow(image, 20)
    assert np.abs(back[inside] - flow[inside]).max() <= 20 / 255 + 1e-5
    assert np.all(np.diff(image.astype(int)) >= 0)  # monotone


@pytest.mark.parametrize('algo', ['farneback', 'tvl1'])
def test_flow_of_known_motion(algo):
    if algo == 'tvl1' and not ex.tvl1_available():
        pytest.skip('no opencv-contrib TV-L1')
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(
        rng.uniform(0, 255, (60, 84, 3)).astype(np.float32), (0, 0), 2)
    shift = (3, -2)  # x right 3, y up 2
    frames = [
        texture[8:56, 10:74], texture[8 - shift[1]:56 - shift[1],
                                      10 - shift[0]:74 - shift[0]]
    ]
    frames = [np.clip(f, 0, 255).astype(np.uint8) for f in frames]
    images = {}
    info = ex.process_frames(
        frames, ex.Settings(0, algo),
        lambda kind, i, im: images.update({(kind, i): im}))
    assert (info['rgb'], info['flow']) == (2, 1)
    assert set(images) == {('img', 1), ('img', 2), ('x', 1), ('y', 1)}
    inner = (slice(12, 36), slice(12, 52))
    for axis, value in zip('xy', shift):
        flow = ex.dequantize_flow(images[(axis, 1)][inner])
        assert abs(np.median(flow) - value) < 0.3, (axis, np.median(flow))


# ------------------------------------------------------ annotation lists


def test_annotation_files(ucf101_root, ucf101_classes):
    names = {
        n
        for s in sl.SPLITS
        for fmts in sl.list_names(s).values()
        for n in fmts.values()
    }
    assert len(names) == 24
    assert set(_list_files(ucf101_root)) == names | {'skipped.txt'}
    class_ind = _lines(
        osp.join(ucf101_root, 'ucfTrainTestlist', 'classInd.txt'))
    label = {line.split()[1]: int(line.split()[0]) - 1 for line in class_ind}
    assert [c for c, _ in sorted(label.items(), key=lambda x: x[1])
            ] == ucf101_classes
    for split in sl.SPLITS:
        files = sl.list_names(split)
        assert files['val']['rawframes'] == (
            f'ucf101_val_split_{split}_rawframes.txt')
        sizes = dict(train=24, val=12, trainpart=18, holdout=6)
        for role in ROLES:
            frames = _lines(osp.join(ucf101_root, files[role]['rawframes']))
            videos = _lines(osp.join(ucf101_root, files[role]['videos']))
            assert len(frames) == len(videos) == sizes[role]
            for fline, vline in zip(frames, videos):
                frame_dir, total, lab = fline.split(' ')
                assert re.fullmatch(r'[A-Za-z]+/v_[A-Za-z]+_g\d\d_c\d\d',
                                    frame_dir)
                assert total == str(NUM_FRAMES)  # RGB frames
                assert int(lab) == label[frame_dir.split('/')[0]]  # 0-based
                assert vline == f'{frame_dir}.avi {lab}'
        # mmaction2's val list is the official test list, in its order.
        official_test = _official(ucf101_root, f'testlist0{split}.txt')
        val = [
            line.split()[0]
            for line in _lines(osp.join(ucf101_root, files['val']['videos']))
        ]
        assert val == official_test
        official_train = _official(ucf101_root, f'trainlist0{split}.txt')
        train = [
            line.split()[0] for line in _lines(
                osp.join(ucf101_root, files['train']['videos']))
        ]
        assert train == official_train


def test_holdout_carve(ucf101_root, ucf101_classes):
    meta = json.load(open(osp.join(ucf101_root, 'mmdr_ucf101_prepare.json')))
    for split in sl.SPLITS:
        files = sl.list_names(split)
        assert 'val' not in files['holdout']['rawframes']
        assert files['holdout']['rawframes'].startswith('mmdr_ucf101_')

        def read(role):
            return [
                line.split()[0] for line in _lines(
                    osp.join(ucf101_root, files[role]['videos']))
            ]

        train, trainpart, holdout = read('train'), read('trainpart'), read(
            'holdout')
        assert sorted(trainpart + holdout) == sorted(train)
        assert [c for c in train if c in set(holdout)] == holdout  # order
        assert not set(holdout) & set(read('val'))
        part_groups = {(c.split('/')[0], _group(c)) for c in trainpart}
        held_groups = {(c.split('/')[0], _group(c)) for c in holdout}
        assert not part_groups & held_groups  # group-disjoint
        for cls in ucf101_classes:  # stratified: one group of every class
            held = sorted(g for c, g in held_groups if c == cls)
            assert len(held) == 1
            assert meta['carve'][str(split)]['held_out_groups'][cls] == held
            assert sum(c.startswith(cls + '/') for c in holdout) == 2


# ------------------------------------------- resume, seeds, overwriting


def test_resume_and_seeds(ucf101_root, tmp_path):
    root = _copy_tree(ucf101_root, tmp_path / 'ucf101')
    digests = {n: sha256_file(osp.join(root, n)) for n in _list_files(root)}

    result = prepare_ucf101(root, *UCF101_PREPARE_ARGS)
    assert result.returncode == 0, result.stderr
    assert 'Plan: 36 videos: 36 already done, 0 to extract, 0 to redo' in (
        result.stdout)
    assert 'Extracting 0 video(s)' in result.stdout
    assert {
        n: sha256_file(osp.join(root, n))
        for n in _list_files(root)
    } == digests  # same seed, same bytes

    frames = osp.join(root, 'rawframes')
    no_marker = osp.join(frames, 'Archery', 'v_Archery_g02_c01')
    os.remove(osp.join(no_marker, ex.DONE_MARKER))
    stray = osp.join(no_marker, 'img_00099.jpg')
    shutil.copy(osp.join(no_marker, 'img_00001.jpg'), stray)
    short = osp.join(frames, 'ApplyEyeMakeup', 'v_ApplyEyeMakeup_g01_c02')
    os.remove(osp.join(short, 'img_00005.jpg'))
    os.remove(osp.join(short, 'flow_x_00007.jpg'))
    result = prepare_ucf101(root, *UCF101_PREPARE_ARGS)
    assert result.returncode == 0, result.stderr
    assert ('Plan: 36 videos: 34 already done, 0 to extract, 2 to redo (1 '
            'frames missing or extra, 1 half-written (no .done marker))'
            ) in result.stdout
    assert 'Summary: 36 videos found, 36 prepared (2 extracted now, 34 ' \
        'already done), 0 skipped, 0 failed.' in result.stdout
    assert not osp.exists(stray)  # redone from scratch
    for folder in (no_marker, short):
        assert ex.count_frames(folder) == (NUM_FRAMES, NUM_FRAMES - 1,
                                           NUM_FRAMES - 1)
        assert ex.read_marker(folder)['rgb'] == NUM_FRAMES
    assert {
        n: sha256_file(osp.join(root, n))
        for n in _list_files(root)
    } == digests

    result = prepare_ucf101(root, *UCF101_PREPARE_ARGS, '--seed', '3')
    assert result.returncode == 0, result.stderr
    assert 'Extracting 0 video(s)' in result.stdout
    changed = {
        n
        for n in _list_files(root)
        if sha256_file(osp.join(root, n)) != digests[n]
    }
    assert changed and all(
        n.startswith('mmdr_ucf101_') for n in changed - {'skipped.txt'})
    assert re.search(r'mmdr_ucf101_holdout_split_1_rawframes.txt +6 clips',
                     result.stdout)

    # Other settings touch nothing without --overwrite.
    result = prepare_ucf101(root, *UCF101_PREPARE_ARGS[:-2], '--short-side',
                            '32')
    assert result.returncode == 1
    assert 'pass --overwrite to redo every video' in result.stderr


def test_foreign_tree_and_lists(ucf101_root, tmp_path):
    """A tree made by other tools (no markers): --lists-only reads it."""
    root = _copy_tree(ucf101_root, tmp_path / 'ucf101')
    frames = osp.join(root, 'rawframes')
    os.remove(osp.join(frames, '.mmdr_rawframes.json'))
    for cls in os.listdir(frames):
        for clip in os.listdir(osp.join(frames, cls)):
            os.remove(osp.join(frames, cls, clip, ex.DONE_MARKER))
    result = prepare_ucf101(root, *UCF101_PREPARE_ARGS)
    assert result.returncode == 1
    assert 'was not made by this tool' in result.stderr
    assert '--lists-only' in result.stderr

    name = 'ucf101_train_split_1_rawframes.txt'
    expected = sha256_file(osp.join(ucf101_root, name))
    with open(osp.join(root, name), 'w') as f:
        f.write('ApplyEyeMakeup/v_ApplyEyeMakeup_g03_c01 12 0\n')
    result = prepare_ucf101(root, '--lists-only', '--holdout-groups', '1')
    assert result.returncode == 1
    assert 'did not write' in result.stderr and name in result.stderr
    result = prepare_ucf101(root, '--lists-only', '--holdout-groups', '1',
                            '--overwrite')
    assert result.returncode == 0, result.stderr
    assert sha256_file(osp.join(root, name)) == expected
    for n in _list_files(root):
        assert sha256_file(osp.join(root, n)) == sha256_file(
            osp.join(ucf101_root, n)), n


# ---------------------------------------------- corrupt videos, dry run


def test_corrupt_videos_are_skipped_and_named(tmp_path):
    info = _small_archive(tmp_path)
    videos = osp.join(tmp_path, 'videos')
    truncated, undecodable, one_frame, missing = (info['videos'][0],
                                                  info['videos'][4],
                                                  info['videos'][7],
                                                  info['videos'][8])
    truncate_video(osp.join(videos, truncated), 0.6)
    write_undecodable(osp.join(videos, undecodable))
    write_short_video(osp.join(videos, one_frame), 1)
    os.remove(osp.join(videos, missing))
    args = ('--flow-algo', 'farneback', '--short-side', '0', '--workers', '1',
            '--holdout-groups', '1')
    result = prepare_ucf101(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert 'Summary: 11 videos found, 8 prepared (8 extracted now, 0 ' \
        'already done), 4 skipped, 0 failed.' in out
    assert f'{truncated}: truncated: the file has' in out
    assert f'{undecodable}: decord cannot open it' in out
    assert f'{one_frame}: 1 frame(s): at least 2 are needed' in out
    assert f'{missing}: missing: listed in the split files' in out
    assert 'WARNING: 4 video(s) skipped' in out
    bad = {
        osp.splitext(v)[0]
        for v in (truncated, undecodable, one_frame, missing)
    }
    assert set(_entries(tmp_path / 'skipped.txt')) == bad
    for name in _list_files(tmp_path):
        if name != 'skipped.txt':
            listed = {
                line.split()[0].replace('.avi', '')
                for line in _lines(tmp_path / name)
            }
            assert not listed & bad
    for video in set(
            info['videos']) - {truncated, undecodable, one_frame, missing}:
        folder = osp.join(tmp_path, 'rawframes', osp.splitext(video)[0])
        assert ex.read_marker(folder)['rgb'] == 6
    for video in bad:
        assert not osp.exists(osp.join(tmp_path, 'rawframes', video))
    meta = json.load(open(tmp_path / 'mmdr_ucf101_prepare.json'))
    assert len(meta['skipped']) == 4

    result = prepare_ucf101(tmp_path, *args, '--strict')
    assert result.returncode == 1
    assert 'Plan: 11 videos: 8 already done, 3 to extract' in result.stdout
    assert '4 skipped' in result.stdout


def test_dry_run_writes_nothing(tmp_path):
    _small_archive(tmp_path)

    def listing():
        return sorted(
            osp.relpath(osp.join(d, n), tmp_path)
            for d, _, names in os.walk(tmp_path) for n in names)

    before = listing()
    result = prepare_ucf101(tmp_path, '--dry-run', '--flow-algo', 'farneback',
                            '--workers', '2', '--holdout-groups', '1')
    assert result.returncode == 0, result.stderr
    assert listing() == before
    out = result.stdout
    assert 'Dry run: nothing is written.' in out
    assert 'Plan: 12 videos: 0 already done, 12 to extract, 0 to redo' in out
    estimate = re.search(
        r'Disk estimate: ([\d.]+) (KiB|MiB|GiB) of JPEG files .*: '
        r'72 RGB frames x .* \+ 120 flow images x', out)
    assert estimate and float(estimate.group(1)) > 0
    assert re.search(r'mmdr_ucf101_holdout_split_2_videos.txt +3 clips', out)


# ------------------------------------- trees written by other tools


def _refusal(root, *argv):
    """Exit status and output of the tool, dry run or not."""
    result = prepare_ucf101(root, *argv)
    return result.returncode, result.stdout + result.stderr


def _files(root):
    return sorted(
        osp.relpath(osp.join(d, n), root) for d, _, names in os.walk(root)
        for n in names)


def test_lists_only_on_a_tree_of_rawframes_only(ucf101_root, tmp_path):
    """No videos/: the clips whose frames exist are in the lists, and the
    skip list names none of them."""
    root = tmp_path / 'ucf101'
    root.mkdir()
    for name in ('rawframes', 'ucfTrainTestlist'):
        os.symlink(osp.join(ucf101_root, name), root / name)
    result = prepare_ucf101(root, '--lists-only', '--holdout-groups', '1')
    assert result.returncode == 0, result.stdout + result.stderr
    assert _entries(root / 'skipped.txt') == []
    for split in sl.SPLITS:
        for names in sl.list_names(split).values():
            assert sha256_file(root / names['rawframes']) == sha256_file(
                osp.join(ucf101_root, names['rawframes']))
            assert _lines(root / names['videos']) == []
    dataset = UCF101Dataset(
        data_root=str(root), subset='train', skip_list='skipped.txt')
    assert len(dataset) == 18


@pytest.mark.parametrize('tree', ['foreign lists', 'foreign rawframes'])
def test_dry_run_refuses_what_the_real_run_refuses(tmp_path, tree):
    root = tmp_path / 'ucf101'
    write_official_lists(str(root), DEFAULT_CLASSES, 7, 1)
    if tree == 'foreign lists':
        # mmaction2's build_file_list.py wrote one of the tool's lists.
        (root / 'ucf101_train_split_1_rawframes.txt'
         ).write_text('Archery/v_Archery_g03_c01 10 1\n')
        args, refusal = ['--lists-only'], 'this tool did not write'
    else:
        frames = root / 'rawframes' / 'Archery' / 'v_Archery_g03_c01'
        frames.mkdir(parents=True)
        (frames / 'img_00001.jpg').write_bytes(b'made by denseflow')
        args, refusal = ['--flow-algo', 'farneback'], 'not made by this tool'
    before = _files(root)
    dry_status, dry_out = _refusal(root, '--dry-run', *args)
    status, out = _refusal(root, *args)
    assert (dry_status, status) == (1, 1), dry_out + out
    assert refusal in dry_out and refusal in out
    assert _files(root) == before


def test_carve_with_a_larger_validation_part_is_refused_first(tmp_path):
    """3 training groups per class and the default 2 held out: refused,
    dry run or not, before anything is written."""
    root = tmp_path / 'ucf101'
    write_official_lists(str(root), DEFAULT_CLASSES, 4, 1)
    before = _files(root)
    for dry in ([], ['--dry-run']):
        status, out = _refusal(root, '--lists-only', *dry)
        assert status == 1, out
        assert ('split 1: holding out 2 of the 3 training groups of every '
                'class puts 6 clips into validation and leaves 3 for '
                'training: the validation part must be the smaller one; '
                'lower --holdout-groups') in out
    assert _files(root) == before


def test_a_tree_of_mmaction2_lists_is_sent_to_training(tmp_path):
    root = tmp_path / 'ucf101'
    write_mmaction2_tree(str(root))
    status, out = _refusal(root, '--lists-only')
    assert status == 1
    assert 'such a tree needs no preparation' in out
    assert f'tools/train.py configs/dr_ucf101.py --data-root {root}' in out
