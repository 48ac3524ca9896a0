"""Prepare VGGSound from the clips users download: frames, audio, lists.

Takes VGGSound as it is released:

* ``--annotations CSV``: ``vggsound.csv`` (no header; rows ``youtube_id,
  start_seconds,label,split``, e.g. ``---g-f_I2yQ,1,people marching,test``;
  a label holding a comma is quoted). The clip of a row is
  ``<youtube_id>_<start:06d>`` (``---g-f_I2yQ_000001``); ``split`` is
  ``train`` or ``test``. A first row whose seconds are not a number is
  taken for a header.
* ``--videos DIR``: the 10 s clips ``<youtube_id>_<start:06d>.mp4``, found
  recursively (the public copies put them in ``video/`` or split folders).

and writes under ``--out`` (default ``data/vggsound``) the layout of
Kinetics-Sounds (see ``tools/data/kinetics_sounds/prepare_kinetics_sounds.py``
and :mod:`mmdr.preparation.clip_lists`): ``visual/<name>/frame_00001.jpg``
at 1 fps, ``audio/<name>.wav`` at 16 kHz mono (``--audio fbank|both``: the
``.pt`` filterbanks), ``stat.txt`` (the csv's labels, sorted; label =
line index), ``mmdr_train.txt`` and ``mmdr_test.txt`` (the csv's splits),
``mmdr_carve_{train,val}.txt`` (our validation carve of
``mmdr_train.txt``: whole YouTube videos, seeded, stratified by label,
``--val-size`` videos, 10 % by default; the data set makes the same carve
in memory when these files are absent), ``skipped.txt`` and
``mmdr_vggsound_prepare.json``.

Many videos of the csv are no longer on YouTube, so every copy lacks some
clips. They are never dropped silently: the run counts them (``Videos:
... N missing``), names each in ``skipped.txt`` (``missing: no video file
under --videos``) and in the JSON summary, and exits 0 with a warning
(1 with ``--strict``), as for Kinetics-Sounds; the data set leaves the
clips of ``skipped.txt`` out with a warning that counts them. A clip
without an audio track, a truncated or corrupt file and a clip with fewer
than ``--min-frames`` (3) frames are skipped and named the same way.
YouTube videos with clips in both the csv's train and test splits are
counted and named in the summary (the official split is kept).

Parallel (``--workers``), resumable, ``--dry-run``: as Kinetics-Sounds.

Examples:
    python tools/data/vggsound/prepare_vggsound.py \
        --videos data/vggsound/videos --annotations data/vggsound/vggsound.csv \
        --out data/vggsound --workers 16
"""
import argparse
import csv
import os.path as osp
import re
import sys
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from mmdr.preparation import clip_lists

TOOL = 'tools/data/vggsound/prepare_vggsound.py'
SPEC = clip_lists.ListSpec(
    tool=TOOL,
    meta='mmdr_vggsound_prepare.json',
    splits=('train', 'test'),
    # As mmdr.datasets.splits.youtube reads it (not imported: the spawned
    # workers import this script and need none of mmdr.datasets).
    name_re=re.compile(r'^(.+)_(\d{6})$'),
    name_form='<youtube_id>_<start:06d>',
    by_video=True)
SPLITS = ('train', 'test')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    return clip_lists.parse_list_args(
        argv,
        'Prepare VGGSound from its clips and vggsound.csv: 1-fps frames, '
        'audio files and split lists',
        out='data/vggsound',
        annotations_help='vggsound.csv (several files are read as one)')


def read_annotations(
        paths: Sequence[str]) -> Tuple[Dict[str, Tuple[str, str]], int]:
    """The clips of ``vggsound.csv``.

    Args:
        paths (Sequence[str]): The csv files.

    Returns:
        tuple[dict, int]: Clip name to ``(label name, split)``, and the
        rows read.

    Raises:
        SystemExit: A missing file, a malformed row, or a clip given twice
            with different labels or splits (naming files and lines).
    """
    clips: Dict[str, Tuple[str, str]] = {}
    where: Dict[str, str] = {}
    rows = 0
    for path in paths:
        if not osp.isfile(path):
            raise SystemExit(f'{path} is missing')
        with open(path, newline='', encoding='utf-8-sig') as f:
            reader = csv.reader(f)
            for row in reader:
                place = f'{path}, line {reader.line_num}'
                cells = [c.strip() for c in row]
                if not any(cells):
                    continue
                if len(cells) != 4:
                    raise SystemExit(
                        f'{place}: {len(cells)} columns, a vggsound.csv row '
                        f'is youtube_id,start_seconds,label,split: {row}')
                youtube_id, start, label, split = cells
                try:
                    seconds = int(float(start))
                except ValueError:
                    if reader.line_num == 1:
                        continue  # a header
                    raise SystemExit(f'{place}: start seconds {start!r} is '
                                     'not a number')
                if split not in SPLITS or not youtube_id or not label:
                    raise SystemExit(f'{place}: malformed row (split must be '
                                     f'train or test): {row}')
                rows += 1
                name = f'{youtube_id}_{seconds:06d}'
                if name in clips and clips[name] != (label, split):
                    raise SystemExit(
                        f'{place}: clip {name} is {label!r} ({split}), '
                        f'{where[name]} says {clips[name][0]!r} '
                        f'({clips[name][1]})')
                clips[name] = (label, split)
                where.setdefault(name, place)
    if not clips:
        raise SystemExit(f'{" ".join(paths)}: no clip')
    return clips, rows


def videos_in_both_splits(clips: Dict[str, Tuple[str, str]]) -> List[str]:
    """YouTube ids with clips in the train and the test split."""
    from mmdr.datasets.splits import youtube_video
    splits: Dict[str, set] = {}
    for name, (_, split) in clips.items():
        splits.setdefault(youtube_video(name), set()).add(split)
    return sorted(v for v, s in splits.items() if len(s) > 1)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    named, rows = read_annotations(args.annotations)
    classes = sorted({label for label, _ in named.values()})
    index = {name: i for i, name in enumerate(classes)}
    annotated = {n: (index[label], s) for n, (label, s) in named.items()}
    per_split = Counter(s for _, s in annotated.values())
    both = videos_in_both_splits(named)
    print(f'Annotations: {rows} rows, {len(annotated)} clips '
          f'({per_split["train"]} train, {per_split["test"]} test) of '
          f'{len(classes)} classes')

    def summary(carve: Dict) -> None:
        if both:
            print(f'Note: {len(both)} YouTube video(s) have clips in both '
                  'the train and the test split of the csv (kept as '
                  f'released): {" ".join(both[:10])}' +
                  (' ...' if len(both) > 10 else ''))

    return clip_lists.prepare_listed_clips(
        args, SPEC, annotated, classes, summary, videos_in_train_and_test=both)


if __name__ == '__main__':
    sys.exit(main())
