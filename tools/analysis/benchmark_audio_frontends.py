"""Measure how fast the audio front-ends turn files into features.

Times, in one process and one thread (as one data loader worker), the
audio transforms of the CREMA-D and Kinetics-Sounds configs on N clips:

- ``log-STFT``: ``LoadWaveform`` (resampled to 22,050 Hz with soxr HQ,
  tiled to 3 s) + ``LogSpectrogram`` (OGM-GE's 257 x 188);
- ``Kaldi fbank``: ``LoadWaveform`` (16 kHz, the whole clip) +
  ``KaldiFbank`` (128 bins, 1,024 frames);
- both through ``CachedAudioFeature``: cold (computed and written) and warm
  (read back).

By default the clips are synthetic 16 kHz 16-bit WAV files of 2.5 s (about
a CREMA-D clip), written to a temporary folder; ``--wav-dir`` times a
folder of real files instead. Prints a markdown table.

Example:
    python tools/analysis/benchmark_audio_frontends.py --num-clips 200
"""
import argparse
import glob
import os
import os.path as osp
import tempfile
import time
from typing import Callable, List

import numpy as np
import torch

from mmdr.audio import write_wav
from mmdr.registry import TRANSFORMS
from mmdr.utils import register_all_modules

# The audio transforms of the CREMA-D and Kinetics-Sounds configs (files at
# another rate are resampled).
FRONTENDS = {
    'log-STFT': [
        dict(
            type='LoadWaveform',
            sample_rate=22050,
            duration=3.0,
            resample=True),
        dict(type='LogSpectrogram', n_fft=512, hop_length=353)
    ],
    'Kaldi fbank': [
        dict(
            type='LoadWaveform',
            sample_rate=16000,
            duration=None,
            resample=True),
        dict(type='KaldiFbank', num_mel_bins=128, target_length=1024)
    ],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Audio front-end throughput (clips/s, one process)')
    parser.add_argument('--num-clips', type=int, default=100)
    parser.add_argument(
        '--seconds', type=float, default=2.5, help='synthetic clip length')
    parser.add_argument(
        '--wav-dir', help='time the .wav files of this folder instead')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch threads (1: as a data loader worker)')
    return parser.parse_args()


def write_clips(folder: str, num: int, seconds: float) -> List[str]:
    """Write ``num`` 16 kHz clips: a few tones plus noise, seeded."""
    rng = np.random.default_rng(0)
    t = np.arange(int(16000 * seconds)) / 16000
    paths = []
    for i in range(num):
        freqs = rng.uniform(100, 4000, 3)
        clip = sum(0.2 * np.sin(2 * np.pi * f * t) for f in freqs)
        clip = clip + 0.05 * rng.standard_normal(t.size)
        paths.append(osp.join(folder, f'clip_{i:05d}.wav'))
        write_wav(paths[-1], clip, 16000)
    return paths


def run(transforms: List[Callable], paths: List[str]) -> float:
    """Run the transforms on every file; return the clips per second."""
    start = time.perf_counter()
    for path in paths:
        results = dict(audio_path=path)
        for transform in transforms:
            results = transform(results)
    return len(paths) / (time.perf_counter() - start)


def main() -> None:
    args = parse_args()
    register_all_modules()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        if args.wav_dir:
            paths = sorted(glob.glob(osp.join(args.wav_dir, '*.wav')))
            paths = paths[:args.num_clips]
            source = f'{len(paths)} files of {args.wav_dir}'
        else:
            paths = write_clips(tmp, args.num_clips, args.seconds)
            source = (f'{len(paths)} synthetic 16 kHz clips of '
                      f'{args.seconds} s')
        if not paths:
            raise SystemExit('no .wav file to time')
        os.makedirs(osp.join(tmp, 'warmup'))
        warmup = write_clips(osp.join(tmp, 'warmup'), 1, 1.0)
        rows = []
        for name, cfgs in FRONTENDS.items():
            transforms = [TRANSFORMS.build(cfg) for cfg in cfgs]
            run(transforms, warmup)  # imports, allocations, FFT plans
            rows.append((name, 'on the fly', run(transforms, paths)))
            cached = TRANSFORMS.build(
                dict(
                    type='CachedAudioFeature',
                    cache_dir=osp.join(tmp, 'cache'),
                    transforms=cfgs))
            rows.append((name, 'cache cold', run([cached], paths)))
            rows.append((name, 'cache warm', run([cached], paths)))
    print(f'{source}, torch threads: {args.threads}\n')
    print('| front-end | mode | clips/s | ms/clip |')
    print('|---|---|---:|---:|')
    for name, mode, rate in rows:
        print(f'| {name} | {mode} | {rate:.0f} | {1000 / rate:.2f} |')


if __name__ == '__main__':
    main()
