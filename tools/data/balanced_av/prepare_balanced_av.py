"""Prepare BalancedAV from its release: frames, audio, lists.

BalancedAV (Xia et al., "Balanced Audiovisual Dataset for Imbalance
Analysis", 2023; https://gewu-lab.github.io/Balanced-Audiovisual-Dataset/)
is read as BalanceBenchmark's ``BalanceDataset`` reads it:

* ``--annotations JSON``: the release's annotation file, ``{"labels":
  [<class>, ...], "database": {<clip>: {"subset": "training" |
  "validation" | "testing", "label": <class>, ...}}}``. Label = the
  class's index in ``labels``. The ``training`` and ``testing`` clips are
  prepared (BalanceBenchmark trains and tests on them and reads no other);
  ``validation`` clips are counted and not prepared.
* ``--videos DIR``: the clips as ``<clip>.mp4``, found recursively.

and writes under ``--out`` (default ``data/balanced_av``) the layout of
Kinetics-Sounds (see :mod:`mmdr.preparation.clip_lists`):
``visual/<clip>/frame_00001.jpg`` at 1 fps, ``audio/<clip>.wav`` at 16 kHz
mono (``--audio fbank|both``: the ``.pt`` filterbanks), ``stat.txt`` (the
json's labels in order), ``mmdr_train.txt`` (``training``),
``mmdr_test.txt`` (``testing``), ``mmdr_carve_{train,val}.txt`` (our
validation carve of ``mmdr_train.txt``, seeded, stratified by label, 10 %
by default; clips named ``<youtube_id>_<start:06d>[_<end:06d>]`` are drawn
by whole YouTube video), ``skipped.txt`` and
``mmdr_balanced_av_prepare.json``.

A clip of the json without a video file, without an audio track, cut
short or with fewer than ``--min-frames`` (3) frames is named in
``skipped.txt`` with the reason and counted, never dropped silently; the
run exits 0 with a warning (1 with ``--strict``).

Examples:
    python tools/data/balanced_av/prepare_balanced_av.py \
        --videos data/balanced_av/videos \
        --annotations data/balanced_av/annotations.json \
        --out data/balanced_av --workers 16
"""
import argparse
import json
import os.path as osp
import re
import sys
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from mmdr.preparation import clip_lists

TOOL = 'tools/data/balanced_av/prepare_balanced_av.py'
SPEC = clip_lists.ListSpec(
    tool=TOOL,
    meta='mmdr_balanced_av_prepare.json',
    splits=('train', 'test'),
    name_re=re.compile(r'^.+$'),
    name_form='<clip>',
    by_video=True)
#: The json's subsets, as this tool names them.
SUBSETS = dict(training='train', validation='val', testing='test')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    return clip_lists.parse_list_args(
        argv, 'Prepare BalancedAV from its clips and annotation json: 1-fps '
        'frames, audio files and split lists',
        out='data/balanced_av',
        annotations_help='the release\'s annotation json',
        one_annotation_file=True)


def read_annotations(
        path: str) -> Tuple[List[str], Dict[str, Tuple[int, str]]]:
    """The classes and clips of the annotation json.

    Args:
        path (str): The json file.

    Returns:
        tuple[list[str], dict]: The class names (``labels``), and clip
        name to ``(label, split)`` (split ``train``, ``val`` or ``test``).

    Raises:
        SystemExit: A missing or malformed file, an unknown subset or
            label (naming the clip).
    """
    if not osp.isfile(path):
        raise SystemExit(f'{path} is missing')
    try:
        with open(path, encoding='utf-8-sig') as f:
            data = json.load(f)
        labels, database = list(data['labels']), dict(data['database'])
    except (ValueError, KeyError, TypeError) as err:
        raise SystemExit(f'{path}: not a BalancedAV annotation file '
                         f'({{"labels": [...], "database": {{...}}}}): '
                         f'{err!r}')
    if len(set(labels)) != len(labels):
        raise SystemExit(f'{path}: "labels" names a class twice')
    index = {label: i for i, label in enumerate(labels)}
    clips = {}
    for name, entry in database.items():
        entry = entry if isinstance(entry, dict) else {}
        subset, label = entry.get('subset'), entry.get('label')
        if subset not in SUBSETS:
            raise SystemExit(f'{path}: clip {name}: subset {subset!r}, '
                             f'expected one of {", ".join(SUBSETS)}')
        if label not in index:
            raise SystemExit(f'{path}: clip {name}: label {label!r} is not '
                             'in "labels"')
        clips[name] = (index[label], SUBSETS[subset])
    return labels, clips


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    classes, annotated = read_annotations(args.annotations[0])
    per_split = Counter(s for _, s in annotated.values())
    print(f'Annotations: {len(annotated)} clips ({per_split["train"]} '
          f'training, {per_split["test"]} testing, {per_split["val"]} '
          f'validation: not prepared) of {len(classes)} classes')
    return clip_lists.prepare_listed_clips(args, SPEC, annotated, classes)


if __name__ == '__main__':
    sys.exit(main())
