"""VGGSoundDataset and BalancedAVDataset read the lists their preparation
tools write (``<name>,<n>,<label>``, classes in ``stat.txt``), carve
validation by whole YouTube video as the tools do, and fail at start-up on
bad lists, naming file and line."""
import argparse
import os.path as osp

import pytest
from log_capture import captured_log
from prepared_clips import write_prepared_clips

from mmdr.preparation.clip_lists import make_lists
from mmdr.registry import DATASETS
from mmdr.utils import register_all_modules

register_all_modules()

CLASSES = ('cattle, bovinae cowbell', 'dog barking', 'people marching')
# Two clips of one YouTube video (an id holding '_' and '-') per label.
TRAIN = {
    f'{video}_{start:06d}': label
    for label, videos in enumerate((('a-b_c1', 'd2'), ('e3', 'f-4'), ('g_5',
                                                                      'h6')))
    for video in videos
    for start in (0, 30)
}
TEST = {'t1_000005': 0, 't2_000007': 2}
DATA_SETS = ('VGGSoundDataset', 'BalancedAVDataset')


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    """The prepared layout, without the carve's lists."""
    root = str(tmp_path_factory.mktemp('yt'))
    write_prepared_clips(
        root, {n: 3
               for n in {
                   **TRAIN,
                   **TEST
               }},
        sample_rate=16000,
        seconds=1.0,
        size=(24, 32))
    for name, rows in (('mmdr_train.txt', TRAIN), ('mmdr_test.txt', TEST)):
        with open(osp.join(root, name), 'w') as f:
            f.writelines(f'{clip},3,{label}\n'
                         for clip, label in sorted(rows.items()))
    with open(osp.join(root, 'stat.txt'), 'w') as f:
        f.writelines(f'{name}\n' for name in CLASSES)
    return root


def _clips(dataset):
    return [dataset.get_data_info(i)['clip'] for i in range(len(dataset))]


@pytest.mark.parametrize('data_set', DATA_SETS)
def test_carve_in_memory_is_the_tools_and_keeps_videos_whole(data_set, root):
    with captured_log() as records:
        sets = {
            subset:
            DATASETS.build(dict(type=data_set, data_root=root, subset=subset))
            for subset in ('train', 'val', 'test')
        }
    log = '\n'.join(r.getMessage() for r in records)
    assert (f'mmdr_carve_train.txt and mmdr_carve_val.txt are not in {root}: '
            'our stratified carve of mmdr_train.txt (seed 0): train 10 / '
            'val 2 clips (10 % of the YouTube videos)') in log
    assert sets['train'].metainfo['classes'] == CLASSES
    assert _clips(sets['test']) == sorted(TEST)
    # What prepare_<set>.py writes for the same clips.
    lists, record = make_lists(
        argparse.Namespace(seed=0, val_size=None), {
            **{
                n: (label, 'train')
                for n, label in TRAIN.items()
            },
            **{
                n: (label, 'test')
                for n, label in TEST.items()
            }
        },
        None, {n: 3
               for n in {
                   **TRAIN,
                   **TEST
               }},
        splits=('train', 'test'),
        by_video=True)
    assert record['val_size'] == 1 and record['unit'] == 'YouTube videos'
    for subset in ('train', 'val'):
        assert _clips(sets[subset]) == [
            n for n, _, _ in lists[f'mmdr_carve_{subset}.txt']
        ]
    val_videos = {n.rsplit('_', 1)[0] for n in _clips(sets['val'])}
    assert len(val_videos) == 1
    assert not val_videos & {
        n.rsplit('_', 1)[0]
        for n in _clips(sets['train'])
    }


@pytest.mark.parametrize('data_set', DATA_SETS)
def test_bad_rows_and_missing_classes_fail_naming_the_file(
        data_set, root, tmp_path):
    ann = tmp_path / 'bad.txt'
    ann.write_text('t1_000005,3,1\nt2_000007,3,3\n')
    with pytest.raises(
            ValueError, match='unknown label 3; the classes are '
            '0..2') as err:
        DATASETS.build(dict(type=data_set, data_root=root, ann_file=str(ann)))
    assert f'{ann}, line 2' in str(err.value)
    ann.write_text('t1_000005,1\n')
    with pytest.raises(ValueError, match='2 columns, a .* split row is '):
        DATASETS.build(dict(type=data_set, data_root=root, ann_file=str(ann)))
    tool = 'prepare_vggsound.py' if data_set.startswith(
        'VGG') else 'prepare_balanced_av.py'
    with pytest.raises(
            FileNotFoundError,
            match=f'{tmp_path}/stat.txt .*is missing; prepare the data set '
            f'with: python tools/data/.*/{tool}'):
        DATASETS.build(dict(type=data_set, data_root=str(tmp_path)))


def test_skipped_clips_are_left_out_with_a_count(root, tmp_path):
    ann = tmp_path / 'list.txt'
    ann.write_text('gone_000000,10,1\nt1_000005,3,0\n')
    skip = tmp_path / 'skipped.txt'
    skip.write_text('# clips left out\n'
                    'gone_000000  # missing: no video file under --videos\n')
    with captured_log() as records:
        dataset = DATASETS.build(
            dict(
                type='VGGSoundDataset',
                data_root=root,
                ann_file=str(ann),
                skip_list=str(skip)))
    assert _clips(dataset) == ['t1_000005']
    assert any('1 of the 2 clips' in r.getMessage()
               and "['gone_000000']" in r.getMessage() for r in records)
