"""tools/data/vggsound/prepare_vggsound.py: vggsound.csv as released, the
clips as the public copies name them; then tools/train.py and
tools/test.py on the prepared tree (slow)."""
import json
import os.path as osp
import sys

import pytest
from conftest import REPO
from prepared_lists import list_rows, skipped_entries, train_and_test
from runs import run_tool

from mmdr.testing.av_clips import (KS_FPS, VGGSOUND_CLASSES,
                                   write_vggsound_clips)

sys.path.insert(0, osp.join(REPO, 'tools', 'data', 'vggsound'))
import prepare_vggsound as tool  # noqa: E402

TOOL = 'data/vggsound/prepare_vggsound.py'


def test_reads_vggsound_csv(tmp_path):
    path = tmp_path / 'vggsound.csv'
    path.write_text('# YouTube ID,start seconds,label,split\n'
                    '---g-f_I2yQ,1,people marching,test\n'
                    'a_b,30,"cattle, bovinae cowbell",train\n'
                    'a_b,40,dog barking,train\n\n')
    clips, rows = tool.read_annotations([str(path)])
    assert rows == 3 and clips == {
        '---g-f_I2yQ_000001': ('people marching', 'test'),
        'a_b_000030': ('cattle, bovinae cowbell', 'train'),
        'a_b_000040': ('dog barking', 'train')
    }
    assert tool.videos_in_both_splits({
        **clips, 'a_b_000050': ('dog barking', 'test')
    }) == ['a_b']
    for text, match in (
        ('x,1,dog barking,train\nx,1,dog barking,test\n',
         r'line 2: clip x_000001 is .*line 1 says'),
        ('x,1,dog barking,val\n', 'split must be train or test'),
        ('x,1,dog barking\n', '3 columns'),
        ('x,1,dog,train\ny,z,dog,train\n', "line 2: start seconds 'z'"),
    ):
        path.write_text(text)
        with pytest.raises(SystemExit, match=match):
            tool.read_annotations([str(path)])


@pytest.mark.slow
def test_prepares_the_release_and_reports_missing_clips(tmp_path):
    info = write_vggsound_clips(
        str(tmp_path / 'videos'), str(tmp_path / 'vggsound.csv'))
    out = tmp_path / 'vggsound'
    result = run_tool(TOOL, '--videos', tmp_path / 'videos', '--annotations',
                      tmp_path / 'vggsound.csv', '--out', out, '--workers',
                      '1', '--val-size', '3')
    assert result.returncode == 0, result.stdout + result.stderr
    log = result.stdout
    assert ('Annotations: 15 rows, 15 clips (12 train, 3 test) of 3 classes'
            in log)
    assert ('14 of the 15 train/test clips found, 1 missing' in log)
    assert ('Summary: 15 train/test clips annotated, 13 prepared, 2 skipped '
            '(1 missing), 0 failed.') in log
    assert 'WARNING: 2 clip(s) skipped' in log
    assert skipped_entries(out) == {
        info['missing']: 'missing: no video file under --videos',
        info['no_audio']: f'{info["no_audio"]}.mp4: no audio track'
    }
    with open(out / 'stat.txt') as f:
        assert tuple(f.read().splitlines()) == VGGSOUND_CLASSES
    rows = {
        n: list_rows(out / f'mmdr_{n}.txt')
        for n in ('train', 'test', 'carve_train', 'carve_val')
    }
    prepared = {
        n: v
        for n, v in info['clips'].items()
        if n not in (info['missing'], info['no_audio'])
    }
    for split in ('train', 'test'):
        assert [r[0] for r in rows[split]
                ] == sorted(n for n, (_, s) in prepared.items() if s == split)
    for name, frames, label in rows['train'] + rows['test']:
        # 1-fps frames of the 3 to 4 s clip.
        assert int(frames) == (round(info['seconds'][name] * KS_FPS) -
                               1) // KS_FPS + 1
        assert VGGSOUND_CLASSES[int(label)] == prepared[name][0]
    assert sorted(rows['carve_train'] + rows['carve_val']) == rows['train']
    # 3 YouTube videos, one a class; a video's clips stay together.
    val_videos = {n.rsplit('_', 1)[0] for n, _, _ in rows['carve_val']}
    assert len(val_videos) == 3
    assert not val_videos & {
        n.rsplit('_', 1)[0]
        for n, _, _ in rows['carve_train']
    }
    meta = json.load(open(out / 'mmdr_vggsound_prepare.json'))
    assert meta['clips'] == dict(
        annotated=15,
        train_test=15,
        missing=1,
        prepared=13,
        skipped=2,
        failed=0)
    assert meta['carve']['unit'] == 'YouTube videos'
    assert meta['videos_in_train_and_test'] == []
    rerun = run_tool(TOOL, '--videos', tmp_path / 'videos', '--annotations',
                     tmp_path / 'vggsound.csv', '--out', out, '--workers', '1',
                     '--val-size', '3', '--strict')
    assert rerun.returncode == 1
    assert 'Plan: 14 clips: 13 already done, 1 to prepare' in rerun.stdout


@pytest.mark.slow
def test_train_and_test_on_the_prepared_tree(vggsound_root, tmp_path):
    """As a user types it: tools/train.py --data-root, then tools/test.py
    (jt_vggsound.py is this config less D&R: test_all_configs.py)."""
    train_and_test('dr_vggsound.py', vggsound_root, tmp_path)
