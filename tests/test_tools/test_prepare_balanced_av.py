"""tools/data/balanced_av/prepare_balanced_av.py: the release's annotation
json and clips; then tools/train.py and tools/test.py on the prepared tree
(slow)."""
import json
import os.path as osp
import sys

import pytest
from conftest import REPO
from prepared_lists import list_rows, skipped_entries, train_and_test
from runs import run_tool

from mmdr.testing.av_clips import (BALANCED_AV_CLASSES,
                                   write_balanced_av_clips)

sys.path.insert(0, osp.join(REPO, 'tools', 'data', 'balanced_av'))
import prepare_balanced_av as tool  # noqa: E402

TOOL = 'data/balanced_av/prepare_balanced_av.py'


def test_reads_the_annotation_json(tmp_path):
    path = tmp_path / 'ann.json'
    database = {
        'a_000001_000011': dict(subset='training', label='singing'),
        'b': dict(subset='testing', label='bowling'),
        'c': dict(subset='validation', label='singing')
    }
    path.write_text(
        json.dumps(dict(labels=['bowling', 'singing'], database=database)))
    assert tool.read_annotations(str(path)) == (['bowling', 'singing'], {
        'a_000001_000011': (1, 'train'),
        'b': (0, 'test'),
        'c': (1, 'val')
    })
    for data, match in (
        (dict(labels=['x'], database={'a': dict(subset='train', label='x')}),
         "clip a: subset 'train', expected one of training"),
        (dict(labels=['x'], database={'a': dict(subset='testing')}),
         "clip a: label None is not in \"labels\""),
        (dict(labels=['x', 'x'], database={}), 'names a class twice'),
        (dict(database={}), 'not a BalancedAV annotation file'),
    ):
        path.write_text(json.dumps(data))
        with pytest.raises(SystemExit, match=match):
            tool.read_annotations(str(path))


@pytest.mark.slow
def test_prepares_the_release_and_reports_missing_clips(tmp_path):
    info = write_balanced_av_clips(
        str(tmp_path / 'videos'), str(tmp_path / 'ann.json'))
    out = tmp_path / 'balanced_av'
    result = run_tool(TOOL, '--videos', tmp_path / 'videos', '--annotations',
                      tmp_path / 'ann.json', '--out', out, '--workers', '1')
    assert result.returncode == 0, result.stdout + result.stderr
    assert ('Annotations: 18 clips (12 training, 3 testing, 3 validation: '
            'not prepared) of 3 classes') in result.stdout
    assert ('Summary: 15 train/test clips annotated, 13 prepared, 2 skipped '
            '(1 missing), 0 failed.') in result.stdout
    assert skipped_entries(out) == {
        info['missing']: 'missing: no video file under --videos',
        info['no_audio']: f'{info["no_audio"]}.mp4: no audio track'
    }
    with open(out / 'stat.txt') as f:
        assert tuple(f.read().splitlines()) == BALANCED_AV_CLASSES
    for split, subset in (('train', 'training'), ('test', 'testing')):
        rows = list_rows(out / f'mmdr_{split}.txt')
        assert [r[0] for r in rows] == sorted(
            n for n, (_, s) in info['clips'].items()
            if s == subset and n not in (info['missing'], info['no_audio']))
        for name, _, label in rows:
            assert BALANCED_AV_CLASSES[int(label)] == info['clips'][name][0]
    carved = [
        r[0] for n in ('train', 'val')
        for r in list_rows(out / f'mmdr_carve_{n}.txt')
    ]
    assert sorted(carved) == [r[0] for r in list_rows(out / 'mmdr_train.txt')]
    meta = json.load(open(out / 'mmdr_balanced_av_prepare.json'))
    assert meta['clips'] == dict(
        annotated=18,
        train_test=15,
        missing=1,
        prepared=13,
        skipped=2,
        failed=0)
    assert meta['carve']['val_size'] == 1  # 10 % of 11 videos


@pytest.mark.slow
def test_train_and_test_on_the_prepared_tree(balanced_av_root, tmp_path):
    """As a user types it: tools/train.py --data-root, then tools/test.py
    (jt_balanced_av.py is this config less D&R: test_all_configs.py)."""
    train_and_test('dr_balanced_av.py', balanced_av_root, tmp_path)
