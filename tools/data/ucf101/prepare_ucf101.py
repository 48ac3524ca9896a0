"""Prepare UCF-101 for mmaction2: RGB and optical-flow rawframes, lists.

Takes the official archive layout under ``--root`` (default
``data/ucf101``):

* ``videos/<Class>/v_<Class>_gXX_cYY.avi``: ``UCF101.rar`` unpacked
  (its ``UCF-101/`` folder renamed ``videos/``, as mmaction2's
  ``tools/data/ucf101/download_videos.sh`` does);
* ``ucfTrainTestlist/``: ``UCF101TrainTestSplits-RecognitionTask.zip``
  unpacked (``classInd.txt``, ``trainlist0N.txt``, ``testlist0N.txt``);
  mmaction2's ``annotations/`` folder is taken where ``ucfTrainTestlist/``
  is absent (or pass ``--annotations``).

and writes, in mmaction2's own UCF-101 layout (a tree prepared with
mmaction2's tools looks the same):

* ``rawframes/<Class>/<clip>/img_00001.jpg`` .. ``img_N.jpg`` and
  ``flow_x_00001.jpg`` .. ``flow_x_{N-1}.jpg``, ``flow_y_*`` likewise:
  short side 256 (``--short-side``, 0 keeps 320x240), flow by TV-L1 where
  opencv-contrib provides it, Farneback otherwise (``--flow-algo``),
  quantised as denseflow does (clipped to +-20 px, mapped to 0..255);
  ``--task rgb`` writes RGB frames only. See ``mmdr/preparation/rawframes.py``.
* ``ucf101_{train,val}_split_{1,2,3}_{rawframes,videos}.txt``: mmaction2's
  lists of the official splits (``val`` is the official *test* list, as
  mmaction2 names it): ``<Class>/<clip> <total_frames> <label>`` and
  ``<Class>/<clip>.avi <label>``, total_frames = RGB frames, label 0-based.
* ``mmdr_ucf101_trainpart_split_N_*.txt`` and
  ``mmdr_ucf101_holdout_split_N_*.txt``: the official training list split
  into a training part and a held-out validation part by whole groups,
  ``--holdout-groups`` (default 2) per class, seeded (``--seed``); see
  ``mmdr/datasets/splits/ucf101.py``, whose carve ``UCF101Dataset`` makes
  in memory where these lists are absent (same clips). A carve whose
  validation part would not be smaller than its training part is refused
  before anything is written. Real UCF-101, seed 0: split 1 train 9537 =
  trainpart 8510 + holdout 1027, test 3783; split 2 9586 = 8516 + 1070,
  test 3734; split 3 9624 = 8552 + 1072, test 3696. The tool prints every
  list's size.
* ``skipped.txt``: every clip left out of every list, one
  ``<Class>/<clip>  # reason`` line (corrupt: decord cannot open it,
  truncated, decode error, fewer than 2 frames; or listed in a split file
  but missing: no video, and with ``--lists-only`` no frame folder either);
  the data set's skip list format.
* ``mmdr_ucf101_prepare.json``: settings, the flow algorithm used, counts,
  skipped videos, the held-out groups and every list's size and SHA-256.

The lists hold what was extracted (frame counts read from the finished
frame folders), like mmaction2's ``build_file_list.py``; a skipped video is
in no list.

Parallel (``--workers``, one process per video, one OpenCV thread each)
with a progress bar and ETA. Resumable: a video's folder gets its
``.done`` marker last (atomically); a rerun skips finished folders and
redoes a folder without marker (half-written), with missing frames, made
with other settings or from a changed video file, from scratch.

Exit status: 0 when every video was prepared; also 0 (with a warning)
when corrupt or missing videos were skipped, unless ``--strict`` (then 1);
1 when something else failed (e.g. a write error) or the run is refused
(foreign files without ``--overwrite``, a validation carve not smaller than
its training part); ``--dry-run`` refuses what the real run refuses, with
the same status. An interrupted run (Ctrl-C) exits 130 and resumes on the
next call.

Nothing foreign is overwritten: a ``rawframes/`` folder not made by this
tool (no ``rawframes/.mmdr_rawframes.json``) or made with other settings,
and list files this tool did not write, stop the tool unless ``--overwrite``
(``--lists-only`` writes the lists from an existing tree, e.g. one made by
mmaction2's tools, without extracting).

Examples:
    python tools/data/ucf101/prepare_ucf101.py --root data/ucf101 --dry-run
    python tools/data/ucf101/prepare_ucf101.py --root data/ucf101 --workers 16
    python tools/data/ucf101/prepare_ucf101.py --root data/ucf101 \
        --task rgb --short-side 0
    python tools/data/ucf101/prepare_ucf101.py --root data/ucf101 --lists-only
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mmengine.fileio import dump

from mmdr.preparation import rawframes as ex
from mmdr.preparation.parallel import plan_line, run_parallel, warn_exit
from mmdr.utils.atomic_write import write_text_atomic
from mmdr.utils.file_hash import sha256_file

if __name__ != '__mp_main__':
    # The extraction workers (spawned processes, which import this file as
    # __mp_main__) need none of the list logic: importing mmdr.datasets
    # there would cost every worker seconds of start-up.
    from mmdr.datasets.splits import ucf101 as sl

ROOT_MARKER = '.mmdr_rawframes.json'
META = 'mmdr_ucf101_prepare.json'
SKIPPED = 'skipped.txt'
TOOL = 'tools/data/ucf101/prepare_ucf101.py'
BLOCK = 4096


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Prepare UCF-101 rawframes (RGB and optical flow) and '
        'mmaction2 annotation lists')
    parser.add_argument(
        '--root',
        default='data/ucf101',
        help='holds videos/ and ucfTrainTestlist/; receives rawframes/ and '
        'the lists')
    parser.add_argument(
        '--annotations',
        help='folder of classInd.txt, trainlist0N.txt, testlist0N.txt '
        '(default: ROOT/ucfTrainTestlist, else ROOT/annotations)')
    parser.add_argument(
        '--splits',
        type=int,
        nargs='+',
        default=list(sl.SPLITS),
        choices=sl.SPLITS,
        help='splits to write lists for')
    parser.add_argument(
        '--task',
        choices=('both', 'rgb'),
        default='both',
        help='both: RGB and optical flow; rgb: RGB frames only')
    parser.add_argument(
        '--flow-algo',
        choices=('auto', 'tvl1', 'farneback'),
        default='auto',
        help='auto: TV-L1 where opencv-contrib provides it, else Farneback')
    parser.add_argument(
        '--short-side',
        type=int,
        default=256,
        help='resize the short side to this (0: keep the original size)')
    parser.add_argument(
        '--bound',
        type=float,
        default=ex.FLOW_BOUND,
        help='flow clipping bound in pixels before quantisation')
    parser.add_argument(
        '--jpeg-quality', type=int, default=ex.JPEG_QUALITY, help='1..100')
    parser.add_argument(
        '--workers',
        type=int,
        default=os.cpu_count() or 1,
        help='processes extracting videos (default: all cores)')
    parser.add_argument(
        '--holdout-groups',
        type=int,
        default=sl.DEFAULT_HOLDOUT_GROUPS,
        help='training groups per class held out for validation')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the held-out groups')
    parser.add_argument(
        '--lists-only',
        action='store_true',
        help='extract nothing; write the lists from the frame folders '
        'and videos present')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='write nothing; print the plan and a disk space estimate')
    parser.add_argument(
        '--sample-videos',
        type=int,
        default=4,
        help='videos decoded for the --dry-run disk estimate')
    parser.add_argument(
        '--sample-frames',
        type=int,
        default=8,
        help='frames decoded per sampled video')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='exit with status 1 when a video was skipped')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='redo a rawframes tree made otherwise and replace list files '
        'this tool did not write')
    args = parser.parse_args(argv)
    if args.short_side < 0:
        parser.error('--short-side must not be negative')
    if args.bound <= 0:
        parser.error('--bound must be positive')
    if not 1 <= args.jpeg_quality <= 100:
        parser.error('--jpeg-quality must lie in 1..100')
    if args.workers < 1:
        parser.error('--workers must be at least 1')
    if args.holdout_groups < 1:
        parser.error('--holdout-groups must be at least 1')
    if args.sample_videos < 1 or args.sample_frames < 2:
        parser.error('--sample-videos >= 1 and --sample-frames >= 2')
    args.splits = sorted(set(args.splits))
    return args


# ---------------------------------------------------------------- helpers


def read_json(path: str) -> Optional[Dict]:
    """A JSON object from a file, or None."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def human(num_bytes: float) -> str:
    """Bytes as GiB, MiB or KiB."""
    for unit, size in (('GiB', 1 << 30), ('MiB', 1 << 20), ('KiB', 1 << 10)):
        if num_bytes >= size:
            return f'{num_bytes / size:.1f} {unit}'
    return f'{num_bytes:.0f} B'


# -------------------------------------------------------------- the steps


def mmaction2_tree_hint(root: str) -> str:
    """Where ``root`` holds mmaction2's lists: that it needs no preparation.

    Returns:
        str: A sentence to add to a message, or ``''``.
    """
    lists = sorted(glob.glob(osp.join(root, 'ucf101_train_split_*_*.txt')))
    if not lists:
        return ''
    return (f'. {root} holds mmaction2\'s lists (e.g. '
            f'{osp.basename(lists[0])}): such a tree needs no preparation; '
            'train on it as it is (the validation part is carved in '
            'memory): python tools/train.py configs/dr_ucf101.py --data-root '
            f'{root}')


def find_annotations(args: argparse.Namespace) -> str:
    """The folder of the official split files."""
    if args.annotations:
        return args.annotations
    for name in ('ucfTrainTestlist', 'annotations'):
        folder = osp.join(args.root, name)
        if osp.isfile(osp.join(folder, 'classInd.txt')):
            return folder
    raise SystemExit(
        f'No classInd.txt in {args.root}/ucfTrainTestlist (or annotations/): '
        'unpack UCF101TrainTestSplits-RecognitionTask.zip there, or pass '
        f'--annotations{mmaction2_tree_hint(args.root)}')


def load_splits(ann_dir: str, splits: Sequence[int],
                root: str) -> Tuple[List[str], Dict]:
    """classInd and the official train/test clips of every split."""

    def read(name: str) -> List[str]:
        path = osp.join(ann_dir, name)
        if not osp.isfile(path):
            raise SystemExit(f'{path} is missing{mmaction2_tree_hint(root)}')
        with open(path) as f:
            return f.readlines()

    try:
        classes = sl.parse_class_index(read('classInd.txt'))
        official = {}
        for split in splits:
            train = sl.parse_split_file(
                read(f'trainlist{split:02d}.txt'), classes,
                f'trainlist{split:02d}.txt')
            test = sl.parse_split_file(
                read(f'testlist{split:02d}.txt'), classes,
                f'testlist{split:02d}.txt')
            sl.check_disjoint(train, test, split)
            official[split] = (train, test)
    except ValueError as err:
        raise SystemExit(f'{ann_dir}: {err}')
    return classes, official


def make_roles(classes: List[str], official: Dict,
               args: argparse.Namespace) -> Tuple[Dict, Dict]:
    """The four clip lists of every split and the held-out groups."""
    roles, held = {}, {}
    for split, (train, test) in official.items():
        try:
            trainpart, holdout, groups = sl.carve_holdout(
                train, classes, split, args.holdout_groups, args.seed,
                '--holdout-groups')
        except ValueError as err:
            raise SystemExit(str(err))
        roles[split] = dict(
            train=train, val=test, trainpart=trainpart, holdout=holdout)
        held[str(split)] = groups
    return roles, held


def find_videos(videos_dir: str) -> List[str]:
    """``<Class>/<file>.avi`` of every video, sorted."""
    paths = glob.glob(osp.join(videos_dir, '*', '*.avi'))
    return sorted(
        osp.relpath(p, videos_dir).replace(os.sep, '/') for p in paths)


def our_files(root: str, names: Iterable[str], meta: Optional[Dict],
              overwrite: bool) -> None:
    """Stop if a file we would write exists but was not written by us."""
    recorded = (meta or {}).get('files', {})
    foreign = []
    for name in names:
        path = osp.join(root, name)
        if osp.isfile(path) and recorded.get(name) != sha256_file(path):
            foreign.append(name)
    if foreign and not overwrite:
        raise SystemExit(
            f'{root} holds {len(foreign)} file(s) this tool did not write '
            f'(e.g. {foreign[0]}, from mmaction2\'s build_file_list.py?); '
            'pass --overwrite to replace them, or move them away.')


def tree_problem(rawframes: str, settings: ex.Settings) -> Optional[str]:
    """Why a rawframes tree must not be touched without ``--overwrite``.

    Returns:
        str | None: The reason: made by another tool (no root marker) or
        with other settings; None for a new tree or one of this run's.
    """
    busy = osp.isdir(rawframes) and any(n != ROOT_MARKER
                                        for n in os.listdir(rawframes))
    if not busy:
        return None
    marker = read_json(osp.join(rawframes, ROOT_MARKER))
    if marker is None:
        return (f'{rawframes} was not made by this tool (no {ROOT_MARKER}): '
                'pass --lists-only to write the lists from its frames, or '
                '--overwrite to extract every video again.')
    if marker.get('settings') != ex.settings_dict(settings):
        return (f'{rawframes} was extracted with {marker.get("settings")}, '
                f'this run asks for {ex.settings_dict(settings)}: pass '
                '--overwrite to redo every video, or rerun with the same '
                'settings.')
    return None


def classify(videos: Sequence[str], videos_dir: str, rawframes: str,
             settings: ex.Settings) -> Dict[str, List]:
    """Sort videos into done, new and redo (with the reasons)."""
    state = dict(done=[], new=[], redo=[])
    for video in videos:
        out_dir = osp.join(rawframes, osp.splitext(video)[0])
        size = osp.getsize(osp.join(videos_dir, video))
        kind, why = ex.marker_state(out_dir, settings, size)
        state[kind].append((video, why) if kind == 'redo' else video)
    return state


def frames_of_tree(rawframes: str, clips: Iterable['sl.Clip'],
                   ours: bool) -> Dict[str, int]:
    """RGB counts of the usable frame folders of an existing tree.

    In a tree of this tool, folders with a ``.done`` marker whose counts
    hold; in any other tree, every folder with an ``img_`` file (mmaction2's
    build_file_list counts them so).
    """
    frames = {}
    for clip in clips:
        folder = osp.join(rawframes, clip.frame_dir)
        if not osp.isdir(folder):
            continue
        rgb, fx, fy = ex.count_frames(folder)
        if ours:
            marker = ex.read_marker(folder)
            if marker is None or (marker.get('rgb'), marker.get('flow'),
                                  marker.get('flow')) != (rgb, fx, fy):
                continue
        if rgb > 0:
            frames[clip.frame_dir] = rgb
    return frames


def estimate_disk(jobs: Sequence[str], videos_dir: str, settings: ex.Settings,
                  args: argparse.Namespace) -> None:
    """Print the disk space the extraction of ``jobs`` needs (a sample)."""
    if not jobs:
        print('Disk estimate: nothing to extract.')
        return
    print(f'Counting the frames of {len(jobs)} video(s) with decord:')
    lengths = run_parallel(ex.video_length,
                           [osp.join(videos_dir, v) for v in jobs],
                           args.workers, ex.worker_init)
    usable = [r for r in lengths if r['frames'] is not None]
    bad = len(lengths) - len(usable)
    total = sum(r['frames'] for r in usable)
    step = max(1, len(usable) // args.sample_videos)
    picked = sorted(
        usable, key=lambda r: r['video'])[::step][:args.sample_videos]
    rgb_sizes, flow_sizes = [], []
    for item in picked:
        try:
            rgb, flow, _ = ex.sample_sizes(item['video'], settings,
                                           args.sample_frames)
        except ex.VideoError:
            continue
        rgb_sizes += rgb
        flow_sizes += flow
    if not rgb_sizes:
        print('Disk estimate: no sampled video could be decoded.')
        return

    def mean(values: List[int], blocks: bool) -> float:
        if not values:
            return 0.0
        if blocks:
            values = [-(-v // BLOCK) * BLOCK for v in values]
        return sum(values) / len(values)

    num_flow = 0 if settings.flow_algo == 'none' else 2 * (total - len(usable))
    estimate = [
        total * mean(rgb_sizes, b) + num_flow * mean(flow_sizes, b)
        for b in (False, True)
    ]
    print(f'Disk estimate: {human(estimate[0])} of JPEG files '
          f'(about {human(estimate[1])} on disk with {BLOCK}-byte blocks): '
          f'{total} RGB frames x {human(mean(rgb_sizes, False))}' +
          (f' + {num_flow} flow images x {human(mean(flow_sizes, False))}'
           if num_flow else '') +
          f'; sampled {len(rgb_sizes)} frames of {len(picked)} video(s), '
          f'frame counts from decord for {len(usable)} video(s)' +
          (f'; {bad} video(s) cannot be opened and would be skipped'
           if bad else '') + '.')


def print_lists(lists: Dict[str, List[str]], prefix: str = '') -> None:
    """Print the number of clips of every list."""
    width = max(len(n) for n in lists)
    for name, lines in lists.items():
        print(f'  {prefix}{name:<{width}}  {len(lines):>6} clips')


def all_lists(roles: Dict, frames: Dict[str, int],
              videos: Iterable[str]) -> Dict[str, List[str]]:
    """Lines of every list of every split."""
    videos = set(videos)
    lists = {}
    for split, split_roles in roles.items():
        lists.update(sl.build_lists(split_roles, split, frames, videos))
    return lists


def record_lists(meta: Dict, lists: Dict[str, List[str]], held: Dict,
                 args: argparse.Namespace) -> Dict:
    """Add the list sizes and the carve of this run's splits to ``meta``.

    Entries of splits this run did not write are kept.
    """
    meta['lists'] = dict(
        sorted(
            dict(
                meta.get('lists', {}), **{
                    n: len(v)
                    for n, v in lists.items()
                }).items()))
    carve = dict(meta.get('carve', {}))
    for split, groups in held.items():
        carve[split] = dict(
            seed=args.seed,
            holdout_groups=args.holdout_groups,
            held_out_groups=groups)
    meta['carve'] = carve
    return meta


def write_outputs(root: str, lists: Dict[str, List[str]],
                  skipped: List[Tuple[str, str]], meta: Dict) -> None:
    """Write the lists, skipped.txt and the summary JSON (last)."""
    files = dict(meta.get('files', {}))
    for name, lines in lists.items():
        write_text_atomic(osp.join(root, name), ''.join(lines))
        files[name] = sha256_file(osp.join(root, name))
    text = [
        '# Videos left out of every list: <Class>/<clip>  # reason '
        f'(written by {TOOL})\n'
    ]
    text += [f'{osp.splitext(v)[0]}  # {why}\n' for v, why in skipped]
    write_text_atomic(osp.join(root, SKIPPED), ''.join(text))
    files[SKIPPED] = sha256_file(osp.join(root, SKIPPED))
    meta['files'] = dict(sorted(files.items()))
    write_text_atomic(
        osp.join(root, META),
        dump(meta, file_format='json', indent=2, sort_keys=True) + '\n')


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    root = args.root
    videos_dir = osp.join(root, 'videos')
    rawframes = osp.join(root, 'rawframes')
    ann_dir = find_annotations(args)
    classes, official = load_splits(ann_dir, args.splits, root)
    roles, held = make_roles(classes, official, args)
    clips = {c.path: c for s in roles.values() for c in s['train'] + s['val']}
    videos = find_videos(videos_dir) if osp.isdir(videos_dir) else []
    on_disk = set(videos)
    missing = sorted(p for p in clips if p not in on_disk)
    unlisted = [v for v in videos if v not in clips]
    print(f'Annotations: {ann_dir} ({len(classes)} classes, splits '
          f'{", ".join(map(str, args.splits))}); videos: {videos_dir} '
          f'({len(videos)} .avi files, {len(missing)} listed but missing, '
          f'{len(unlisted)} in no split list)')

    meta_old = read_json(osp.join(root, META))
    list_files = [
        n for s in args.splits for fmts in sl.list_names(s).values()
        for n in fmts.values()
    ]
    # A dry run refuses what the real run would, with the same status.
    our_files(root, list_files + [SKIPPED], meta_old, args.overwrite)

    if args.lists_only:
        marker = read_json(osp.join(rawframes, ROOT_MARKER))
        frames = frames_of_tree(rawframes, clips.values(), marker is not None)
        print(f'Lists only: {len(frames)} frame folders with RGB frames in '
              f'{rawframes}' + (' (finished folders of this tool)'
                                if marker else ' (any img_ files)'))
        lists = all_lists(roles, frames, on_disk)
        # In no list: neither a video nor a frame folder (a tree of
        # rawframes only has no videos, and its clips are in the lists).
        skipped = [(p, 'missing: listed in the split files, neither under '
                    'videos/ nor a frame folder under rawframes/')
                   for p in missing if clips[p].frame_dir not in frames]
        if args.dry_run:
            print('Dry run: would write these lists:')
            print_lists(lists)
            return 0
        meta = dict(meta_old or {}, tool=TOOL, mode='lists-only')
        write_outputs(root, lists, skipped,
                      record_lists(meta, lists, held, args))
        print('Wrote:')
        print_lists(lists)
        return 0

    algo = 'none'
    if args.task == 'both':
        try:
            algo = ex.resolve_flow_algo(args.flow_algo)
        except ValueError as err:
            raise SystemExit(str(err))
    settings = ex.Settings(args.short_side, algo, float(args.bound),
                           args.jpeg_quality)
    print(f'Optical flow algorithm: {algo} = {ex.describe_flow_algo(algo)}' +
          (f' (--flow-algo {args.flow_algo})' if args.task == 'both' else ''))
    print('Frames: short side ' +
          (f'{args.short_side}' if args.short_side else 'kept') +
          f', JPEG quality {args.jpeg_quality}' +
          (f', flow bound {args.bound:g} px' if algo != 'none' else ''))
    problem = tree_problem(rawframes, settings)
    if problem and not args.overwrite:
        raise SystemExit(problem)
    state = classify(videos, videos_dir, rawframes, settings)
    todo = state['new'] + [v for v, _ in state['redo']]
    print(plan_line(len(videos), state, 'videos', 'extract'))

    if args.dry_run:
        print('Dry run: nothing is written.')
        estimate_disk(sorted(todo), videos_dir, settings, args)
        expected = {clips[p].frame_dir: 0 for p in clips if p in on_disk}
        print('Lists it would write (if every video extracts):')
        print_lists(all_lists(roles, expected, on_disk))
        return 0

    os.makedirs(rawframes, exist_ok=True)
    write_text_atomic(
        osp.join(rawframes, ROOT_MARKER),
        dump(
            dict(tool=TOOL, settings=ex.settings_dict(settings)),
            file_format='json',
            sort_keys=True) + '\n')
    jobs = [(osp.join(videos_dir, v), osp.join(rawframes,
                                               osp.splitext(v)[0]), settings)
            for v in sorted(todo)]
    print(f'Extracting {len(jobs)} video(s) with {args.workers} worker(s):')
    try:
        results = run_parallel(ex.prepare_video, jobs, args.workers,
                               ex.worker_init)
    except KeyboardInterrupt:
        print('\nInterrupted: finished videos are kept; rerun the same '
              'command to resume.')
        return 130

    frames = {}
    for video in state['done']:
        marker = ex.read_marker(osp.join(rawframes, osp.splitext(video)[0]))
        frames[osp.splitext(video)[0]] = marker['rgb']
    by_status = dict(done=[], corrupt=[], error=[])
    for r in sorted(results, key=lambda r: r['video']):
        rel = osp.relpath(r['video'], videos_dir).replace(os.sep, '/')
        by_status[r['status']].append((rel, r['reason']))
        if r['status'] == 'done':
            frames[osp.splitext(rel)[0]] = r['rgb']
    skipped = by_status['corrupt'] + [
        (p, 'missing: listed in the split files, not under videos/')
        for p in missing
    ]
    failed = by_status['error']
    prepared = set(v for v in videos if osp.splitext(v)[0] in frames)
    lists = all_lists(roles, frames, prepared)

    meta = dict(
        meta_old or {},
        tool=TOOL,
        mode='extract',
        settings=ex.settings_dict(settings),
        flow_algo=algo,
        flow_algo_description=ex.describe_flow_algo(algo),
        videos=dict(
            found=len(videos),
            prepared=len(prepared),
            extracted_now=len(by_status['done']),
            already_done=len(state['done']),
            skipped=len(skipped),
            failed=len(failed)),
        skipped=[dict(video=v, reason=w) for v, w in skipped],
        failed=[dict(video=v, reason=w) for v, w in failed])
    write_outputs(root, lists, skipped + failed,
                  record_lists(meta, lists, held, args))

    print(f'Summary: {len(videos)} videos found, {len(prepared)} prepared '
          f'({len(by_status["done"])} extracted now, {len(state["done"])} '
          f'already done), {len(skipped)} skipped, {len(failed)} failed.')
    print(f'Optical flow: {ex.describe_flow_algo(algo)}.')
    for title, items in (('Skipped', skipped), ('Failed', failed)):
        if items:
            print(f'{title} ({len(items)}):')
            for video, why in items:
                print(f'  {video}: {why}')
    print(f'Wrote {len(lists)} lists, {SKIPPED} ({len(skipped + failed)} '
          f'entries) and {META} to {root}:')
    print_lists(lists)
    if failed:
        print(f'ERROR: {len(failed)} video(s) failed for another reason '
              'than a corrupt input (see above); exit status 1.')
        return 1
    if skipped:
        return warn_exit(
            f'{len(skipped)} video(s) skipped (named above and in '
            f'{SKIPPED}); they are in no list', args.strict)
    return 0


if __name__ == '__main__':
    sys.exit(main())
