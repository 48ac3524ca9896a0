"""CREMADDataset reads the reference layout and its split files as they are,
and fails at start-up on bad lists, naming file and line."""
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from prepared_clips import write_prepared_clips

from mmdr.datasets import CREMAD_CLASSES
from mmdr.registry import DATASETS
from mmdr.utils import register_all_modules

register_all_modules()

CLIPS = {
    '1001_DFA_ANG_XX': 3,
    '1001_IEO_HAP_LO': 2,
    '1002_DFA_NEU_XX': 3,
    '1002_TIE_SAD_XX': 4,
    '1003_IWW_FEA_XX': 3,
    '1003_MTI_DIS_XX': 2,
}


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('cremad'))
    write_prepared_clips(root, CLIPS)
    # The preparation tool's skip list (the configs read it), here empty.
    with open(osp.join(root, 'skipped.txt'), 'w') as f:
        f.write('# clips left out: none\n')
    rows = [f'{clip},{clip.split("_")[2]}\n' for clip in sorted(CLIPS)]
    # The authors' formats: train.csv / test.csv with a header, my_train /
    # val without, stat.csv with a byte-order mark.
    with open(osp.join(root, 'train.csv'), 'w') as f:
        f.writelines(['name,label\n'] + rows[:4])
    with open(osp.join(root, 'test.csv'), 'w') as f:
        f.writelines(['name,label\n'] + rows[4:])
    with open(osp.join(root, 'my_train.csv'), 'w') as f:
        f.writelines(rows[:3])
    with open(osp.join(root, 'val.csv'), 'w', encoding='utf-8-sig') as f:
        f.writelines(rows[3:4])
    with open(osp.join(root, 'stat.csv'), 'w', encoding='utf-8-sig') as f:
        f.writelines(f'{c}\n' for c in CREMAD_CLASSES)
    return root


def _build(root, **kwargs):
    return DATASETS.build(dict(type='CREMADDataset', data_root=root, **kwargs))


def test_reference_split_as_the_authors_files_give_it(root):
    train = _build(root)  # split='reference', subset='train'
    assert osp.basename(train.ann_file) == 'my_train.csv'
    assert [d['clip'] for d in train] == sorted(CLIPS)[:3]
    first = train.get_data_info(0)
    assert first['label'] == CREMAD_CLASSES.index('ANG')
    assert first['total_frames'] == 3
    assert first['frame_dir'] == osp.join(root, 'visual', '1001_DFA_ANG_XX')
    assert first['audio_path'] == osp.join(root, 'audio',
                                           '1001_DFA_ANG_XX.wav')
    assert first['modalities'] == ('audio', 'visual')
    # A byte-order mark does not leak into the first clip's name.
    val = _build(root, subset='val')
    assert [d['clip'] for d in val] == ['1002_TIE_SAD_XX']
    # The header row of test.csv is not a clip.
    test = _build(root, subset='test')
    assert [d['clip'] for d in test] == sorted(CLIPS)[4:]
    assert len(_build(root, ann_file='train.csv')) == 4


def test_splits_are_named(root):
    cls = DATASETS.get('CREMADDataset')
    assert cls.split_file('speaker', 'val') == 'mmdr_speaker_val.csv'
    assert cls.split_file('carve', 'test') == 'test.csv'
    with pytest.raises(ValueError, match="split='actors'.*reference"):
        _build(root, split='actors')
    with pytest.raises(ValueError, match="subset='dev'"):
        _build(root, subset='dev')


@pytest.mark.parametrize(
    'row, match',
    [('1001_DFA_ANG_XX,ANG,1', '3 columns'), ('1001_DFA_ANG_XX', '1 columns'),
     ('1001_DFA_ANG_XX,ANGRY', "unknown label 'ANGRY'"),
     ('1001_DFA_ANG_XX,HAP', "does not match label 'HAP'"),
     ('1002_DFA_NEU_XX,NEU\n1002_DFA_NEU_XX,NEU', 'listed twice')])
def test_bad_rows_fail_naming_file_and_line(root, tmp_path, row, match):
    ann = tmp_path / 'bad.csv'
    ann.write_text('name,label\n1003_IWW_FEA_XX,FEA\n' + row + '\n')
    with pytest.raises(ValueError, match=match) as err:
        _build(root, ann_file=str(ann))
    assert f'{ann}, line 3' in str(err.value) or 'line 4' in str(err.value)


def test_missing_files_fail_with_the_prepare_command(root, tmp_path):
    clip = '1004_DFA_ANG_XX'
    ann = tmp_path / 'list.csv'
    ann.write_text(f'{clip},ANG\n')
    with pytest.raises(FileNotFoundError) as err:
        _build(root, ann_file=str(ann))
    # Every missing file at once, with the annotation line.
    assert f"{ann}, line 1 ('{clip},ANG'): " + osp.join(
        root, 'visual', clip) + ' is missing' in str(err.value)
    assert osp.join(root, 'audio', clip + '.wav is missing') in str(err.value)
    assert 'prepare_cremad.py --root' in str(err.value)
    copy = str(tmp_path / 'copy')
    write_prepared_clips(copy, {clip: 1})
    with pytest.raises(ValueError, match='fewer than min_frames=2'):
        _build(copy, ann_file=str(ann), min_frames=2)
    with pytest.raises(FileNotFoundError, match=f'{clip}.pt is missing'):
        _build(copy, ann_file=str(ann), audio_suffix='.pt')


def test_config_pipelines_give_the_reference_shapes(root):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'dr_cremad.py'))
    for loader in ('train', 'test'):
        dataset_cfg = cfg[f'{loader}_dataloader'].dataset
        dataset_cfg.update(data_root=root)
        dataset = DATASETS.build(dataset_cfg)
        sample = dataset[0]
        inputs = sample['inputs']
        # Two 224 x 224 RGB frames; OGM-GE's 3 s log-STFT.
        assert tuple(inputs['visual'].shape) == (2, 3, 224, 224)
        assert tuple(inputs['audio'].shape) == (1, 257, 188)
        assert inputs['visual'].dtype.is_floating_point is False
        assert sample['data_samples'].gt_labels.item.item() == (
            dataset.get_data_info(0)['label'])
    # Segment centres at test time (mmaction2's SampleFrames): a 3-frame
    # clip has segments [0, 1.5) and [1.5, 3), centres 0.75 and 2.25 ->
    # frames 1 and 3.
    info = dataset.get_data_info(0)
    frames = dataset.pipeline.transforms[0].transforms[0](dict(info))
    assert np.array_equal(frames['frame_inds'], [1, 3])


def test_reference_fbank_files_are_read_as_they_are(root, tmp_path):
    copy = str(tmp_path / 'cremad')
    shutil.copytree(root, copy)
    rng = np.random.default_rng(0)
    files = {}
    for clip in CLIPS:
        # What the reference's .pt files hold: a float tensor (1024, 128).
        fbank = torch.from_numpy(
            rng.standard_normal((1024, 128)).astype(np.float32))
        torch.save(fbank, osp.join(copy, 'audio', f'{clip}.pt'))
        files[clip] = fbank
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets', 'cremad_fbank.py'))
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.update(data_root=copy)
    dataset = DATASETS.build(dataset_cfg)
    sample = dataset[0]
    clip = dataset.get_data_info(0)['clip']
    assert tuple(sample['inputs']['audio'].shape) == (1, 1024, 128)
    assert torch.equal(sample['inputs']['audio'][0], files[clip])
    assert tuple(sample['inputs']['visual'].shape) == (2, 3, 224, 224)


def test_cached_front_end_as_the_config_comment_shows(root, tmp_path):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'dr_cremad.py'))
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.update(data_root=root)
    plain = DATASETS.build(dataset_cfg)
    pipeline = list(dataset_cfg.pipeline)
    visual, frontend, pack = pipeline[0], pipeline[1:-1], pipeline[-1]
    cache = tmp_path / 'cache'

    def cached(frontend):
        cached_cfg = dict(
            dataset_cfg,
            pipeline=[
                visual,
                dict(
                    type='CachedAudioFeature',
                    cache_dir=str(cache),
                    transforms=frontend), pack
            ])
        return DATASETS.build(cached_cfg)

    for _ in range(2):  # computed, then read back
        sample = cached(frontend)[1]['inputs']['audio']
        assert torch.equal(sample, plain[1]['inputs']['audio'])
    (folder, ) = cache.iterdir()
    assert (folder / 'settings.json').is_file()
    # Another hop is another folder: nothing stale is read.
    other = [dict(frontend[0]), dict(frontend[1], hop_length=512)]
    assert tuple(cached(other)[1]['inputs']['audio'].shape) == (1, 257, 130)
    assert len(list(cache.iterdir())) == 2
