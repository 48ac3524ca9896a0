"""Check a rawframes tree against mmaction2 annotation files.

For every ``<frame_dir> <total_frames> <label>`` line of the given
annotation files (e.g. ``ucf101_train_split_1_rawframes.txt``), checks
``<data prefix>/<frame_dir>/``:

* the folder exists;
* RGB: ``img_00001.jpg`` .. ``img_{total_frames}.jpg`` all there and not
  empty (fewer RGB frames than the annotation says);
* flow (unless ``--no-flow``): ``flow_x_00001.jpg`` .. ``flow_x_{N-1}`` and
  ``flow_y_*`` likewise for N = total_frames (flow has one frame fewer);
* ``--min-frames K``: at least K RGB frames (a clip shorter than what the
  sampler takes);
* ``--decode``: every expected JPEG starts with the JPEG start marker, ends
  with the end marker (a truncated file) and decodes with ``cv2.imdecode``
  (:func:`mmdr.datasets.file_checks.decode_problem`, the check that names
  the file of a sample that fails in training); without it only names and
  sizes are checked (fast).

Runs in parallel (``--workers``) with a progress bar, and writes a skip list
(``--out``; default ``<first annotation file>_skip.txt``): header comments,
then one ``<frame_dir>  # reason`` line per failing clip, the format the
data sets read (one frame_dir per line, ``#`` starts a comment). Prints a
summary of the failures by kind.

Exit status: 0 (with a warning when clips fail) unless ``--strict``, which
makes failing clips exit 1; 2 for bad arguments or a malformed annotation
line.

Examples:
    python tools/data/ucf101/check_rawframes.py \
        data/ucf101/ucf101_train_split_1_rawframes.txt --workers 8
    python tools/data/ucf101/check_rawframes.py \
        data/ucf101/mmdr_ucf101_holdout_split_1_rawframes.txt \
        --decode --min-frames 8 --out data/ucf101/skip_holdout.txt
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

# mmdr is imported where it is used: the spawned workers import this script,
# and those of a check without --decode need none of it.

#: Kinds of problems, in the order the summary counts them.
KINDS = ('missing folder', 'short RGB', 'short flow', 'empty file',
         'corrupt JPEG', 'too short')
Task = Tuple[str, str, int, Dict]
Problem = Tuple[str, str]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Check rawframes against mmaction2 annotation files')
    parser.add_argument(
        'ann_files', nargs='+', help='rawframe annotation files')
    parser.add_argument(
        '--data-prefix',
        help='folder of the frame folders (default: rawframes/ next to the '
        'first annotation file)')
    parser.add_argument(
        '--out',
        help='skip list to write (default: <first annotation file without '
        '.txt>_skip.txt)')
    parser.add_argument(
        '--rgb-tmpl', default='img_{:05d}.jpg', help='RGB file names')
    parser.add_argument(
        '--flow-tmpl',
        default='flow_{}_{:05d}.jpg',
        help='flow file names ({} takes x or y, then the index)')
    parser.add_argument(
        '--start-index', type=int, default=1, help='index of the 1st frame')
    parser.add_argument(
        '--no-flow', action='store_true', help='RGB frames only')
    parser.add_argument(
        '--min-frames',
        type=int,
        default=0,
        help='clips with fewer RGB frames fail')
    parser.add_argument(
        '--decode',
        action='store_true',
        help='open every JPEG (markers and cv2.imdecode)')
    parser.add_argument(
        '--workers',
        type=int,
        default=os.cpu_count() or 1,
        help='processes checking clips')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='exit with status 1 when a clip fails')
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error('--workers must be at least 1')
    if args.min_frames < 0:
        parser.error('--min-frames must not be negative')
    return args


def read_annotations(paths: Sequence[str]) -> List[Tuple[str, int]]:
    """``(frame_dir, total_frames)`` of every line, first occurrence kept.

    Raises:
        ValueError: A line that is not ``<frame_dir> <total_frames> ...``.
    """
    clips, seen = [], set()
    for path in paths:
        with open(path) as f:
            for num, line in enumerate(f, 1):
                parts = line.split()
                if not parts or parts[0].startswith('#'):
                    continue
                if len(parts) < 2 or not parts[1].isdigit():
                    raise ValueError(
                        f'{path} line {num}: expected "<frame_dir> '
                        f'<total_frames> <label>", got {line.strip()!r}')
                if parts[0] not in seen:
                    seen.add(parts[0])
                    clips.append((parts[0], int(parts[1])))
    return clips


def _names(kind: str, count: int, opts: Dict) -> List[str]:
    start = opts['start_index']
    if kind == 'img':
        return [
            opts['rgb_tmpl'].format(i) for i in range(start, start + count)
        ]
    return [
        opts['flow_tmpl'].format(kind, i) for i in range(start, start + count)
    ]


def check_clip(task: Task) -> Tuple[str, List[Problem]]:
    """Check one frame folder.

    Args:
        task (tuple): ``(frame_dir, folder, total_frames, options)``;
            options: ``rgb_tmpl``, ``flow_tmpl``, ``start_index``,
            ``flow`` (bool), ``min_frames``, ``decode`` (bool).

    Returns:
        tuple[str, list[tuple[str, str]]]: The frame_dir and its problems
        as ``(kind, text)``, kind one of :data:`KINDS` (empty when the clip
        is fine).
    """
    frame_dir, folder, total, opts = task
    if not osp.isdir(folder):
        return frame_dir, [('missing folder', 'missing frame folder')]
    sizes = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file():
                sizes[entry.name] = entry.stat().st_size
    problems = []
    if total < opts['min_frames']:
        problems.append(('too short', f'{total} frames, fewer than '
                         f'--min-frames {opts["min_frames"]}'))
    kinds = [('img', total)]
    if opts['flow']:
        kinds += [('x', total - 1), ('y', total - 1)]
    to_decode = []
    for kind, count in kinds:
        label = 'RGB' if kind == 'img' else f'flow_{kind}'
        names = _names(kind, max(count, 0), opts)
        missing = [n for n in names if n not in sizes]
        empty = [n for n in names if sizes.get(n) == 0]
        if missing:
            problems.append(
                ('short RGB' if kind == 'img' else 'short flow',
                 f'{label}: {len(names) - len(missing)} of {len(names)} '
                 f'frames (first missing {missing[0]})'))
        if empty:
            problems.append(('empty file', f'{label}: {len(empty)} empty '
                             f'file(s) (first {empty[0]})'))
        to_decode += [n for n in names if sizes.get(n)]
    if opts['decode']:
        from mmdr.datasets.file_checks import decode_problem
        bad = []
        for name in to_decode:
            why = decode_problem(osp.join(folder, name))
            if why:
                bad.append(f'{name} ({why})')
        if bad:
            problems.append(
                ('corrupt JPEG', f'{len(bad)} corrupt JPEG(s): ' +
                 ', '.join(bad[:3]) + (', ...' if len(bad) > 3 else '')))
    return frame_dir, problems


def describe(problems: Sequence[Problem]) -> str:
    """The problems of a clip as one line of text."""
    return '; '.join(text for _, text in problems)


def write_skip_list(path: str, failures: Sequence[Tuple[str, List[Problem]]],
                    header: Sequence[str]) -> None:
    """One ``<frame_dir>  # reasons`` line per failing clip, atomically."""
    from mmdr.utils.atomic_write import open_atomic

    with open_atomic(path) as f:
        f.writelines(f'# {line}\n' for line in header)
        for frame_dir, problems in failures:
            f.write(f'{frame_dir}  # {describe(problems)}\n')


def main(argv: Optional[Sequence[str]] = None) -> int:
    from mmdr.preparation.parallel import run_parallel, warn_exit

    args = parse_args(argv)
    try:
        clips = read_annotations(args.ann_files)
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    first = args.ann_files[0]
    prefix = args.data_prefix or osp.join(
        osp.dirname(osp.abspath(first)), 'rawframes')
    out = args.out or osp.splitext(first)[0] + '_skip.txt'
    opts = dict(
        rgb_tmpl=args.rgb_tmpl,
        flow_tmpl=args.flow_tmpl,
        start_index=args.start_index,
        flow=not args.no_flow,
        min_frames=args.min_frames,
        decode=args.decode)
    tasks = [(d, osp.join(prefix, d), n, opts) for d, n in clips]
    print(f'Checking {len(tasks)} clips of {", ".join(args.ann_files)} in '
          f'{prefix} (' + ('RGB' if args.no_flow else 'RGB and flow') +
          (', decoding every JPEG' if args.decode else ', names and sizes') +
          f') with {args.workers} worker(s):')
    results = run_parallel(check_clip, tasks, args.workers, ordered=True)
    failures = [(d, p) for d, p in results if p]
    kinds: Dict[str, int] = {}
    for _, problems in failures:
        for kind in sorted({k for k, _ in problems}):
            kinds[kind] = kinds.get(kind, 0) + 1
    header = [
        f'check_rawframes.py: {len(failures)} of {len(tasks)} clips fail '
        f'({", ".join(args.ann_files)}; data prefix {prefix})',
        'one <frame_dir> per line; "#" starts a comment'
    ]
    write_skip_list(out, failures, header)
    print(f'{len(tasks) - len(failures)} of {len(tasks)} clips pass, '
          f'{len(failures)} fail' +
          (' (' + ', '.join(f'{k}: {kinds[k]}' for k in KINDS if k in kinds) +
           ')' if kinds else '') + f'. Skip list: {out}')
    for frame_dir, problems in failures:
        print(f'  {frame_dir}: {describe(problems)}')
    if failures:
        return warn_exit(
            f'{len(failures)} clip(s) fail; give {out} to the data set as '
            'its skip list', args.strict)
    return 0


if __name__ == '__main__':
    sys.exit(main())
