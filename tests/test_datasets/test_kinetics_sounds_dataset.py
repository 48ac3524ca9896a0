"""KineticsSoundsDataset reads the split lists of this line of work
(``<name>,<n>,<label>``) and the prepared layout, and fails at start-up on
bad lists, naming file and line."""
import os.path as osp

import pytest
from conftest import REPO
from mmengine.config import Config
from prepared_clips import write_prepared_clips

from mmdr.datasets import KINETICS_SOUNDS_CLASSES
from mmdr.registry import DATASETS
from mmdr.utils import register_all_modules

register_all_modules()

# Names as Kinetics downloaders write them: the id may hold '_' and '-'.
CLIPS = {
    '--4-0ihtnBU_000058_000068': 3,
    '-00nar1nEPc_000033_000043': 4,
    'a_b-c_000001_000011': 3,
}


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ks'))
    write_prepared_clips(root, CLIPS, sample_rate=16000, seconds=3.0)
    with open(osp.join(root, 'skipped.txt'), 'w') as f:
        f.write('# none\n')
    names = sorted(CLIPS)
    for name, rows in (('mmdr_carve_train.txt', [
        (names[0], 4), (names[1], 30)
    ]), ('mmdr_carve_val.txt', [(names[2], 0)]),
                       ('my_test.txt', [(names[1], 30), (names[2], 0)])):
        with open(osp.join(root, name), 'w') as f:
            f.writelines(f'{clip},10,{label}\n' for clip, label in rows)
    return root


def _build(root, **kwargs):
    return DATASETS.build(
        dict(type='KineticsSoundsDataset', data_root=root, **kwargs))


def test_reads_the_lists_of_this_line_of_work(root):
    assert len(KINETICS_SOUNDS_CLASSES) == 31
    train = _build(root)
    assert [(d['clip'], d['label'])
            for d in train] == [('--4-0ihtnBU_000058_000068', 4),
                                ('-00nar1nEPc_000033_000043', 30)]
    assert train.get_data_info(1)['total_frames'] == 4
    assert [d['clip']
            for d in _build(root, subset='val')] == ['a_b-c_000001_000011']
    assert len(_build(root, subset='test')) == 2
    assert _build(root).metainfo['classes'][4] == 'dribbling basketball'


@pytest.mark.parametrize('row, match', [
    ('--4-0ihtnBU_000058_000068,4', '2 columns'),
    ('--4-0ihtnBU_000058_000068,10,31', 'unknown label 31'),
    ('--4-0ihtnBU_000058_000068,10,drums', 'must be an integer'),
])
def test_bad_rows_fail_naming_file_and_line(root, tmp_path, row, match):
    ann = tmp_path / 'bad.txt'
    ann.write_text('a_b-c_000001_000011,10,1\n' + row + '\n')
    with pytest.raises(ValueError, match=match) as err:
        _build(root, ann_file=str(ann))
    assert f'{ann}, line 2' in str(err.value)


def test_missing_clip_names_the_prepare_command(root, tmp_path):
    ann = tmp_path / 'list.txt'
    ann.write_text('zzz_000000_000010,10,1\n')
    with pytest.raises(FileNotFoundError, match='frame folder') as err:
        _build(root, ann_file=str(ann))
    assert 'prepare_kinetics_sounds.py' in str(err.value)


def test_config_pipelines_give_the_reference_shapes(root):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'dr_kinetics_sounds.py'))
    for loader in ('train', 'test'):
        dataset_cfg = cfg[f'{loader}_dataloader'].dataset
        dataset_cfg.update(data_root=root)
        inputs = DATASETS.build(dataset_cfg)[0]['inputs']
        # Three frames; the 1,024 x 128 filterbank.
        assert tuple(inputs['visual'].shape) == (3, 3, 224, 224)
        assert tuple(inputs['audio'].shape) == (1, 1024, 128)


def test_skip_list_leaves_clips_out(root, tmp_path):
    ann = tmp_path / 'list.txt'
    ann.write_text('gone_000000_000010,10,1\na_b-c_000001_000011,10,2\n')
    skip = tmp_path / 'skipped.txt'
    skip.write_text('# clips left out\n'
                    'gone_000000_000010  # missing: no video file\n')
    dataset = _build(root, ann_file=str(ann), skip_list=str(skip))
    assert [d['clip'] for d in dataset] == ['a_b-c_000001_000011']
    with pytest.raises(FileNotFoundError, match='skip_list .*nowhere.txt'):
        _build(root, ann_file=str(ann), skip_list='nowhere.txt')
