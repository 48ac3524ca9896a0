"""The command line of the audio-visual clip preparation tools.

What ``tools/data/cremad/prepare_cremad.py`` and
``tools/data/kinetics_sounds/prepare_kinetics_sounds.py`` share above one
clip (:mod:`mmdr.preparation.clip_jobs`): their common options, the plan
of a run, ``--dry-run``, the run itself with its process pool, and the
files and messages that close it (the lists, ``skipped.txt``, the JSON
summary, the exit status).
"""
import argparse
import os
import os.path as osp
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from mmengine.fileio import dump

from mmdr.utils.atomic_write import open_atomic
from mmdr.utils.file_hash import sha256_file
from .clip_jobs import (JPEG_QUALITY, MARKER_DIR, ClipJob, Settings, classify,
                        estimate_disk, prepare_clip, read_marker,
                        remove_outputs, settings_dict, worker_init)
from .parallel import plan_line, run_parallel, warn_exit

SKIPPED = 'skipped.txt'
#: Exit status of an interrupted run (as a shell reports SIGINT).
INTERRUPTED = 130
AUDIO_CHOICES = ('wav', 'fbank', 'both')

# ------------------------------------------------------- summary outputs


def write_text(path: str, text: str) -> None:
    """Write a text file atomically, its line ends as ``text`` has them."""
    with open_atomic(path, newline='') as f:
        f.write(text)


def write_skipped(path: str, skipped: List[Tuple[str, str]],
                  tool: str) -> None:
    """``skipped.txt``: a comment line, then ``<clip>  # reason`` lines."""
    lines = [
        f'# Clips left out of every list: <clip>  # reason '
        f'(written by {tool})\n'
    ]
    lines += [f'{name}  # {why}\n' for name, why in skipped]
    write_text(path, ''.join(lines))


def foreign_tree(out: str) -> Optional[str]:
    """Why ``visual/`` or ``audio/`` must not be touched without
    ``--overwrite``: they hold files but this tool's markers are absent."""
    if osp.isdir(osp.join(out, MARKER_DIR)):
        return None
    for sub in ('visual', 'audio'):
        folder = osp.join(out, sub)
        if osp.isdir(folder) and os.listdir(folder):
            return (f'{folder} holds files this tool did not write (no '
                    f'{osp.join(out, MARKER_DIR)}/): pass --overwrite to '
                    'prepare every clip again (files of other clips stay), '
                    'or use another output folder.')
    return None


# -------------------------------------------------------- the command line


def add_clip_arguments(parser: argparse.ArgumentParser, audio_help: str,
                       keep_size: str, min_frames: int,
                       min_frames_help: str) -> None:
    """Add ``--audio``, ``--short-side``, ``--jpeg-quality``, ``--min-frames``.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        audio_help (str): Help of ``--audio`` (names the tool's WAV rate).
        keep_size (str): What ``--short-side 0`` keeps, e.g. ``480x360``.
        min_frames (int): Default of ``--min-frames``.
        min_frames_help (str): Help of ``--min-frames``.
    """
    parser.add_argument(
        '--audio', choices=AUDIO_CHOICES, default='wav', help=audio_help)
    parser.add_argument(
        '--short-side',
        type=int,
        default=0,
        help=f'resize the frames\' short side to this (0: keep {keep_size})')
    parser.add_argument(
        '--jpeg-quality', type=int, default=JPEG_QUALITY, help='1..100')
    parser.add_argument(
        '--min-frames', type=int, default=min_frames, help=min_frames_help)


def add_run_arguments(parser: argparse.ArgumentParser, val_size_help: str,
                      seed_help: str) -> None:
    """Add ``--val-size``, ``--seed`` and the options of a run
    (``--workers``, ``--dry-run``, ``--sample-clips``, ``--strict``,
    ``--overwrite``), in this order (the order of ``--help``)."""
    parser.add_argument('--val-size', type=int, help=val_size_help)
    parser.add_argument('--seed', type=int, default=0, help=seed_help)
    parser.add_argument(
        '--workers',
        type=int,
        default=os.cpu_count() or 1,
        help='processes preparing clips (default: all cores)')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='write nothing; print the plan and a disk space estimate')
    parser.add_argument(
        '--sample-clips',
        type=int,
        default=4,
        help='clips decoded for the --dry-run disk estimate')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='exit with status 1 when a clip was skipped')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='prepare clips in visual/ and audio/ folders this tool did not '
        'write')


def check_arguments(parser: argparse.ArgumentParser,
                    args: argparse.Namespace) -> None:
    """Reject bad values of the options added here (``parser.error``)."""
    if args.short_side < 0:
        parser.error('--short-side must not be negative')
    if not 1 <= args.jpeg_quality <= 100:
        parser.error('--jpeg-quality must lie in 1..100')
    if args.min_frames < 1 or args.workers < 1 or args.sample_clips < 1:
        parser.error('--min-frames, --workers and --sample-clips must be '
                     'at least 1')
    if args.val_size is not None and args.val_size < 0:
        parser.error('--val-size must not be negative')


def settings_line(args: argparse.Namespace,
                  audio_note: str = '',
                  tail: str = '') -> str:
    """``Settings: frames at 1 fps, ...``: the options of the clips.

    Args:
        args (argparse.Namespace): The parsed options.
        audio_note (str): Follows ``audio <choice>``.
        tail (str): Ends the line.

    Returns:
        str: The line.
    """
    return (f'Settings: frames at 1 fps, short side '
            f'{args.short_side or "kept"}, JPEG quality {args.jpeg_quality}; '
            f'audio {args.audio}{audio_note}; --min-frames {args.min_frames}'
            f'{tail}')


def print_sizes(sizes: Dict[str, int], suffix: str = '') -> None:
    """Print ``name  N clips`` lines."""
    width = max(len(n) for n in sizes)
    for name, size in sizes.items():
        print(f'  {name:<{width}}  {size:>6} clips{suffix}')


# ------------------------------------------------------------- a whole run


class Outcome(NamedTuple):
    """What a run made of its clips.

    Attributes:
        prepared (dict[str, int]): Frames of every prepared clip by name.
        skipped (list[tuple[str, str]]): ``(name, reason)`` of the clips
            left out (missing or unusable input), sorted.
        failed (list[tuple[str, str]]): ``(name, reason)`` of the clips
            that failed otherwise (e.g. a write error), sorted.
    """
    prepared: Dict[str, int]
    skipped: List[Tuple[str, str]]
    failed: List[Tuple[str, str]]


def to_prepare(state: Dict[str, List]) -> List[ClipJob]:
    """The clips of a plan that are (re)prepared, sorted."""
    return sorted(state['new'] + [job for job, _ in state['redo']])


def plan(out: str, jobs: List[ClipJob],
         args: argparse.Namespace) -> Tuple[Dict[str, List], Optional[str]]:
    """Check the output tree, sort the clips and print the plan.

    Args:
        out (str): The output root.
        jobs (list[ClipJob]): Every clip to have.
        args (argparse.Namespace): ``--overwrite`` and ``--dry-run``.

    Returns:
        tuple: :func:`classify`'s result and :func:`foreign_tree`'s.

    Raises:
        SystemExit: ``out`` holds files of another tool, unless
            ``--overwrite`` or ``--dry-run``.
    """
    problem = foreign_tree(out)
    if problem and not args.overwrite and not args.dry_run:
        raise SystemExit(problem)
    state = classify(jobs)
    print(plan_line(len(jobs), state))
    return state, problem


def dry_run(state: Dict[str, List], problem: Optional[str],
            args: argparse.Namespace, lists: Callable[[], Dict[str, List]],
            title: str, missing: List[Tuple[str, str]]) -> int:
    """``--dry-run``: print the disk estimate and the lists' sizes.

    Args:
        state (dict): :func:`plan`'s plan.
        problem (str | None): :func:`plan`'s objection to the tree.
        args (argparse.Namespace): ``--overwrite`` and ``--sample-clips``.
        lists (Callable): The lists a run would write, by file name; called
            after the (slow) estimate, as it may stop the tool.
        title (str): The line above the lists' sizes.
        missing (list[tuple[str, str]]): Clips missing a source file.

    Returns:
        int: The exit status, 0.
    """
    print('Dry run: nothing is written.')
    if problem and not args.overwrite:
        print(f'Note: a real run would stop here: {problem}')
    print(estimate_disk(to_prepare(state), args.sample_clips))
    rows = lists()
    print(title)
    print_sizes({n: len(r) for n, r in rows.items()})
    if missing:
        print_problems(missing, [])
    return 0


def execute(state: Dict[str, List], workers: int,
            min_frames: int) -> Tuple[Dict[str, int], List, List]:
    """Prepare the clips a plan names and collect every clip's outcome.

    Clips already done keep their files, except where they have fewer
    frames than ``min_frames`` (a run with a larger ``--min-frames``): those
    are removed and skipped like any short clip.

    Args:
        state (dict): :func:`classify`'s result.
        workers (int): Processes.
        min_frames (int): ``--min-frames``.

    Returns:
        tuple: Frames of every prepared clip by name, the skipped clips and
        the failed ones as sorted ``(name, reason)`` lists.

    Raises:
        KeyboardInterrupt: The run was interrupted (finished clips stay).
    """
    frames, skipped = {}, []
    for job in state['done']:
        count = read_marker(job.out, job.name)['frames']
        if count < min_frames:
            remove_outputs(job.out, job.name)
            skipped.append((job.name, f'{count} frame(s) at 1 fps: at least '
                            f'{min_frames} are needed (--min-frames)'))
        else:
            frames[job.name] = count
    todo = to_prepare(state)
    print(f'Preparing {len(todo)} clip(s) with {workers} worker(s):')
    results = run_parallel(prepare_clip, todo, workers, worker_init)
    failed = []
    for r in results:
        if r['status'] == 'done':
            frames[r['name']] = r['frames']
        elif r['status'] == 'corrupt':
            skipped.append((r['name'], r['reason']))
        else:
            failed.append((r['name'], r['reason']))
    return frames, sorted(skipped), sorted(failed)


def run_clips(out: str, state: Dict[str, List], args: argparse.Namespace,
              missing: List[Tuple[str, str]], stat: str,
              classes: Sequence[str]) -> Optional[Outcome]:
    """Prepare the clips of a plan (a run that writes).

    Files of clips now missing a source are removed first, and the class
    file ``stat`` is written if absent.

    Args:
        out (str): The output root.
        state (dict): :func:`plan`'s plan.
        args (argparse.Namespace): ``--workers`` and ``--min-frames``.
        missing (list[tuple[str, str]]): Clips missing a source file, with
            the reasons.
        stat (str): File name of the class list, e.g. ``stat.csv``.
        classes (Sequence[str]): The class names, one a line there.

    Returns:
        Outcome | None: What became of the clips; None when interrupted
        (the message is printed; exit with :data:`INTERRUPTED`).
    """
    os.makedirs(osp.join(out, MARKER_DIR), exist_ok=True)
    for name, _ in missing:  # no stale files of a clip now left out
        remove_outputs(out, name)
    if not osp.isfile(osp.join(out, stat)):
        write_text(osp.join(out, stat), ''.join(f'{c}\n' for c in classes))
    try:
        prepared, corrupt, failed = execute(state, args.workers,
                                            args.min_frames)
    except KeyboardInterrupt:
        print('\nInterrupted: finished clips are kept; rerun the same '
              'command to resume.')
        return None
    return Outcome(prepared, sorted(missing + corrupt), failed)


def write_lists(out: str, lists: Dict[str, List], text: Callable[[List], str],
                outcome: Outcome, tool: str) -> Dict[str, Dict]:
    """Write our lists and ``skipped.txt`` under ``out``.

    Args:
        out (str): The output root.
        lists (dict): Rows of every list by file name.
        text (Callable): A list's file content from its rows.
        outcome (Outcome): The run's outcome.
        tool (str): The tool, named in ``skipped.txt``.

    Returns:
        dict: ``rows`` and ``sha256`` of every list, by file name.
    """
    files = {}
    for name, rows in lists.items():
        write_text(osp.join(out, name), text(rows))
        files[name] = dict(
            rows=len(rows), sha256=sha256_file(osp.join(out, name)))
    write_skipped(
        osp.join(out, SKIPPED), outcome.skipped + outcome.failed, tool)
    return files


def write_meta(out: str, name: str, tool: str, settings: Settings,
               args: argparse.Namespace, outcome: Outcome, clips: Dict,
               files: Dict[str, Dict], stat: str, authors: Dict[str, List],
               **extra) -> Dict[str, List[str]]:
    """Write the tool's JSON summary of the tree (not of the run).

    Args:
        out (str): The output root.
        name (str): The JSON file's name.
        tool (str): The tool.
        settings (Settings): The clips' settings.
        args (argparse.Namespace): ``--min-frames``.
        outcome (Outcome): The run's outcome.
        clips (dict): The tool's own clip counts.
        files (dict): :func:`write_lists`'s record.
        stat (str): File name of the class list.
        authors (dict): Rows (clip first) of the authors' files read.
        **extra: The tool's own entries.

    Returns:
        dict: The authors' clips not prepared, by file name.
    """
    prepared = outcome.prepared
    not_prepared = {
        n: sorted(c for c, _ in rows if c not in prepared)
        for n, rows in authors.items()
    }
    meta = dict(
        tool=tool,
        settings=dict(settings_dict(settings), min_frames=args.min_frames),
        clips=dict(
            clips,
            prepared=len(prepared),
            skipped=len(outcome.skipped),
            failed=len(outcome.failed)),
        skipped=[dict(clip=c, reason=w) for c, w in outcome.skipped],
        failed=[dict(clip=c, reason=w) for c, w in outcome.failed],
        lists=files,
        stat=dict(sha256=sha256_file(osp.join(out, stat))),
        authors_files={
            n: dict(rows=len(authors[n]), not_prepared=not_prepared[n])
            for n in authors
        },
        **extra)
    write_text(
        osp.join(out, name),
        dump(meta, file_format='json', indent=2, sort_keys=True) + '\n')
    return not_prepared


def print_written(out: str, lists: Dict[str, List], meta: str,
                  outcome: Outcome) -> None:
    """``Wrote N lists, ...`` and the lists' sizes."""
    entries = len(outcome.skipped + outcome.failed)
    print(f'Wrote {len(lists)} lists, {SKIPPED} ({entries} entries) and '
          f'{meta} to {out}:')
    print_sizes({n: len(r) for n, r in lists.items()})


def print_problems(skipped: List[Tuple[str, str]],
                   failed: List[Tuple[str, str]],
                   limit: int = 50) -> None:
    """Print the skipped and failed clips with their reasons (the first
    ``limit`` of each; all are in ``skipped.txt``)."""
    for title, items in (('Skipped', skipped), ('Failed', failed)):
        if items:
            print(f'{title} ({len(items)}):')
            for name, why in items[:limit]:
                print(f'  {name}: {why}')
            if len(items) > limit:
                print(f'  ... and {len(items) - limit} more (all in '
                      'skipped.txt)')


def exit_status(skipped: List, failed: List, strict: bool) -> int:
    """0, or 1 for failures (or skipped clips with ``--strict``)."""
    if failed:
        print(f'ERROR: {len(failed)} clip(s) failed for another reason than '
              'a missing or unusable input (see above); exit status 1.')
        return 1
    if skipped:
        return warn_exit(
            f'{len(skipped)} clip(s) skipped (named above and in '
            'skipped.txt); they are in none of our lists', strict)
    return 0


def finish(outcome: Outcome, strict: bool) -> int:
    """Print the skipped and failed clips; return the exit status."""
    print_problems(outcome.skipped, outcome.failed)
    return exit_status(outcome.skipped, outcome.failed, strict)
