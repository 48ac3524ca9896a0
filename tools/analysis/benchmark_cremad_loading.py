"""Measure how fast the CREMA-D training pipeline loads clips, for both
audio front-ends, computed on the fly and cached.

Builds the training data set of ``configs/dr_cremad.py`` (2 frames per
clip, RandomResizedCrop to 224 x 224, flip) on a prepared tree and times a
data loader over it with 1 worker (clips/s per worker; loading scales with
workers until the cores or the disk are saturated), once per audio
front-end:

- ``log-STFT``: the config's OGM-GE recipe from ``audio/<clip>.wav``
  (22,050 Hz, 3 s, 257 x 188), on the fly and through
  ``CachedAudioFeature`` (warm: the cache is filled by a first pass);
- ``fbank``: the 128-bin Kaldi filterbank (1,024 frames) from the same
  WAV files (resampled to 16 kHz), on the fly and cached, and read from the
  reference's precomputed ``audio/<clip>.pt`` files (``LoadAudioFeatureFile``;
  the tree must be prepared with ``--audio both`` or ``fbank``).

Example:
    python tools/analysis/benchmark_cremad_loading.py \
        --data-root data/cremad --batches 20
"""
import argparse
import copy
import tempfile

import torch
from benchmark_ucf101_loading import time_loader
from mmengine.config import Config

from mmdr.registry import DATASETS
from mmdr.utils import register_all_modules

FBANK = [
    dict(type='LoadWaveform', sample_rate=16000, duration=None, resample=True),
    dict(type='KaldiFbank', num_mel_bins=128, target_length=1024)
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='CREMA-D data loading throughput')
    parser.add_argument('--config', default='configs/dr_cremad.py')
    parser.add_argument('--data-root', default='data/cremad')
    parser.add_argument(
        '--split', default='reference', help='named split of the lists')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument(
        '--batches', type=int, default=20, help='batches timed per run')
    parser.add_argument('--workers', type=int, default=1)
    return parser.parse_args()


def with_audio(dataset_cfg: dict,
               frontend: list,
               suffix: str = '.wav',
               cache_dir: str = None) -> dict:
    """The data set with another audio front-end (optionally cached)."""
    cfg = copy.deepcopy(dataset_cfg)
    if cache_dir is not None:
        frontend = [
            dict(
                type='CachedAudioFeature',
                cache_dir=cache_dir,
                transforms=frontend)
        ]
    visual, pack = cfg['pipeline'][0], cfg['pipeline'][-1]
    cfg['pipeline'] = [visual, *frontend, pack]
    cfg['audio_suffix'] = suffix
    return cfg


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.update(data_root=args.data_root, split=args.split)
    stft = dataset_cfg['pipeline'][1:-1]
    print(f'config {args.config}, {args.data_root}, batch '
          f'{args.batch_size}, {args.batches} batches, {args.workers} '
          f'worker(s), torch threads {torch.get_num_threads()}')
    print('| audio front-end | source | clips/s per worker |\n|---|---|---|')
    with tempfile.TemporaryDirectory() as cache:
        variants = [
            ('log-STFT', 'on the fly', with_audio(dataset_cfg, stft), False),
            ('log-STFT', 'cached (warm)',
             with_audio(dataset_cfg, stft, cache_dir=cache), True),
            ('fbank', 'on the fly', with_audio(dataset_cfg, FBANK), False),
            ('fbank', 'cached (warm)',
             with_audio(dataset_cfg, FBANK, cache_dir=cache), True),
            ('fbank', 'reference .pt files',
             with_audio(dataset_cfg, [dict(type='LoadAudioFeatureFile')],
                        '.pt'), False),
        ]
        for frontend, source, ds, warm_up in variants:
            if warm_up:  # one pass over the clips fills the cache
                dataset = DATASETS.build(copy.deepcopy(ds))
                for index in range(len(dataset)):
                    dataset[index]
            rate = time_loader(ds, args) / args.workers
            print(f'| {frontend} | {source} | {rate:.1f} |')


if __name__ == '__main__':
    main()
