"""What every mmdr data set does with bad files (BaseMultiModalDataset):
cheap checks at start-up, and a failing sample named with its files, its
annotation line and the way to find and leave out every such file; shown on
AV-Digits as tools/data/avdigits/prepare_avdigits.py writes it."""
import os.path as osp
import re
import shutil

import pytest
from av_fixtures import truncate_file, write_garbage
from mmengine.config import Config
from mmengine.runner import Runner

from mmdr.datasets import SampleLoadError
from mmdr.datasets.base_multimodal_dataset import read_skip_lists
from mmdr.registry import DATASETS
from mmdr.utils import register_all_modules

register_all_modules()

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _dataset(root, ann_file='train.txt', **kwargs):
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets', 'avdigits.py'))
    dataset = dict(cfg.train_dataloader.dataset)
    dataset.update(data_root=root, ann_file=ann_file, **kwargs)
    return DATASETS.build(dataset)


@pytest.fixture
def root(avdigits_root, tmp_path):
    # A copy: the session fixture is shared and must stay intact.
    return shutil.copytree(avdigits_root, str(tmp_path / 'avdigits'))


def _line(root, ann_file, index):
    with open(osp.join(root, ann_file)) as f:
        return f.read().splitlines()[index]


def test_failing_sample_names_file_line_and_remedy(root):
    dataset = _dataset(root)
    info = dataset.get_data_info(3)
    write_garbage(info['img_path'])
    with pytest.raises(SampleLoadError) as err:
        dataset[3]
    message = str(err.value)
    assert message.startswith('AVDigitsDataset: sample 3 (')
    # The annotation line: file, number and text.
    ann = osp.join(root, 'train.txt')
    assert f'from {ann}, line 4 ({_line(root, "train.txt", 3)!r})' in message
    # The file that does not decode, found by decoding the sample's files.
    assert (f'unreadable: {info["img_path"]} (cannot be decoded as an '
            'image (OpenCV))') in message
    # The command that finds every such file; AV-Digits is generated, so
    # its files are made again rather than left out.
    assert message.endswith(
        'To go on, find every unreadable file at once with "python '
        f'tools/analysis/check_data.py CONFIG --data-root {root}" and prepare '
        'them again (python tools/data/avdigits/prepare_avdigits.py --out '
        f'{root}).')
    # The pipeline's own error is the cause, for the traceback.
    assert isinstance(err.value.__cause__, Exception)
    # Other samples still load.
    assert dataset[2]['inputs']['visual'].shape == (1, 8, 8)


def test_failing_sample_through_a_worker(root):
    """A loader's worker re-raises the error in the main process, with the
    message: what a user sees in training, validation and diagnosis."""
    dataset = _dataset(root)
    bad = dataset.get_data_info(1)['audio_path']
    write_garbage(bad)
    loader = Runner.build_dataloader(
        dict(
            batch_size=2,
            num_workers=1,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dataset))
    batches = iter(loader)
    with pytest.raises(SampleLoadError, match=re.escape(bad)):
        next(batches)
    batches._shutdown_workers()


def test_pipeline_failure_with_readable_files(root):
    dataset = _dataset(root)
    # A transform that fails whatever the files hold.
    dataset.pipeline.transforms.insert(0, lambda results: results['nope'])
    with pytest.raises(
            SampleLoadError,
            match=r'KeyError: .nope.\); every file of the sample decodes, so '
            'the pipeline itself failed on it'):
        dataset[0]


def test_start_up_checks_every_file(root):
    dataset = _dataset(root)
    wav = dataset.get_data_info(5)['audio_path']
    png = dataset.get_data_info(7)['img_path']
    with open(png, 'wb'):
        pass  # an empty file
    truncate_file(wav, 0.5)
    with pytest.raises(FileNotFoundError) as err:
        _dataset(root)
    message = str(err.value)
    ann = osp.join(root, 'train.txt')
    assert message.startswith('AVDigitsDataset: 2 of the 40 files named by '
                              f'{ann} are unusable:\n')
    assert (f'{ann}, line 6 ({_line(root, "train.txt", 5)!r}): {wav} is '
            'truncated WAV: its header declares') in message
    assert (f'{ann}, line 8 ({_line(root, "train.txt", 7)!r}): {png} is '
            'empty (0 bytes)') in message
    assert message.endswith('Regenerate the data set with: python '
                            f'tools/data/avdigits/prepare_avdigits.py --out '
                            f'{root} --overwrite')
    # check_files=False builds it (tools/analysis/check_data.py does).
    assert len(_dataset(root, check_files=False)) == 20


def test_read_skip_lists_merges(tmp_path):
    first = tmp_path / 'skipped.txt'
    first.write_text('# a header\nA/clip1.avi  # corrupt\nA/clip2\n')
    second = tmp_path / 'unreadable.txt'
    second.write_text('B/clip3  # img_00004.jpg (truncated JPEG)\n')
    assert read_skip_lists(str(first)) == {'A/clip1': 'corrupt', 'A/clip2': ''}
    assert read_skip_lists([str(first), str(second)]) == {
        'A/clip1': 'corrupt',
        'A/clip2': '',
        'B/clip3': 'img_00004.jpg (truncated JPEG)'
    }
    assert read_skip_lists(None) == {}
