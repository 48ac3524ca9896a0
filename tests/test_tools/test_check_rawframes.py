"""tools/data/ucf101/check_rawframes.py on a copy of ``ucf101_root``, its
``main`` run as the command line would (``conftest.run_ucf101_tool``)."""
import os
import os.path as osp
import shutil

import pytest
from conftest import run_ucf101_tool

ANN = 'ucf101_train_split_1_rawframes.txt'
MISSING = 'Archery/v_Archery_g03_c01'
SHORT_RGB = 'ApplyEyeMakeup/v_ApplyEyeMakeup_g03_c02'
SHORT_FLOW = 'ApplyEyeMakeup/v_ApplyEyeMakeup_g04_c01'
CORRUPT = 'HandstandPushups/v_HandStandPushups_g03_c01'
EMPTY = 'HandstandPushups/v_HandStandPushups_g04_c02'


def _check(ann, *extra):
    return run_ucf101_tool('check_rawframes', ann, *extra)


def _skip_list(path):
    """(entry, comment) of every entry line; comment lines dropped."""
    entries = []
    with open(path) as f:
        for line in f:
            entry, _, comment = line.partition('#')
            if entry.strip():
                entries.append((entry.strip(), comment.strip()))
    return entries


@pytest.fixture(scope='module')
def broken_root(ucf101_root, tmp_path_factory):
    """The fixture tree with one clip of every kind of damage."""
    root = str(tmp_path_factory.mktemp('check') / 'ucf101')
    shutil.copytree(ucf101_root, root)
    frames = osp.join(root, 'rawframes')
    shutil.rmtree(osp.join(frames, MISSING))
    os.remove(osp.join(frames, SHORT_RGB, 'img_00012.jpg'))
    os.remove(osp.join(frames, SHORT_FLOW, 'flow_y_00011.jpg'))
    jpeg = osp.join(frames, CORRUPT, 'flow_x_00004.jpg')
    with open(jpeg, 'r+b') as f:
        f.truncate(osp.getsize(jpeg) // 2)
    open(osp.join(frames, EMPTY, 'img_00003.jpg'), 'w').close()
    return root


def test_clean_tree_passes(ucf101_root, tmp_path):
    out = tmp_path / 'skip.txt'
    # One worker when decoding: spawned workers would each import mmdr
    # (file_checks) again; the pool is tested without --decode below.
    result = _check(
        osp.join(ucf101_root, ANN), '--decode', '--workers', '1', '--out',
        str(out))
    assert result.returncode == 0, result.stderr
    assert '24 of 24 clips pass, 0 fail' in result.stdout
    assert _skip_list(out) == []
    assert all(line.startswith('#') for line in open(out))


def test_detects_every_kind(broken_root):
    ann = osp.join(broken_root, ANN)
    result = _check(ann, '--decode', '--workers', '1')
    assert result.returncode == 0, result.stderr  # a warning, not an error
    assert ('19 of 24 clips pass, 5 fail (missing folder: 1, short RGB: 1, '
            'short flow: 1, empty file: 1, corrupt JPEG: 1)') in result.stdout
    skipped = dict(_skip_list(osp.join(broken_root, ANN[:-4] + '_skip.txt')))
    assert skipped == {
        MISSING: 'missing frame folder',
        SHORT_RGB: 'RGB: 11 of 12 frames (first missing img_00012.jpg)',
        SHORT_FLOW: 'flow_y: 10 of 11 frames (first missing '
        'flow_y_00011.jpg)',
        CORRUPT: '1 corrupt JPEG(s): flow_x_00004.jpg (truncated JPEG)',
        EMPTY: 'RGB: 1 empty file(s) (first img_00003.jpg)',
    }

    # Without --decode only names and sizes are checked.
    out = osp.join(broken_root, 'fast.txt')
    result = _check(ann, '--workers', '2', '--out', out, '--strict')
    assert result.returncode == 1  # --strict
    assert {e
            for e, _ in _skip_list(out)
            } == {MISSING, SHORT_RGB, SHORT_FLOW, EMPTY}


def test_min_frames_and_no_flow(broken_root, tmp_path):
    ann = osp.join(broken_root, 'mmdr_ucf101_holdout_split_1_rawframes.txt')
    out = tmp_path / 'skip.txt'
    result = _check(ann, '--min-frames', '13', '--workers', '1', '--out',
                    str(out), '--no-flow')
    assert result.returncode == 0, result.stderr
    entries = _skip_list(out)
    assert len(entries) == 6
    assert all(c == '12 frames, fewer than --min-frames 13'
               for _, c in entries)
    result = _check(ann, '--min-frames', '12', '--out', str(out))
    assert '6 of 6 clips pass' in result.stdout


def test_malformed_annotation(tmp_path):
    ann = tmp_path / 'bad.txt'
    ann.write_text('Archery/v_Archery_g01_c01 twelve 1\n')
    result = _check(ann)
    assert result.returncode == 2
    assert 'line 1' in result.stderr
