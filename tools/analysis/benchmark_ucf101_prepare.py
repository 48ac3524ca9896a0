"""Measure the throughput of the UCF-101 preparation, per worker.

Writes fixture-like XVID videos (``mmdr/testing/ucf101.py``: a moving
shape on a textured background) at UCF-101's size, 320x240, and times
``mmdr.preparation.rawframes.prepare_video`` (what each ``prepare_ucf101.py`` worker
runs for one video: decord decoding, resizing to short side 256, JPEG
writing, flow) in this process with one OpenCV thread, as a worker has, for
three settings: RGB only, RGB + Farneback flow, RGB + TV-L1 flow (the
median over ``--videos`` videos, ``--tvl1-videos`` for TV-L1). Reports
videos/s and ms per frame per worker, and what that means for UCF-101
(13,320 videos, about 27 hours of video at 25 fps: about 2.4 million
frames, 182 per video on average): videos/s per worker and core-hours.
Workers are independent processes, so N workers on N free cores give about
N times the throughput (less where disk or memory bandwidth binds). The
synthetic frames are smoother than real footage: real JPEGs are larger and
TV-L1 may need more iterations.

Example:
    python tools/analysis/benchmark_ucf101_prepare.py
    python tools/analysis/benchmark_ucf101_prepare.py --frames 48 --videos 4
"""
import argparse
import os.path as osp
import statistics
import tempfile
import time
from typing import Dict, List

import cv2

from mmdr.preparation import rawframes as ex
from mmdr.preparation.media import target_size
from mmdr.testing.ucf101 import make_frames, write_video

UCF101_VIDEOS = 13320
UCF101_FRAMES = 27 * 3600 * 25  # about 27 hours at 25 fps


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Throughput of the UCF-101 preparation per worker')
    parser.add_argument(
        '--frames', type=int, default=32, help='frames per video')
    parser.add_argument(
        '--videos',
        type=int,
        default=6,
        help='videos timed for RGB and Farneback')
    parser.add_argument(
        '--tvl1-videos', type=int, default=3, help='videos timed for TV-L1')
    parser.add_argument(
        '--short-side', type=int, default=256, help='as prepare_ucf101.py')
    return parser.parse_args()


def time_setting(videos: List[str], scratch: str,
                 settings: ex.Settings) -> List[float]:
    """Seconds ``prepare_video`` takes for each video."""
    times = []
    for i, video in enumerate(videos):
        out_dir = osp.join(scratch, f'{settings.flow_algo}_{i}')
        start = time.perf_counter()
        result = ex.prepare_video((video, out_dir, settings))
        times.append(time.perf_counter() - start)
        if result['status'] != 'done':
            raise RuntimeError(f'{video}: {result["reason"]}')
    return times


def main() -> None:
    args = parse_args()
    ex.worker_init()
    setups: Dict[str, ex.Settings] = {
        'RGB only': ex.Settings(args.short_side, 'none'),
        'RGB + Farneback flow': ex.Settings(args.short_side, 'farneback'),
    }
    if ex.tvl1_available():
        setups['RGB + TV-L1 flow'] = ex.Settings(args.short_side, 'tvl1')
    width, height = target_size(320, 240, args.short_side)
    print(f'OpenCV {cv2.__version__}, one thread; videos 320x240, '
          f'{args.frames} frames, XVID; frames written at {width}x{height}')
    mean_frames = UCF101_FRAMES / UCF101_VIDEOS
    print(f'| setting | videos timed | s per video | videos/s per worker '
          f'| ms per frame | UCF-101 videos/s per worker ({mean_frames:.0f} '
          'frames) | UCF-101 core-hours |')
    print('|---|---|---|---|---|---|---|')
    with tempfile.TemporaryDirectory() as scratch:
        count = max(args.videos, args.tvl1_videos)
        videos = []
        for i in range(count):
            path = osp.join(scratch, f'v_Bench_g01_c{i + 1:02d}.avi')
            write_video(
                path,
                make_frames(i % 3, 3, 1, i + 1, args.frames, (320, 240), 0))
            videos.append(path)
        time_setting(videos[:1], scratch, setups['RGB only'])  # warm-up
        for name, settings in setups.items():
            num = args.tvl1_videos if settings.flow_algo == 'tvl1' else (
                args.videos)
            per_video = statistics.median(
                time_setting(videos[:num], scratch, settings))
            per_frame = per_video / args.frames
            core_hours = per_frame * UCF101_FRAMES / 3600
            print(f'| {name} | {num} | {per_video:.2f} | '
                  f'{1 / per_video:.2f} | {1000 * per_frame:.1f} | '
                  f'{1 / (per_frame * mean_frames):.3f} | '
                  f'{core_hours:.1f} |')
    print(f'(UCF-101: {UCF101_VIDEOS} videos, about {UCF101_FRAMES:,} '
          'frames; core-hours = ms per frame x frames)')


if __name__ == '__main__':
    main()
