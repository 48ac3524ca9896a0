"""Clips listed by annotations, named by their video files: the run of the
preparation tools of Kinetics-Sounds, VGGSound and BalancedAV.

Each tool reads its annotations into clips (name to label and split) and
hands them to :func:`prepare_listed_clips` with a :class:`ListSpec`: the
videos are found by name under ``--videos``, every clip of the prepared
splits becomes frames and audio (:mod:`mmdr.preparation.clip_jobs`), and
the lists are written: ``mmdr_train.txt``, ``mmdr_test.txt`` and the
validation carve ``mmdr_carve_{train,val}.txt`` (rows ``<name>,<n>,
<label>``, no header, sorted by name; ``n`` is the clip's 1-fps frames).
A clip that is annotated but has no video file is never dropped silently:
it is counted, named in ``skipped.txt`` (``missing: no video file under
--videos``) and in the JSON summary, and the data sets leave the clips of
``skipped.txt`` out with a warning that counts them.
"""
import argparse
import csv
import os
import os.path as osp
from typing import (Callable, Dict, List, NamedTuple, Optional, Pattern,
                    Sequence, Tuple)

from . import clip_cli
from .clip_jobs import ClipJob, Settings

# mmdr's carve (mmdr.datasets.splits) is imported where it is used: the
# spawned workers import the tools and need none of mmdr.datasets.

TRAIN, TEST = 'mmdr_train.txt', 'mmdr_test.txt'
CARVE_LIST = 'mmdr_carve_{}.txt'
STAT = 'stat.txt'
WAV_RATE = 16000
VIDEO_EXTS = ('.mp4', )
MISSING = 'missing: no video file under --videos'


class ListSpec(NamedTuple):
    """What a tool's run depends on, besides its annotations.

    Attributes:
        tool (str): The tool, as the repository names it.
        meta (str): File name of its JSON summary.
        splits (tuple[str, str]): The annotation splits prepared: the
            training split and the one written to ``mmdr_test.txt``.
        name_re (Pattern): Stems of the clips' video files.
        name_form (str): That form, for messages.
        by_video (bool): Whether the carve draws whole YouTube videos.
        authors_files (tuple[str]): Lists of others read (never written)
            from the output folder.
    """
    tool: str
    meta: str
    splits: Tuple[str, str]
    name_re: Pattern
    name_form: str
    by_video: bool = False
    authors_files: Tuple[str, ...] = ()


def parse_list_args(
        argv: Optional[Sequence[str]],
        description: str,
        out: str,
        annotations_help: str,
        train_list_help: str = 'the list the carve splits (default: '
    'mmdr_train.txt)',
        one_annotation_file: bool = False) -> argparse.Namespace:
    """Parse and check a tool's options: ``--videos``, ``--annotations``,
    ``--out``, ``--train-list`` and the clip and run options of
    :mod:`mmdr.preparation.clip_cli`.

    Args:
        argv (Sequence[str], optional): The arguments; None reads
            ``sys.argv``.
        description (str): The tool's ``--help`` line.
        out (str): Default of ``--out``.
        annotations_help (str): Help of ``--annotations``.
        train_list_help (str): Help of ``--train-list``.
        one_annotation_file (bool): Refuse more than one annotation file.

    Returns:
        argparse.Namespace: The options.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        '--videos', required=True, help='folder of the .mp4 clips')
    parser.add_argument(
        '--annotations', required=True, nargs='+', help=annotations_help)
    parser.add_argument(
        '--out', default=out, help='receives visual/, audio/ and the lists')
    clip_cli.add_clip_arguments(
        parser,
        audio_help='wav: audio/<name>.wav at 16 kHz; fbank: audio/<name>.pt '
        '(1024x128 Kaldi filterbank); both',
        keep_size='the size',
        min_frames=3,
        min_frames_help='skip clips with fewer 1-fps frames (the reference '
        'picks 3)')
    parser.add_argument('--train-list', help=train_list_help)
    clip_cli.add_run_arguments(
        parser,
        val_size_help='clips in mmdr_carve_val.txt (default: 10%% of the '
        'list)',
        seed_help='seed of the carve')
    args = parser.parse_args(argv)
    clip_cli.check_arguments(parser, args)
    if one_annotation_file and len(args.annotations) != 1:
        parser.error('--annotations takes one file')
    return args


def find_videos(videos_dir: str,
                name_re: Pattern) -> Tuple[Dict[str, str], List[str], int]:
    """Clip files under ``videos_dir``, recursively.

    Args:
        videos_dir (str): The folder.
        name_re (Pattern): Stems of clip files.

    Returns:
        tuple: Name to file (the first in sorted order where a name is
        found twice), the names found twice, and the number of video files
        whose name is not a clip name.
    """
    if not osp.isdir(videos_dir):
        raise SystemExit(f'{videos_dir} is not a folder')
    found: Dict[str, str] = {}
    twice, unnamed = [], 0
    for folder, dirs, names in os.walk(videos_dir):
        dirs.sort()
        for file in sorted(names):
            stem, ext = osp.splitext(file)
            if ext.lower() not in VIDEO_EXTS:
                continue
            if name_re.match(stem) is None:
                unnamed += 1
            elif stem in found:
                twice.append(stem)
            else:
                found[stem] = osp.join(folder, file)
    return found, sorted(set(twice)), unnamed


def read_list(path: str) -> List[Tuple[str, int]]:
    """``(name, label)`` of a list of rows ``<name>,<n>,<label>``."""
    items = []
    with open(path, newline='', encoding='utf-8-sig') as f:
        for line, row in enumerate(csv.reader(f), start=1):
            cells = [c.strip() for c in row]
            if not any(cells):
                continue
            try:
                items.append((cells[0], int(cells[2])))
            except (IndexError, ValueError):
                raise SystemExit(f'{path}, line {line}: expected '
                                 f'<name>,<n>,<label>, got {",".join(row)!r}')
    return items


def list_text(rows: List[Tuple[str, int, int]]) -> str:
    """A list's content: rows ``<name>,<n>,<label>``, no header."""
    return ''.join(f'{n},{frames},{label}\n' for n, frames, label in rows)


def make_lists(args: argparse.Namespace,
               clips: Dict[str, Tuple[int, str]],
               carve_source: Optional[Tuple[str, List[Tuple[str, int]]]],
               prepared: Dict[str, int],
               splits: Tuple[str, str] = ('train', 'val'),
               by_video: bool = False) -> Tuple[Dict, Dict]:
    """Rows of our lists and the carve's record.

    Args:
        args (argparse.Namespace): Seed and ``--val-size``.
        clips (dict): Annotated clips (name to label and split).
        carve_source (tuple | None): The list to carve: its file name and
            its ``(name, label)`` rows; None: ``mmdr_train.txt``.
        prepared (dict): Frames of every prepared clip.
        splits (tuple[str, str]): The annotation splits of
            ``mmdr_train.txt`` and ``mmdr_test.txt``.
        by_video (bool): Draw whole YouTube videos; ``--val-size`` and its
            10 % default then count videos.

    Returns:
        tuple[dict, dict]: Rows ``(name, n, label)`` by file name, and the
        record of the carve.
    """
    from mmdr.datasets.splits import (default_val_size, stratified_group_carve,
                                      youtube_video)

    def with_rows(names):
        return [(n, prepared[n], clips[n][0])
                for n in sorted(n for n in names if n in prepared)]

    lists = {
        TRAIN: with_rows(n for n, (_, s) in clips.items() if s == splits[0]),
        TEST: with_rows(n for n, (_, s) in clips.items() if s == splits[1])
    }
    if carve_source is None:
        carve_source = (TRAIN, [(n, label) for n, _, label in lists[TRAIN]])
    source_name, source = carve_source
    group_of = youtube_video if by_video else str
    drawn = len({group_of(n) for n, _ in source})
    val_size = args.val_size
    if val_size is None:
        val_size = default_val_size(drawn)
    if val_size > drawn:
        unit = 'videos' if by_video else 'clips'
        raise SystemExit(f'--val-size {val_size} exceeds the {drawn} '
                         f'{unit} of the training list')
    train, val = stratified_group_carve(source, val_size, group_of, args.seed)
    lists[CARVE_LIST.format('train')] = with_rows(n for n, _ in train)
    lists[CARVE_LIST.format('val')] = with_rows(n for n, _ in val)
    mismatch = sorted(n for n, label in source
                      if n in clips and clips[n][0] != label)
    record = dict(
        seed=args.seed,
        val_size=val_size,
        source=source_name,
        left_out=sorted(n for n, _ in source if n not in prepared),
        label_mismatches=mismatch)
    if by_video:
        record['unit'] = 'YouTube videos'
    return lists, record


def prepare_listed_clips(args: argparse.Namespace,
                         spec: ListSpec,
                         annotated: Dict[str, Tuple[int, str]],
                         classes: Sequence[str],
                         summary: Optional[Callable[[Dict], None]] = None,
                         **extra) -> int:
    """Prepare the annotated clips of ``spec.splits`` and write the lists.

    Args:
        args (argparse.Namespace): The options of :func:`add_list_arguments`.
        spec (ListSpec): The tool's constants.
        annotated (dict): Every annotated clip: name to ``(label, split)``.
        classes (Sequence[str]): Class names (label = index), written to
            ``stat.txt`` if absent.
        summary (Callable, optional): Prints the tool's own lines after
            the summary, given the carve's record.
        **extra: Entries of the JSON summary.

    Returns:
        int: The exit status.
    """
    out = args.out
    videos, twice, unnamed = find_videos(args.videos, spec.name_re)
    wanted = {n: v for n, v in annotated.items() if v[1] in spec.splits}
    missing = sorted((n, MISSING) for n in wanted if n not in videos)
    kinds = '/'.join(spec.splits)
    notes = []
    if unnamed:
        notes.append(f'{unnamed} files not named {spec.name_form}')
    if twice:
        notes.append(f'{len(twice)} names found twice, the first file (in '
                     f'sorted order) used: {" ".join(twice[:10])}' +
                     (' ...' if len(twice) > 10 else ''))
    notes = ''.join(f'; {n}' for n in notes)
    print(f'Videos: {len(videos)} clip files under {args.videos}; '
          f'{len(wanted) - len(missing)} of the {len(wanted)} {kinds} '
          f'clips found, {len(missing)} missing{notes}')

    train_list, carve_source = args.train_list, None
    for name in spec.authors_files[:1]:
        if train_list is None and osp.isfile(osp.join(out, name)):
            train_list = osp.join(out, name)
    if train_list is not None:
        if not osp.isfile(train_list):
            raise SystemExit(f'--train-list {train_list} is missing')
        carve_source = (osp.basename(train_list), read_list(train_list))
    authors = {
        n: read_list(osp.join(out, n))
        for n in spec.authors_files if osp.isfile(osp.join(out, n))
    }

    settings = Settings(WAV_RATE, args.audio, args.short_side,
                        args.jpeg_quality)
    carve_name = carve_source[0] if carve_source else TRAIN
    print(clip_cli.settings_line(args, tail=f'; carve of {carve_name}'))
    jobs = [
        ClipJob(n, videos[n], None, out, settings, args.min_frames)
        for n in sorted(wanted) if n in videos
    ]
    state, problem = clip_cli.plan(out, jobs, args)

    def lists_of(prepared):
        return make_lists(args, annotated, carve_source, prepared, spec.splits,
                          spec.by_video)

    if args.dry_run:
        expected = {j.name: 0 for j in jobs}
        return clip_cli.dry_run(
            state, problem, args, lambda: lists_of(expected)[0],
            'Lists it would write (if every clip found prepares):', missing)

    outcome = clip_cli.run_clips(out, state, args, missing, STAT, classes)
    if outcome is None:
        return clip_cli.INTERRUPTED
    prepared = outcome.prepared
    lists, carve = lists_of(prepared)
    files = clip_cli.write_lists(out, lists, list_text, outcome, spec.tool)
    not_prepared = clip_cli.write_meta(
        out,
        spec.meta,
        spec.tool,
        settings,
        args,
        outcome, {
            'annotated': len(annotated),
            '_'.join(spec.splits): len(wanted),
            'missing': len(missing)
        },
        files,
        STAT,
        authors,
        annotations=[osp.basename(p) for p in args.annotations],
        carve=carve,
        **extra)

    print(f'Summary: {len(wanted)} {kinds} clips annotated, '
          f'{len(prepared)} prepared, {len(outcome.skipped)} skipped '
          f'({len(missing)} missing), {len(outcome.failed)} failed.')
    clip_cli.print_written(out, lists, spec.meta, outcome)
    unit = carve.get('unit', 'clips')
    print(f'  carve of {carve["source"]}: {carve["val_size"]} {unit} drawn '
          f'for validation (seed {args.seed}); {len(carve["left_out"])} '
          'clip(s) of it not prepared, left out')
    if carve['label_mismatches']:
        print(f'WARNING: {len(carve["label_mismatches"])} clip(s) of '
              f'{carve["source"]} have another label there than in the '
              'annotations (the annotations\' is written), e.g. '
              f'{carve["label_mismatches"][0]}')
    for name, left in not_prepared.items():
        print(f'  {name} (the authors\', read only): {len(authors[name])} '
              f'rows, {len(left)} not prepared' +
              (': ' + ' '.join(left[:10]) +
               (' ...' if len(left) > 10 else '') if left else ''))
    if summary is not None:
        summary(carve)
    return clip_cli.finish(outcome, args.strict)
