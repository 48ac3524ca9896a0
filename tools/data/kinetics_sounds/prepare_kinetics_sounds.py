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
import os.path as osp
import re
import sys
from collections import Counter
from typing import Dict, Optional, Sequence, Tuple

from mmdr.preparation import clip_lists
from mmdr.preparation.clip_lists import read_list

__all__ = ['main', 'make_lists', 'parse_name', 'read_annotations', 'read_list']

TOOL = 'tools/data/kinetics_sounds/prepare_kinetics_sounds.py'
SPEC = clip_lists.ListSpec(
    tool=TOOL,
    meta='mmdr_kinetics_sounds_prepare.json',
    splits=('train', 'val'),
    # ``<youtube_id>_<start:06d>_<end:06d>``; the id may hold ``_``.
    name_re=re.compile(r'^(.+)_(\d{6})_(\d{6})$'),
    name_form='<id>_<start>_<end>',
    authors_files=('my_train.txt', 'my_test.txt'))
NAME_RE = SPEC.name_re
#: Split names of the annotation files, as this tool uses them.
SPLITS = dict(train='train', val='val', validate='val', test='test')
COLUMNS = ('label', 'youtube_id', 'time_start', 'time_end', 'split')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    return clip_lists.parse_list_args(
        argv, 'Prepare Kinetics-Sounds from Kinetics-400 clips: 1-fps frames, '
        'audio files and split lists',
        out='data/kinetics_sounds',
        annotations_help='Kinetics-400 annotation CSV files (train.csv, '
        'validate.csv)',
        train_list_help='the list the carve splits (default: '
        'OUT/my_train.txt if present, else mmdr_train.txt)')


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


def make_lists(args: argparse.Namespace, clips: Dict[str, Tuple[int, str]],
               carve_source, prepared: Dict[str, int]) -> Tuple[Dict, Dict]:
    """Kinetics-Sounds' lists: :func:`mmdr.preparation.clip_lists.
    make_lists` of the ``train`` and ``val`` clips, carved clip by clip."""
    return clip_lists.make_lists(args, clips, carve_source, prepared,
                                 SPEC.splits, SPEC.by_video)


# -------------------------------------------------------------------- main


def main(argv: Optional[Sequence[str]] = None) -> int:
    from mmdr.datasets.kinetics_sounds_dataset import KINETICS_SOUNDS_CLASSES

    args = parse_args(argv)
    classes = tuple(KINETICS_SOUNDS_CLASSES)
    annotated, counts = read_annotations(args.annotations, classes)
    per_split = Counter(s for _, s in annotated.values())
    print(f'Annotations: {counts["rows"]} rows, {len(annotated)} '
          f'Kinetics-Sounds clips ({per_split["train"]} train, '
          f'{per_split["val"]} val, {per_split["test"]} test: not '
          f'prepared), {counts["other"]} rows of other classes')
    return clip_lists.prepare_listed_clips(args, SPEC, annotated, classes)


if __name__ == '__main__':
    sys.exit(main())
