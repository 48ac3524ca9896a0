"""Measure the throughput of the CREMA-D and Kinetics-Sounds preparation.

Writes clips with ``mmdr/testing/av_clips.py`` at the real sets' sizes:

* CREMA-D-like: FLV (FLV1 video, as the release's VP6 has no encoder; mp3
  audio), 480x360, 30 fps, 2.5 s, and a 16 kHz WAV file each;
* Kinetics-like: MP4 (H.264 + AAC 44.1 kHz), 640x360, 30 fps, 10 s.

and times what ``prepare_cremad.py`` and ``prepare_kinetics_sounds.py`` run
for their clips (``clip_cli.execute``: decoding, 1-fps JPEG frames, WAV
and, with ``--audio both``, the 1024x128 filterbank ``.pt``), from scratch,
with 1 and 2 worker processes. Reports clips/s with the pool's start
counted (about a second: every worker imports torch) and the steady rate
without it (from a second run of one clip a worker), and what the steady
rate means for the real sets (7,442 CREMA-D clips; 17,396 Kinetics-Sounds clips
in the authors' lists). Synthetic frames compress better than real
footage, so real JPEG writing is a little slower.

Example:
    python tools/analysis/benchmark_av_prepare.py
    python tools/analysis/benchmark_av_prepare.py --cremad-clips 32 \
        --kinetics-clips 8 --workers 1 2 4
"""
import argparse
import os.path as osp
import shutil
import tempfile
import time
from typing import List

from mmdr.preparation import clip_cli, clip_jobs
from mmdr.testing.av_clips import write_media, write_wav16

CREMAD_CLIPS = 7442
KINETICS_SOUNDS_CLIPS = 14799 + 2597  # the authors' my_train + my_test


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Throughput of the CREMA-D and Kinetics-Sounds '
        'preparation')
    parser.add_argument(
        '--cremad-clips', type=int, default=48, help='CREMA-D-like clips')
    parser.add_argument(
        '--kinetics-clips', type=int, default=12, help='Kinetics-like clips')
    parser.add_argument(
        '--workers', type=int, nargs='+', default=[1, 2], help='pool sizes')
    parser.add_argument(
        '--audio',
        choices=clip_cli.AUDIO_CHOICES,
        default='both',
        help='as the tools\' --audio')
    return parser.parse_args()


def cremad_jobs(folder: str, count: int,
                audio: str) -> List[clip_jobs.ClipJob]:
    """CREMA-D-like clips and their jobs (output under ``folder/out``)."""
    settings = clip_jobs.Settings(22050, audio)
    jobs = []
    for i in range(count):
        name = f'{1001 + i}_DFA_ANG_XX'
        flv = osp.join(folder, 'VideoFlash', name + '.flv')
        wav = osp.join(folder, 'AudioWAV', name + '.wav')
        write_media(
            flv,
            2.5,
            i,
            container='flv',
            video_codec='flv',
            audio_codec='libmp3lame',
            size=(480, 360))
        write_wav16(wav, 2.5, i)
        jobs.append(
            clip_jobs.ClipJob(name, flv, wav, osp.join(folder, 'out'),
                              settings, 2))
    return jobs


def kinetics_jobs(folder: str, count: int,
                  audio: str) -> List[clip_jobs.ClipJob]:
    """Kinetics-like clips and their jobs (output under ``folder/out``)."""
    settings = clip_jobs.Settings(16000, audio)
    jobs = []
    for i in range(count):
        name = f'bench-{i:05d}_{i:06d}_{i + 10:06d}'
        mp4 = osp.join(folder, 'videos', name + '.mp4')
        write_media(mp4, 10.0, i, audio_rate=44100, size=(640, 360))
        jobs.append(
            clip_jobs.ClipJob(name, mp4, None, osp.join(folder, 'out'),
                              settings, 3))
    return jobs


def time_run(jobs: List[clip_jobs.ClipJob], workers: int) -> float:
    """Seconds ``clip_cli.execute`` takes for ``jobs`` from scratch."""
    shutil.rmtree(jobs[0].out, ignore_errors=True)
    state = dict(done=[], new=list(jobs), redo=[])
    start = time.perf_counter()
    frames, skipped, failed = clip_cli.execute(state, workers,
                                               jobs[0].min_frames)
    seconds = time.perf_counter() - start
    if skipped or failed or len(frames) != len(jobs):
        raise RuntimeError(f'not every clip was prepared: {skipped + failed}')
    return seconds


def main() -> None:
    args = parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        sets = (
            ('CREMA-D-like: FLV 480x360 2.5 s + WAV', CREMAD_CLIPS,
             cremad_jobs(
                 osp.join(scratch, 'cremad'), args.cremad_clips, args.audio)),
            ('Kinetics-like: MP4 640x360 10 s', KINETICS_SOUNDS_CLIPS,
             kinetics_jobs(
                 osp.join(scratch, 'kinetics'), args.kinetics_clips,
                 args.audio)),
        )
        clip_jobs.worker_init()
        for title, real, jobs in sets:
            time_run(jobs[:1], 1)  # warm-up: imports, caches
            for workers in args.workers:
                seconds = time_run(jobs, workers)
                # The pool's start and a first clip in every worker; what
                # the rest took gives the steady rate.
                first = time_run(jobs[:workers], workers)
                steady = (len(jobs) - workers) / max(seconds - first, 1e-6)
                rows.append(f'| {title} | {workers} | {len(jobs)} | '
                            f'{seconds:.1f} | {len(jobs) / seconds:.1f} | '
                            f'{steady:.1f} | {real / steady / 60:.1f} |')
    print(f'--audio {args.audio}; frames at 1 fps, original size, JPEG 95')
    print('| clips | workers | clips timed | s | clips/s | clips/s steady '
          '| minutes for the real set (steady) |')
    print('|---|---|---|---|---|---|---|')
    print('\n'.join(rows))
    print(f'(real sets: CREMA-D {CREMAD_CLIPS:,} clips, Kinetics-Sounds '
          f'{KINETICS_SOUNDS_CLIPS:,}; "clips/s" counts the pool\'s start, '
          '"steady" leaves out the start and the first clip of every worker)')


if __name__ == '__main__':
    main()
