"""Prepare CREMA-D from its public release: frames, audio, split lists.

Takes the release (https://github.com/CheyneyComputerScience/CREMA-D)
under ``--root`` (default ``data/cremad``):

* ``AudioWAV/<clip>.wav``: 16 kHz 16-bit mono;
* ``VideoFlash/<clip>.flv``: 480x360, about 30 fps, VP6 video;
* ``processedResults/summaryTable.csv``: one row per clip (header
  ``,FileName,VoiceVote,...``; the first column is a row index); clip
  names ``<ActorID>_<Sentence>_<Emotion>_<Level>``, e.g.
  ``1001_DFA_ANG_XX``, actors 1001..1091, the emotion code the label; 7,442
  clips.

and writes, under the same root, the layout the reference code (OGM-GE,
Diagnosing & Re-learning) reads:

* ``visual/<clip>/frame_00001.jpg`` ...: 1 frame per second (frame k: the
  first decoded frame at or after k - 1 s), original size unless
  ``--short-side``; see ``mmdr/preparation/media.py``. OGM-GE's
  ``video_preprocessing.py`` also keeps one frame a second.
* ``audio/<clip>.wav`` (``--audio wav``, the default, or ``both``): the
  AudioWAV file resampled to 22,050 Hz (soxr HQ), i.e. what OGM-GE's
  ``librosa.load(path, sr=22050)`` sees, as 16-bit PCM.
* ``audio/<clip>.pt`` (``--audio fbank`` or ``both``): ``torch.save`` of a
  float32 tensor (1024, 128), the normalised Kaldi filterbank of the 16 kHz
  AudioWAV file (``mmdr.audio.frontends.kaldi_fbank``). Diagnosing &
  Re-learning reads such ``.pt`` files for CREMA-D but does not publish
  their recipe beyond pointing to OGM-GE, whose only filterbank script is
  the Kinetics-Sounds one (``data/KineticSound/process_audio.py``); that
  recipe is used.
* ``stat.csv``: the six emotion codes, one a row (written only if absent).
* Split lists ``<clip>,<label>`` with the header ``name,label``, of the
  prepared clips only, sorted by name:

  - ``mmdr_speaker_{train,val,test}.csv``: speaker-disjoint: the actors of
    ``summaryTable.csv`` shuffled with ``--seed`` and split 73/9/9
    (``--speaker-split``; ``mmdr/datasets/splits/``, which the data set
    uses too when the lists are absent). Real CREMA-D, seed 0 (every clip
    prepared): train 73 actors, 5,966 clips (ANG, DIS, FEA, HAP, SAD 1,019
    each, NEU 871); val 9 actors, 738 clips; test 9 actors, 738 clips (126
    of each emotion, NEU 108, in both).
  - ``mmdr_carve_{train,val}.csv`` when the authors' ``train.csv`` is in
    the root: a stratified (by label), seeded carve of it, with as many
    validation clips as their ``val.csv`` (744; ``--val-size``, default
    that, else 10% of train.csv): our alternative to their
    ``my_train.csv``/``val.csv``. The carve is drawn from the whole of
    train.csv, then clips not prepared are left out.

  The authors' files (``train.csv``, ``test.csv`` with a header,
  ``my_train.csv``, ``val.csv`` without), if present in the root, are read
  and never written; their clips that were not prepared are reported.
* ``skipped.txt``: ``<clip>  # reason`` for every clip left out (missing
  WAV or FLV file, truncated or corrupt file, fewer than ``--min-frames``
  1-fps frames: the reference samples 2 frames a clip); none of our lists
  holds them and none of their files is left.
* ``mmdr_cremad_prepare.json``: settings, counts, the skipped clips, the
  speaker split's actors, every list's size and SHA-256, the authors'
  files' clips that were not prepared. It describes the tree, not the run:
  an interrupted run resumed gives the same bytes as an uninterrupted one,
  every file included.
* ``.mmdr_prepare/<clip>.done``: the per-clip markers.

Parallel (``--workers``, one process per clip) with a progress bar.
Resumable: a clip's marker is written last, atomically; a rerun skips
finished clips and redoes, from scratch, half-written ones and ones made
with other settings or from a changed source file.

Exit status: 0 when every clip was prepared; also 0 (with a warning) when
clips were skipped, unless ``--strict`` (then 1); 1 when something else
failed (e.g. a write error) or the input is wrong (e.g. a table row whose
emotion is not a CREMA-D class: the message names file and line); 130
when interrupted (rerun the same command to resume).

Examples:
    python tools/data/cremad/prepare_cremad.py --root data/cremad --dry-run
    python tools/data/cremad/prepare_cremad.py --root data/cremad \
        --audio both --workers 16
"""
import argparse
import csv
import os.path as osp
import sys
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from mmdr.preparation import clip_cli
from mmdr.preparation.clip_jobs import ClipJob, Settings

# mmdr's split logic (mmdr.datasets.splits, which the data set uses too) is
# imported where it is used: the spawned workers import this script and
# need none of mmdr.datasets.

TOOL = 'tools/data/cremad/prepare_cremad.py'
META = 'mmdr_cremad_prepare.json'
STAT = 'stat.csv'
TABLE = osp.join('processedResults', 'summaryTable.csv')
WAV_RATE = 22050
#: The authors' split files and whether they have a header row.
AUTHORS_FILES = {
    'train.csv': True,
    'test.csv': True,
    'my_train.csv': False,
    'val.csv': False
}
SPEAKER_LIST = 'mmdr_speaker_{}.csv'
CARVE_LIST = 'mmdr_carve_{}.csv'
HEADER = 'name,label\n'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmdr.datasets import splits as sp

    parser = argparse.ArgumentParser(
        description='Prepare CREMA-D: 1-fps frames, audio files and '
        'split lists')
    parser.add_argument(
        '--root',
        default='data/cremad',
        help='holds AudioWAV/, VideoFlash/, processedResults/; receives '
        'visual/, audio/ and the lists')
    clip_cli.add_clip_arguments(
        parser,
        audio_help='wav: audio/<clip>.wav at 22,050 Hz; fbank: '
        'audio/<clip>.pt (1024x128 Kaldi filterbank); both',
        keep_size='480x360',
        min_frames=2,
        min_frames_help='skip clips with fewer 1-fps frames (the reference '
        'samples 2)')
    parser.add_argument(
        '--speaker-split',
        default=','.join(map(str, sp.DEFAULT_SPEAKER_SPLIT)),
        help='actors in train,val,test (proportions if they do not sum to '
        'the number of actors)')
    clip_cli.add_run_arguments(
        parser,
        val_size_help='clips in mmdr_carve_val.csv (default: the rows of '
        'the authors\' val.csv, else 10%% of train.csv)',
        seed_help='seed of the splits')
    args = parser.parse_args(argv)
    try:
        args.speaker_split = tuple(
            int(p) for p in args.speaker_split.split(','))
    except ValueError:
        parser.error('--speaker-split takes three integers, e.g. 73,9,9')
    if len(args.speaker_split) != 3 or min(args.speaker_split) < 0 or sum(
            args.speaker_split) == 0:
        parser.error('--speaker-split takes three integers >= 0, e.g. 73,9,9')
    clip_cli.check_arguments(parser, args)
    return args


# ------------------------------------------------------------------ inputs


def read_table(path: str, classes: Sequence[str]) -> List[str]:
    """Clip names of ``summaryTable.csv``, in its order.

    Args:
        path (str): The table.
        classes (Sequence[str]): The emotion codes.

    Returns:
        list[str]: The clips.

    Raises:
        SystemExit: A missing file or column, a malformed or repeated clip
            name, or an emotion outside ``classes`` (naming file and line).
    """
    from mmdr.datasets import splits as sp

    if not osp.isfile(path):
        raise SystemExit(
            f'{path} is missing: it comes with the CREMA-D release '
            '(processedResults/summaryTable.csv). A folder that holds the '
            'authors\' processed data or OGM-GE\'s frames needs no '
            'preparation: train on it as it is (python tools/train.py '
            'configs/dr_cremad.py --data-root '
            f'{osp.dirname(osp.dirname(path)) or "."}); the data set makes '
            'the validation split from its lists')
    with open(path, newline='', encoding='utf-8-sig') as f:
        rows = list(csv.reader(f))
    if not rows or 'FileName' not in rows[0]:
        raise SystemExit(f'{path}, line 1: no FileName column in the header')
    column = rows[0].index('FileName')
    clips, seen = [], {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= column:
            raise SystemExit(f'{path}, line {line}: no FileName field')
        name = row[column].strip()
        try:
            emotion = sp.parse_clip(name)[1]
        except ValueError as err:
            raise SystemExit(f'{path}, line {line}: {err}')
        if emotion not in classes:
            raise SystemExit(
                f'{path}, line {line}: clip {name}: emotion {emotion!r} is '
                f'not a CREMA-D class ({", ".join(classes)})')
        if name in seen:
            raise SystemExit(f'{path}, line {line}: clip {name} is already '
                             f'on line {seen[name]}')
        seen[name] = line
        clips.append(name)
    return clips


def read_list(path: str, classes: Sequence[str]) -> List[Tuple[str, str]]:
    """``(clip, label)`` rows of an authors' split file (header or not)."""
    with open(path, newline='', encoding='utf-8-sig') as f:
        rows = list(csv.reader(f))
    items = []
    for line, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or (line == 1 and cells[:2] == ['name', 'label']):
            continue
        if len(cells) < 2 or cells[1] not in classes:
            raise SystemExit(f'{path}, line {line}: expected <clip>,<label> '
                             f'with a label in {", ".join(classes)}, got '
                             f'{",".join(row)!r}')
        items.append((cells[0], cells[1]))
    return items


def find_sources(root: str, clips: Sequence[str]) -> Tuple[Dict, List]:
    """Source files of every clip, and the clips missing one."""
    sources, missing = {}, []
    for clip in clips:
        wav = osp.join(root, 'AudioWAV', clip + '.wav')
        flv = osp.join(root, 'VideoFlash', clip + '.flv')
        absent = [
            osp.relpath(p, root) for p in (wav, flv) if not osp.isfile(p)
        ]
        if absent:
            missing.append((clip, 'missing: ' + ' and '.join(absent)))
        else:
            sources[clip] = (flv, wav)
    return sources, missing


# ------------------------------------------------------------------- lists


def make_lists(args: argparse.Namespace, clips: List[str],
               authors: Dict[str, List], val_size: Optional[int],
               prepared: Dict[str, int]) -> Tuple[Dict, Dict]:
    """Rows of our split lists, and what the JSON records about them.

    Args:
        args (argparse.Namespace): Seed and speaker split.
        clips (list[str]): Every clip of the table.
        authors (dict): The authors' files read, by name.
        val_size (int | None): Size of the carve's validation part; None:
            no carve (no train.csv).
        prepared (dict): Prepared clips (names to frame counts).

    Returns:
        tuple[dict, dict]: Rows by file name, and the split record.
    """
    from mmdr.datasets import splits as sp

    lists, left_out = {}, {}
    try:
        split, actors = sp.speaker_split(clips, args.speaker_split, args.seed)
    except ValueError as err:
        parts = ','.join(map(str, args.speaker_split))
        raise SystemExit(f'--speaker-split {parts}: {err} actor(s) (a part '
                         'of 0 takes none)')
    for role in sp.SPEAKER_ROLES:
        name = SPEAKER_LIST.format(role)
        lists[name] = [(c, sp.parse_clip(c)[1]) for c in split[role]]
    record = dict(
        speaker_split=dict(
            seed=args.seed,
            parts=list(args.speaker_split),
            actors={r: actors[r]
                    for r in sp.SPEAKER_ROLES},
            table_clips={r: len(split[r])
                         for r in sp.SPEAKER_ROLES}))
    if val_size is not None:
        train, val = sp.stratified_carve(authors['train.csv'], val_size,
                                         args.seed)
        lists[CARVE_LIST.format('train')] = train
        lists[CARVE_LIST.format('val')] = val
        record['carve'] = dict(
            seed=args.seed, val_size=val_size, source='train.csv')
    for name, rows in lists.items():
        left_out[name] = sorted(c for c, _ in rows if c not in prepared)
        lists[name] = sorted(r for r in rows if r[0] in prepared)
    record['left_out'] = left_out
    return lists, record


def print_speaker_split(record: Dict, lists: Dict) -> None:
    """Print each speaker split part's actors and sizes (per class too)."""
    from mmdr.datasets.splits import SPEAKER_ROLES

    split = record['speaker_split']
    print(f'Speaker split (seed {split["seed"]}, --speaker-split '
          f'{",".join(map(str, split["parts"]))}):')
    for role in SPEAKER_ROLES:
        rows = lists[SPEAKER_LIST.format(role)]
        per_class = Counter(label for _, label in rows)
        classes = ', '.join(f'{k} {v}' for k, v in sorted(per_class.items()))
        print(f'  {role:<5} {len(split["actors"][role]):>2} actors, '
              f'{len(rows):>5} clips ({classes}): '
              f'{" ".join(split["actors"][role])}')


def list_text(rows: List[Tuple[str, str]]) -> str:
    """A split list's content, with the header ``name,label``."""
    return HEADER + ''.join(f'{c},{lab}\n' for c, lab in rows)


# -------------------------------------------------------------------- main


def main(argv: Optional[Sequence[str]] = None) -> int:
    from mmdr.datasets import splits as sp
    from mmdr.datasets.cremad_dataset import CREMAD_CLASSES

    args = parse_args(argv)
    root = args.root
    classes = tuple(CREMAD_CLASSES)
    clips = read_table(osp.join(root, TABLE), classes)
    sources, missing = find_sources(root, clips)
    authors = {
        name: read_list(osp.join(root, name), classes)
        for name in AUTHORS_FILES if osp.isfile(osp.join(root, name))
    }
    val_size = None
    if 'train.csv' in authors:
        val_size = args.val_size
        if val_size is None:
            val_size = sp.carve_val_size(
                len(authors['train.csv']),
                len(authors['val.csv']) if 'val.csv' in authors else None)
        if val_size > len(authors['train.csv']):
            raise SystemExit(f'--val-size {val_size} exceeds the '
                             f'{len(authors["train.csv"])} rows of train.csv')
    make_lists(args, clips, authors, val_size, {})  # bad splits stop here
    print(f'Table: {osp.join(root, TABLE)}: {len(clips)} clips, '
          f'{len(set(sp.parse_clip(c)[0] for c in clips))} actors; '
          f'{len(sources)} with both files, {len(missing)} missing one')
    found = ', '.join(f'{n} ({len(v)} rows)' for n, v in authors.items())
    print(f'Authors\' split files: {found or "none in the root"}' +
          ('' if val_size is not None else
           ' (no train.csv: no mmdr_carve_* lists)'))

    settings = Settings(WAV_RATE, args.audio, args.short_side,
                        args.jpeg_quality)
    outputs = ([f'audio/<clip>.wav at {WAV_RATE} Hz']
               if settings.wav else []) + (['audio/<clip>.pt 1024x128 fbank']
                                           if settings.fbank else [])
    print(clip_cli.settings_line(args, audio_note=f' ({", ".join(outputs)})'))
    jobs = [
        ClipJob(c, flv, wav, root, settings, args.min_frames)
        for c, (flv, wav) in sorted(sources.items())
    ]
    state, problem = clip_cli.plan(root, jobs, args)

    if args.dry_run:
        expected = {c: 0 for c in sources}
        return clip_cli.dry_run(
            state, problem, args,
            lambda: make_lists(args, clips, authors, val_size, expected)[0],
            'Lists it would write (if every clip with both files '
            'prepares):', missing)

    outcome = clip_cli.run_clips(root, state, args, missing, STAT, classes)
    if outcome is None:
        return clip_cli.INTERRUPTED
    prepared = outcome.prepared
    lists, record = make_lists(args, clips, authors, val_size, prepared)
    files = clip_cli.write_lists(root, lists, list_text, outcome, TOOL)
    not_prepared = clip_cli.write_meta(root, META, TOOL,
                                       settings, args, outcome,
                                       dict(table=len(clips)), files, STAT,
                                       authors, **record)

    print(f'Summary: {len(clips)} clips in the table, {len(prepared)} '
          f'prepared, {len(outcome.skipped)} skipped, '
          f'{len(outcome.failed)} failed.')
    print_speaker_split(record, lists)
    clip_cli.print_written(root, lists, META, outcome)
    for name, left in record['left_out'].items():
        if left:
            print(f'  {name}: left out {len(left)} clip(s) not prepared')
    if authors:
        print('Authors\' files (read, not written):')
        clip_cli.print_sizes({
            n: len(r)
            for n, r in authors.items()
        }, ' listed')
        for name, left in not_prepared.items():
            if left:
                print(f'  {name}: {len(left)} clip(s) not prepared: ' +
                      ' '.join(left[:10]) + (' ...' if len(left) > 10 else ''))
    return clip_cli.finish(outcome, args.strict)


if __name__ == '__main__':
    sys.exit(main())
