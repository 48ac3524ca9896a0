"""Measure how fast the UCF-101 RGB + flow training pipeline loads clips.

Builds the training data set of a UCF-101 config (by default
``configs/dr_ucf101.py``: 3 segments, RGB frame + 5 flow pairs each,
MultiScaleCrop to 224 x 224, flip) on a prepared tree, and times a data
loader over it with 1 worker (clips/s per worker; data loading scales with
workers until the CPU cores or the disk are saturated), for:

- ``rawframes``: RGB and flow JPEGs (the configs' default);
- ``videos``: RGB decoded from the ``.avi`` with decord at the same segment
  positions, flow from the rawframes (flow cannot be decoded from videos).

It also times one training step of the model on the CPU at the pipeline's
resolution (``--model-step``), and prints how many workers would feed a
device at a given step rate (``--device-clips-per-s``).

Example:
    python tools/analysis/benchmark_ucf101_loading.py \
        --data-root data/ucf101 --batches 20
"""
import argparse
import copy
import time

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmdr.registry import MODELS
from mmdr.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='UCF-101 data loading throughput')
    parser.add_argument(
        '--config', default='configs/dr_ucf101.py', help='a UCF-101 config')
    parser.add_argument('--data-root', default='data/ucf101')
    parser.add_argument(
        '--split', type=int, default=1, help='official split of the lists')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument(
        '--batches', type=int, default=20, help='batches timed per run')
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument(
        '--num-classes',
        type=int,
        help='classes of the tree, if not 101 (a synthetic tree)')
    parser.add_argument(
        '--model-step',
        action='store_true',
        help='also time one CPU training step of the model')
    parser.add_argument(
        '--device-clips-per-s',
        type=float,
        help='a device step rate in clips/s, to size the workers')
    return parser.parse_args()


def video_variant(dataset_cfg: dict) -> dict:
    """The same data set reading RGB from the videos."""
    cfg = copy.deepcopy(dataset_cfg)
    cfg['data_format'] = 'videos'
    cfg['ann_file'] = cfg['ann_file'].replace('_rawframes.txt', '_videos.txt')
    rgb = cfg['pipeline'][1]
    # SelectClipFrames, RawFrameDecode -> DecordInit, shifted selection,
    # DecordDecode; the rest of the branch is kept.
    rgb['transforms'] = [
        dict(type='DecordInit'),
        dict(type='SelectClipFrames', num=1, index_offset=-1),
        dict(type='DecordDecode'), *rgb['transforms'][2:]
    ]
    return cfg


def time_loader(dataset_cfg: dict, args: argparse.Namespace) -> float:
    """Clips per second of a data loader over the data set."""
    loader = Runner.build_dataloader(
        dict(
            batch_size=args.batch_size,
            num_workers=args.workers,
            persistent_workers=False,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dataset_cfg),
        seed=0)
    iterator = iter(loader)
    next(iterator)  # workers started, first batch ready
    start = time.perf_counter()
    clips = 0
    for _ in range(args.batches):
        try:
            batch = next(iterator)
        except StopIteration:
            iterator = iter(loader)
            batch = next(iterator)
        clips += len(batch['data_samples'])
    return clips / (time.perf_counter() - start)


def time_model_step(cfg: Config, dataset_cfg: dict,
                    args: argparse.Namespace) -> float:
    """Clips per second of CPU training steps (data excluded)."""
    model_cfg = copy.deepcopy(cfg.model)
    for encoder in model_cfg.encoders.values():
        encoder.pop('init_cfg', None)  # speed does not depend on weights
    if args.num_classes:
        model_cfg.cls_head.num_classes = args.num_classes
    model = MODELS.build(model_cfg)
    model.init_weights()
    optim = torch.optim.SGD(model.parameters(), lr=0.001)
    loader = Runner.build_dataloader(
        dict(
            batch_size=args.batch_size,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dataset_cfg),
        seed=0)
    batch = next(iter(loader))
    model.train()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        data = model.data_preprocessor(batch, training=True)
        loss = sum(model(**data, mode='loss').values())
        optim.zero_grad()
        loss.backward()
        optim.step()
        times.append(time.perf_counter() - start)
    return args.batch_size / min(times[1:])


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg['data_root'] = args.data_root
    dataset_cfg['ann_file'] = (
        f'mmdr_ucf101_trainpart_split_{args.split}_rawframes.txt')
    print(f'config {args.config}, {args.data_root}, batch '
          f'{args.batch_size}, {args.batches} batches, {args.workers} '
          f'worker(s), torch threads {torch.get_num_threads()}')
    print('| source | clips/s per worker |\n|---|---|')
    rates = {}
    for name, ds in (('rawframes (RGB + flow JPEG)', dataset_cfg),
                     ('videos (RGB decord) + flow JPEG',
                      video_variant(dataset_cfg))):
        rates[name] = time_loader(ds, args) / args.workers
        print(f'| {name} | {rates[name]:.1f} |')
    if args.model_step:
        step = time_model_step(cfg, dataset_cfg, args)
        print(f'CPU training step: {step:.2f} clips/s '
              f'(batch {args.batch_size})')
    if args.device_clips_per_s:
        for name, rate in rates.items():
            print(f'workers to feed {args.device_clips_per_s:.0f} clips/s '
                  f'from {name}: {args.device_clips_per_s / rate:.1f}')


if __name__ == '__main__':
    main()
