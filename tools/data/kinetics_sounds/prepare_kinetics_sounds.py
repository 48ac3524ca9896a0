"""Prepare Kinetics-Sounds from Kinetics-400 clips: frames, audio, lists.

Takes Kinetics-400 as the public downloaders leave it:

* ``--videos DIR``: ``<youtube_id>_<start:06d>_<end:06d>.mp4`` files, e.g.
  ``--4-0ihtnBU_000058_000068.mp4``, found recursively (downloaders put
  them in ``train/``, ``val/`` or per-class folders). A YouTube id may hold
  ``_`` and ``-``: the name is parsed from its last two fields.
* ``--annotations CSV [CSV ...]``: Kinetics' annotation files (``label,
  youtube_id,time_start,time_end,split``, some with ``is_cc``). Labels are
  normalised (case, ``_`` for spaces, quotes); only rows of the 31
  Kinetics-Sounds classes (``mmdr.datasets.kinetics_sounds_dataset.
  KINETICS_SOUNDS_CLASSES``, label = index) of the splits ``train`` and
  ``val`` are prepared.

and writes under ``--out`` (default ``data/kinetics_sounds``) the layout of
OGM-GE and Diagnosing & Re-learning:

* ``visual/<name>/frame_00001.jpg`` ...: 1 frame per second (frame k: the
  first decoded frame at or after k - 1 s: 10 for a 10 s clip), original
  size unless ``--short-side``; see ``mmdr/preparation/media.py``.
* ``audio/<name>.wav`` (``--audio wav``, the default, or ``both``): the
  clip's audio track decoded with PyAV, channels averaged, resampled to
  16 kHz (soxr HQ), 16-bit PCM: what OGM-GE's ``ffmpeg -i <mp4> -acodec
  pcm_s16le -ar 16000 <wav>`` gives, mixed down to mono (OGM-GE's
  filterbank script takes the first channel of a stereo file).
* ``audio/<name>.pt`` (``--audio fbank`` or ``both``): ``torch.save`` of the
  float32 (1024, 128) Kaldi filterbank of that 16-bit WAV audio
  (``mmdr.audio.frontends.kaldi_fbank``): OGM-GE's ``process_audio.py``.
* ``stat.txt``: the 31 class names, one a line (written only if absent).
* Lists of the prepared clips, rows ``<name>,<n>,<label>`` without a
  header, sorted by name, as the authors' ``my_train.txt``: ``n`` is the
  number of 1-fps frames written, i.e. the duration rounded up to whole
  seconds (10 for a whole Kinetics clip; readers ignore it), ``label`` the
  class index.

  - ``mmdr_train.txt``: annotation split ``train``;
    ``mmdr_test.txt``: annotation split ``val`` (Kinetics' validation set,
    the test set of this line of work);
  - ``mmdr_carve_train.txt``, ``mmdr_carve_val.txt``: a seeded carve of
    the training list, stratified by label (``mmdr/datasets/splits/``:
    the data set makes the same carve in memory when these files are
    absent), ``--val-size`` (default 10%) in the validation part.
    The training list is ``--train-list``, by default the authors'
    ``my_train.txt`` (14,799 rows) where it is in ``--out``, else
    ``mmdr_train.txt``; the carve is drawn from the whole list, then clips
    not prepared are left out.

  The authors' ``my_train.txt`` and ``my_test.txt``, if present in
  ``--out``, are read and never written; their clips that were not
  prepared are reported.
* ``skipped.txt``: ``<name>  # reason`` for every clip left out: no video
  file, a truncated or corrupt one, one without an audio track (never
  dropped silently), or fewer than ``--min-frames`` frames (default 3: the
  reference picks 3 frames a clip).
* ``mmdr_kinetics_sounds_prepare.json``: settings, counts, the skipped
  clips, every list's size and SHA-256; it describes the tree, not the run
  (an interrupted and resumed run gives the same bytes, every file
  included).
* ``.mmdr_prepare/<name>.done``: the per-clip markers.

Parallel (``--workers``) with a progress bar; resumable (a clip's marker is
written last, atomically; a rerun skips finished clips and redoes
half-written ones, ones made with other settings or from a changed
video). Exit status: 0 when every clip was prepared; also 0 (with a
warning) when clips were skipped, unless ``--strict`` (then 1); 1 when
something else failed or the input is wrong (the message names file and
line); 130 when interrupted (rerun the same command to resume).

Examples:
    python tools/data/kinetics_sounds/prepare_kinetics_sounds.py \
        --videos data/kinetics400/videos \
        --annotations data/kinetics400/annotations/{train,validate}.csv \
        --out data/kinetics_sounds --dry-run
"""
import argparse
import csv
import os
import os.path as osp
import re
import sys
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from mmdr.preparation import clip_cli
from mmdr.preparation.clip_jobs import ClipJob, Settings

# mmdr's carve (mmdr.datasets.splits) is imported where it is used: the
# spawned workers import this script and need none of mmdr.datasets.

TOOL = 'tools/data/kinetics_sounds/prepare_kinetics_sounds.py'
META = 'mmdr_kinetics_sounds_prepare.json'
STAT = 'stat.txt'
WAV_RATE = 16000
TRAIN, TEST = 'mmdr_train.txt', 'mmdr_test.txt'
CARVE_LIST = 'mmdr_carve_{}.txt'
AUTHORS_FILES = ('my_train.txt', 'my_test.txt')
#: ``<youtube_id>_<start:06d>_<end:06d>``; the id may hold ``_``.
NAME_RE = re.compile(r'^(.+)_(\d{6})_(\d{6})$')
#: Split names of the annotation files, as this tool uses them.
SPLITS = dict(train='train', val='val', validate='val', test='test')
COLUMNS = ('label', 'youtube_id', 'time_start', 'time_end', 'split')
VIDEO_EXTS = ('.mp4', )


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Prepare Kinetics-Sounds from Kinetics-400 clips: '
        '1-fps frames, audio files and split lists')
    parser.add_argument(
        '--videos', required=True, help='folder of the .mp4 clips')
    parser.add_argument(
        '--annotations',
        required=True,
        nargs='+',
        help='Kinetics-400 annotation CSV files (train.csv, validate.csv)')
    parser.add_argument(
        '--out',
        default='data/kinetics_sounds',
        help='receives visual/, audio/ and the lists')
    clip_cli.add_clip_arguments(
        parser,
        audio_help='wav: audio/<name>.wav at 16 kHz; fbank: audio/<name>.pt '
        '(1024x128 Kaldi filterbank); both',
        keep_size='the size',
        min_frames=3,
        min_frames_help='skip clips with fewer 1-fps frames (the reference '
        'picks 3)')
    parser.add_argument(
        '--train-list',
        help='the list the carve splits (default: OUT/my_train.txt if '
        'present, else mmdr_train.txt)')
    clip_cli.add_run_arguments(
        parser,
        val_size_help='clips in mmdr_carve_val.txt (default: 10%% of the '
        'list)',
        seed_help='seed of the carve')
    args = parser.parse_args(argv)
    clip_cli.check_arguments(parser, args)
    return args


# ------------------------------------------------------------------ inputs


def parse_name(stem: str) -> Tuple[str, int, int]:
    """YouTube id, start and end of a clip name.

    Args:
        stem (str): E.g. ``--4-0ihtnBU_000058_000068``.

    Returns:
        tuple[str, int, int]: ``('--4-0ihtnBU', 58, 68)``.

    Raises:
        ValueError: Not ``<youtube_id>_<start:06d>_<end:06d>``.
    """
    match = NAME_RE.match(stem)
    if match is None:
        raise ValueError(f'{stem!r} is not <youtube_id>_<start:06d>_'
                         '<end:06d>')
    return match.group(1), int(match.group(2)), int(match.group(3))


def normalise_label(label: str) -> str:
    """``'Playing_bagpipes'`` and ``'"playing bagpipes"'`` -> ``'playing
    bagpipes'``."""
    return ' '.join(label.strip().strip('"\'').replace('_',
                                                       ' ').split()).lower()


def read_annotations(
    paths: Sequence[str], classes: Sequence[str]
) -> Tuple[Dict[str, Tuple[int, str]], Dict[str, int]]:
    """Kinetics-Sounds clips of the annotation files.

    Args:
        paths (Sequence[str]): Annotation CSV files.
        classes (Sequence[str]): The class names (label = index).

    Returns:
        tuple[dict, dict]: Clip name to ``(label, split)`` (split ``train``,
        ``val`` or ``test``), and counts: ``rows`` read, ``other`` (rows of
        other classes).

    Raises:
        SystemExit: A missing file or column, a malformed row, or a clip
            given twice with different labels or splits (naming files and
            lines).
    """
    index = {normalise_label(c): i for i, c in enumerate(classes)}
    clips: Dict[str, Tuple[int, str]] = {}
    where: Dict[str, str] = {}
    counts = dict(rows=0, other=0)
    for path in paths:
        if not osp.isfile(path):
            raise SystemExit(f'{path} is missing')
        with open(path, newline='', encoding='utf-8-sig') as f:
            reader = csv.DictReader(f)
            absent = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if absent:
                raise SystemExit(f'{path}, line 1: no column(s) '
                                 f'{", ".join(absent)} in the header')
            for row in reader:
                place = f'{path}, line {reader.line_num}'
                counts['rows'] += 1
                label = index.get(normalise_label(row['label'] or ''))
                if label is None:
                    counts['other'] += 1
                    continue
                try:
                    name = (f'{row["youtube_id"].strip()}_'
                            f'{int(float(row["time_start"])):06d}_'
                            f'{int(float(row["time_end"])):06d}')
                    split = SPLITS[row['split'].strip().lower()]
                except (AttributeError, KeyError, TypeError,
                        ValueError) as err:
                    raise SystemExit(f'{place}: malformed row ({err!r}): '
                                     f'{row}')
                if name in clips and clips[name] != (label, split):
                    raise SystemExit(
                        f'{place}: clip {name} is {classes[label]!r} '
                        f'({split}), {where[name]} says '
                        f'{classes[clips[name][0]]!r} ({clips[name][1]})')
                clips[name] = (label, split)
                where.setdefault(name, place)
    return clips, counts


def find_videos(videos_dir: str) -> Tuple[Dict[str, str], List[str], int]:
    """Clip files under ``videos_dir``, recursively.

    Returns:
        tuple: Name to file (the first in sorted order where a name is
        found twice), the names found twice, and the number of video files
        whose name is not a Kinetics clip name.
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
            if NAME_RE.match(stem) is None:
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


# -------------------------------------------------------------------- main


def list_text(rows: List[Tuple[str, int, int]]) -> str:
    """A list's content: rows ``<name>,<n>,<label>``, no header."""
    return ''.join(f'{n},{frames},{label}\n' for n, frames, label in rows)


def make_lists(args: argparse.Namespace, clips: Dict[str, Tuple[int, str]],
               carve_source: Optional[Tuple[str, List[Tuple[str, int]]]],
               prepared: Dict[str, int]) -> Tuple[Dict, Dict]:
    """Rows of our lists and the carve's record.

    Args:
        args (argparse.Namespace): Seed and ``--val-size``.
        clips (dict): Annotated clips (name to label and split).
        carve_source (tuple | None): The list to carve: its file name and
            its ``(name, label)`` rows; None: ``mmdr_train.txt``.
        prepared (dict): Frames of every prepared clip.

    Returns:
        tuple[dict, dict]: Rows ``(name, n, label)`` by file name, and the
        record of the carve.
    """
    from mmdr.datasets.splits import default_val_size, stratified_carve

    def rows(names):
        return sorted(
            (n, prepared[n], clips[n][0]) for n in names if n in prepared)

    lists = {
        TRAIN: rows(n for n, (_, s) in clips.items() if s == 'train'),
        TEST: rows(n for n, (_, s) in clips.items() if s == 'val')
    }
    if carve_source is None:
        carve_source = (TRAIN, [(n, label) for n, _, label in lists[TRAIN]])
    source_name, source = carve_source
    val_size = args.val_size
    if val_size is None:
        val_size = default_val_size(len(source))
    if val_size > len(source):
        raise SystemExit(f'--val-size {val_size} exceeds the {len(source)} '
                         'clips of the training list')
    train, val = stratified_carve(source, val_size, args.seed)
    lists[CARVE_LIST.format('train')] = rows(n for n, _ in train)
    lists[CARVE_LIST.format('val')] = rows(n for n, _ in val)
    mismatch = sorted(n for n, label in source
                      if n in clips and clips[n][0] != label)
    record = dict(
        seed=args.seed,
        val_size=val_size,
        source=source_name,
        left_out=sorted(n for n, _ in source if n not in prepared),
        label_mismatches=mismatch)
    return lists, record


def main(argv: Optional[Sequence[str]] = None) -> int:
    from mmdr.datasets.kinetics_sounds_dataset import KINETICS_SOUNDS_CLASSES

    args = parse_args(argv)
    out = args.out
    classes = tuple(KINETICS_SOUNDS_CLASSES)
    annotated, counts = read_annotations(args.annotations, classes)
    videos, twice, unnamed = find_videos(args.videos)
    wanted = {n: v for n, v in annotated.items() if v[1] in ('train', 'val')}
    in_test = len(annotated) - len(wanted)
    missing = sorted((n, 'missing: no video file under --videos')
                     for n in wanted if n not in videos)
    per_split = Counter(s for _, s in annotated.values())
    print(f'Annotations: {counts["rows"]} rows, {len(annotated)} '
          f'Kinetics-Sounds clips ({per_split["train"]} train, '
          f'{per_split["val"]} val, {in_test} test: not prepared), '
          f'{counts["other"]} rows of other classes')
    notes = []
    if unnamed:
        notes.append(f'{unnamed} files not named <id>_<start>_<end>')
    if twice:
        notes.append(f'{len(twice)} names found twice, the first file (in '
                     f'sorted order) used: {" ".join(twice[:10])}' +
                     (' ...' if len(twice) > 10 else ''))
    notes = ''.join(f'; {n}' for n in notes)
    print(f'Videos: {len(videos)} clip files under {args.videos}; '
          f'{len(wanted) - len(missing)} of the {len(wanted)} train/val '
          f'clips found, {len(missing)} missing{notes}')

    train_list, carve_source = args.train_list, None
    if train_list is None and osp.isfile(osp.join(out, 'my_train.txt')):
        train_list = osp.join(out, 'my_train.txt')
    if train_list is not None:
        if not osp.isfile(train_list):
            raise SystemExit(f'--train-list {train_list} is missing')
        carve_source = (osp.basename(train_list), read_list(train_list))
    authors = {
        n: read_list(osp.join(out, n))
        for n in AUTHORS_FILES if osp.isfile(osp.join(out, n))
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

    if args.dry_run:
        expected = {j.name: 0 for j in jobs}
        return clip_cli.dry_run(
            state, problem, args,
            lambda: make_lists(args, annotated, carve_source, expected)[0],
            'Lists it would write (if every clip found prepares):', missing)

    outcome = clip_cli.run_clips(out, state, args, missing, STAT, classes)
    if outcome is None:
        return clip_cli.INTERRUPTED
    prepared = outcome.prepared
    lists, carve = make_lists(args, annotated, carve_source, prepared)
    files = clip_cli.write_lists(out, lists, list_text, outcome, TOOL)
    not_prepared = clip_cli.write_meta(
        out,
        META,
        TOOL,
        settings,
        args,
        outcome,
        dict(annotated=len(annotated), train_val=len(wanted)),
        files,
        STAT,
        authors,
        annotations=[osp.basename(p) for p in args.annotations],
        carve=carve)

    print(f'Summary: {len(wanted)} train/val clips annotated, '
          f'{len(prepared)} prepared, {len(outcome.skipped)} skipped, '
          f'{len(outcome.failed)} failed.')
    clip_cli.print_written(out, lists, META, outcome)
    print(f'  carve of {carve["source"]}: {carve["val_size"]} drawn for '
          f'validation (seed {args.seed}); {len(carve["left_out"])} clip(s) '
          'of it not prepared, left out')
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
    return clip_cli.finish(outcome, args.strict)


if __name__ == '__main__':
    sys.exit(main())
