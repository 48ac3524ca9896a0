"""tools/train.py and tools/test.py with configs/dr_cremad.py on the trees
CREMA-D users have, the data root the only data option: the D&R authors'
processed layout with the public train.csv / test.csv only and CREMA-D's
16 kHz WAV files, and OGM-GE's layout. The tools run in this process
(their ``main``, as the command line calls it) to keep the suite short;
the --cfg-options only shrink sizes. tools/analysis/check_data.py finds a
corrupt frame of OGM-GE's layout and writes the skip list the data set
then reads."""
import json
import os.path as osp
import runpy
import shutil
import sys

import pytest
from av_fixtures import (cremad_clip_names, write_cremad_authors_tree,
                         write_garbage, write_ogm_ge_cremad_tree)
from av_options import av_shrink_options
from conftest import REPO
from runs import read_tested_metrics, run_tool_main

#: 6 actors x 11 clips: test.csv 7, train.csv 59: the carve validates on 6
#: (10 %), one per emotion at least, as D&R's k-means (k = 6) needs.
CLIPS = cremad_clip_names(per_actor=11)
CONFIG = osp.join(REPO, 'configs', 'dr_cremad.py')


def _sizes(name):
    """Epochs, batches, crops, audio length, D&R after epoch 1, the best
    checkpoint only (each epoch's would be 270 MB): sizes only
    (num_workers=0 alone: the tools drop persistent_workers)."""
    return [
        option for option in av_shrink_options('dr_cremad.py')
        if 'persistent_workers' not in option
    ] + [
        f'{loader}_dataloader.batch_size=64'
        for loader in ('train', 'val', 'test')
    ] + [
        # One checkpoint (the best), without the optimiser's state.
        'default_hooks.checkpoint.interval=3',
        'default_hooks.checkpoint.save_last=False',
        'default_hooks.checkpoint.save_optimizer=False',
        f'experiment_name={name}'  # one logger per run in this process
    ]


@pytest.mark.slow
@pytest.mark.parametrize('layout', ['authors', 'ogm_ge'])
def test_train_and_test_with_the_data_root_only(layout, tmp_path, monkeypatch,
                                                capsys):
    root = str(tmp_path / 'cremad')
    if layout == 'authors':
        write_cremad_authors_tree(root, CLIPS)
        frames = 'visual/<clip>/frame_{:05d}.jpg (numbered from 1)'
        audio = 'audio/<clip>.wav'
    else:
        write_ogm_ge_cremad_tree(root, CLIPS)
        frames = 'Image-01-FPS/<clip>/*, read in name order (00000.jpg'
        audio = 'AudioWAV/<clip>.wav'
    work = tmp_path / 'work'
    _, log = run_tool_main('train.py', [
        CONFIG, '--data-root', root, '--work-dir', work, '--cfg-options',
        *_sizes(f'{layout}_train')
    ], monkeypatch, capsys)
    # Trained on 53 and validated on 6 clips carved out of train.csv.
    assert ('so the \'reference\' split trains and validates on the carve: '
            'our stratified carve of train.csv (seed 0): train 53 / val 6 '
            'clips') in log
    assert f'frames {frames}' in log
    assert f'audio {audio} (16000 Hz, resampled to 22050 Hz)' in log
    assert 'D&R diagnosis 1/3 after epoch 1 (53 train / 6 val samples' in log
    (record, ) = json.load(open(work / 'dr_history.json'))
    assert record['epoch'] == 1 and record['num_train_samples'] == 53
    assert set(record['modalities']) == {'audio', 'visual'}
    # tools/test.py on the selected checkpoint: test.csv's 7 clips.
    best = next(work.glob('best_acc_top1_epoch_*.pth'))
    _, log = run_tool_main('test.py', [
        CONFIG, best, '--data-root', root, '--work-dir', tmp_path / 'test',
        '--cfg-options', *_sizes(f'{layout}_test')
    ], monkeypatch, capsys)
    checkpoint, metrics = read_tested_metrics(log)
    assert checkpoint == str(best)
    assert {'acc/top1', 'f1/macro', 'f1/weighted'} <= set(metrics)
    correct = metrics['acc/top1'] * 7
    assert abs(correct - round(correct)) < 1e-6  # a share of 7 clips


def test_check_data_names_a_corrupt_frame_of_ogm_ge_layout(
        tmp_path, monkeypatch, capsys):
    root = str(tmp_path / 'cremad')
    lists = write_ogm_ge_cremad_tree(root, CLIPS[:12], test_share=0.5)
    clip = sorted(lists['test.csv'])[0]
    write_garbage(osp.join(root, 'Image-01-FPS', clip, '00030.jpg'))
    out = tmp_path / 'unreadable.txt'
    sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))
    check_data = runpy.run_path(
        osp.join(REPO, 'tools', 'analysis', 'check_data.py'))['main']
    status = check_data(
        [CONFIG, '--data-root', root, '--out',
         str(out), '--workers', '1'])
    log = capsys.readouterr().out
    assert status == 1
    assert f'{clip}: ' + osp.join(root, 'Image-01-FPS', clip,
                                  '00030.jpg') + ' (not a JPEG file)' in log
    with open(out) as f:
        entries = [line for line in f if not line.startswith('#')]
    assert len(entries) == 1 and entries[0].startswith(f'{clip}  # ')
    # The data set leaves the clip out when given the list.
    from mmengine.config import Config

    from mmdr.registry import DATASETS
    cfg = Config.fromfile(CONFIG).test_dataloader.dataset
    dataset = DATASETS.build(dict(cfg, data_root=root, skip_list=[str(out)]))
    assert len(dataset) == len(lists['test.csv']) - 1
    shutil.rmtree(root)
