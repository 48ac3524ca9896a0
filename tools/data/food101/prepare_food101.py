"""Prepare UPMC Food-101 (image + text) from its public release.

The release (and BalanceBenchmark's ``FOOD101Dataset``) has::

    ROOT/images/{train,test}/<class>/<name>.jpg
    ROOT/texts/{train,test}_titles.csv     <name>,<text>,<class> per row

(a first row ``Image_path,text,label`` is a header; the text is quoted
where it holds commas or line breaks). This tool checks every row and
image and writes, into ROOT (or ``--out``):

* ``mmdr_train.json``, ``mmdr_val.json``, ``mmdr_test.json``: the lists in
  mmengine's annotation format; validation is a stratified carve of the
  release's training part (``--val-ratio``, ``--seed``), test is the
  release's test part, never used to validate;
* ``mmdr_vocab.txt``: the bag-of-words vocabulary, counted on the training
  list only (no validation or test text);
* ``skipped.txt``: every row or image left out, with its reason (missing,
  empty or undecodable image, empty text, unknown class, a name listed
  twice, an image no row names). Nothing is left out without a line there
  and a count in the summary.

Running it again on the same release writes the same bytes.

Example:
    python tools/data/food101/prepare_food101.py --root data/food101
"""
import argparse
import csv
import json
import os
import os.path as osp
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Tuple

from PIL import Image

from mmdr.datasets.food101_dataset import FOOD101_LISTS, FOOD101_VOCABULARY
from mmdr.datasets.splits import default_val_size, stratified_carve
from mmdr.datasets.transforms.text import text_words

SPLITS = ('train', 'test')
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png')
#: The classes of UPMC Food-101 (those of ETH Food-101).
NUM_CLASSES = 101
#: Lines of each reason the summary shows.
SHOWN = 5
#: A row or image left out: its sample (or CSV line), reason and details.
Skipped = Tuple[str, str, str]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Prepare UPMC Food-101 from its public release')
    parser.add_argument(
        '--root',
        default='data/food101',
        help='the release folder (images/, texts/)')
    parser.add_argument(
        '--out', help='where the lists go; default: the release folder')
    parser.add_argument(
        '--val-ratio',
        type=float,
        default=0.1,
        help='share of the training part carved out for validation')
    parser.add_argument('--seed', type=int, default=0, help='carve seed')
    parser.add_argument(
        '--vocab-size',
        type=int,
        default=10000,
        help='most frequent training words kept (the bag-of-words width)')
    parser.add_argument(
        '--min-count',
        type=int,
        default=2,
        help='training texts a word must occur in to be kept')
    parser.add_argument(
        '--keep-empty-texts',
        action='store_true',
        help='keep samples whose text is empty (skipped by default)')
    parser.add_argument(
        '--no-decode',
        action='store_true',
        help='read only each image\'s header (faster; truncated images '
        'then pass)')
    parser.add_argument(
        '--workers', type=int, default=4, help='threads decoding images')
    return parser.parse_args()


def read_rows(path: str) -> Tuple[List[Tuple[int, List[str]]], bool]:
    """The rows of a titles CSV file, with their line numbers.

    Args:
        path (str): ``texts/<split>_titles.csv``.

    Returns:
        tuple: ``(line, fields)`` per row (the header excluded) and whether
        the file had a header.
    """
    with open(path, encoding='utf-8-sig', errors='replace', newline='') as f:
        reader = csv.reader(f)
        rows, end = [], 0
        for fields in reader:
            # A quoted text may span lines: name the row's first.
            start, end = end + 1, reader.line_num
            if fields:
                rows.append((start, fields))
    header = bool(rows) and not rows[0][1][0].lower().endswith(IMAGE_SUFFIXES)
    return (rows[1:] if header else rows), header


def image_problem(path: str, decode: bool) -> Optional[str]:
    """Why an image cannot be used, or None.

    Args:
        path (str): The image.
        decode (bool): Decode it whole, not only its header.

    Returns:
        str | None: The problem.
    """
    if not osp.isfile(path):
        return 'missing image'
    if osp.getsize(path) == 0:
        return 'empty image file'
    try:
        with Image.open(path) as img:
            if decode:
                img.load()
    except Exception as err:  # noqa: B902 - any decoding failure
        return f'undecodable image ({type(err).__name__}: {err})'
    return None


def collect_split(
        root: str, split: str, classes: List[str],
        args: argparse.Namespace) -> Tuple[List[dict], List[Skipped]]:
    """Check one split's rows and images.

    Args:
        root (str): The release folder.
        split (str): ``'train'`` or ``'test'``.
        classes (list[str]): The class folders, in label order.
        args (argparse.Namespace): The options.

    Returns:
        tuple: The usable samples and the rows or images left out.
    """
    csv_name = f'texts/{split}_titles.csv'
    csv_path = osp.join(root, csv_name)
    if not osp.isfile(csv_path):
        sys.exit(f'error: {csv_path} not found; the release has '
                 'texts/train_titles.csv and texts/test_titles.csv')
    rows, _ = read_rows(csv_path)
    skipped, candidates, seen, named = [], [], set(), set()
    for line, fields in rows:
        where = f'{csv_name}:{line}'
        if len(fields) != 3:
            skipped.append((where, 'a row without 3 columns',
                            f'{len(fields)} columns, expected '
                            '<name>,<text>,<class>'))
            continue
        name, text, label = (field.strip() for field in fields)
        sample_id = f'{split}/{label}/{name}'
        img_path = f'images/{split}/{label}/{name}'
        named.add(img_path)
        if label not in classes:
            skipped.append((sample_id, 'unknown class',
                            f'{where}: no folder images/train/{label}'))
            continue
        if sample_id in seen:
            skipped.append(
                (sample_id, 'listed twice', f'{where}: the first row kept'))
            continue
        seen.add(sample_id)
        if not text and not args.keep_empty_texts:
            skipped.append((sample_id, 'empty text', where))
            continue
        candidates.append(
            dict(
                img_path=img_path,
                title=text,
                label=classes.index(label),
                sample_id=sample_id,
                where=where))
    with ThreadPoolExecutor(max(1, args.workers)) as pool:
        problems = list(
            pool.map(
                lambda s: image_problem(
                    osp.join(root, s['img_path']), not args.no_decode),
                candidates))
    samples = []
    for sample, problem in zip(candidates, problems):
        if problem:
            kind, _, detail = problem.partition(' (')
            skipped.append((sample['sample_id'], kind,
                            f'{sample["where"]}: {sample["img_path"]}'
                            f'{" (" + detail if detail else ""}'))
        else:
            samples.append({k: v for k, v in sample.items() if k != 'where'})
    image_dir = osp.join(root, 'images', split)
    for label in sorted(os.listdir(image_dir)):
        folder = osp.join(image_dir, label)
        if not osp.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            path = f'images/{split}/{label}/{name}'
            if path not in named and name.lower().endswith(IMAGE_SUFFIXES):
                skipped.append((f'{split}/{label}/{name}',
                                f'image without a row in {csv_name}', path))
    return samples, skipped


def vocabulary(samples: List[dict], size: int, min_count: int) -> List[str]:
    """The most frequent words of the texts, by texts they occur in.

    Args:
        samples (list[dict]): The training list.
        size (int): Words kept at most.
        min_count (int): Texts a word must occur in.

    Returns:
        list[str]: Words, most frequent first, ties in alphabetical order.
    """
    counts = Counter()
    for sample in samples:
        counts.update(set(text_words(sample['title'])))
    ranked = sorted((w for w, c in counts.items() if c >= min_count),
                    key=lambda w: (-counts[w], w))
    return ranked[:size]


def write_list(path: str, samples: List[dict], classes: List[str],
               split: str) -> None:
    """Write a list in mmengine's annotation format."""
    content = dict(
        metainfo=dict(
            dataset='UPMC Food-101', split=split, classes=list(classes)),
        data_list=samples)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(content, f, ensure_ascii=False, indent=1)
        f.write('\n')


def skip_line(entry: Skipped) -> str:
    """str: A ``skipped.txt`` line: ``<sample>  # <reason>: <where>``."""
    name, kind, detail = entry
    return f'{name}  # {kind}: {detail}'


def summarise(skipped: List[Skipped]) -> str:
    """Count what was left out by reason, with the first few of each."""
    by_reason: Dict[str, List[str]] = {}
    for entry in skipped:
        by_reason.setdefault(entry[1], []).append(skip_line(entry))
    parts = []
    for kind, lines in sorted(by_reason.items()):
        shown = '\n    '.join(lines[:SHOWN])
        more = (f'\n    ... {len(lines) - SHOWN} more'
                if len(lines) > SHOWN else '')
        parts.append(f'  {len(lines)} x {kind}:\n    {shown}{more}')
    return '\n'.join(parts)


def main() -> None:
    args = parse_args()
    root = args.root
    out = args.out or root
    train_images = osp.join(root, 'images', 'train')
    if not osp.isdir(train_images):
        sys.exit(f'error: {train_images} not found; --root must be the '
                 'release folder holding images/{train,test}/<class>/ and '
                 'texts/{train,test}_titles.csv')
    # BalanceBenchmark's find_classes: the sorted class folders.
    classes = sorted(e.name for e in os.scandir(train_images) if e.is_dir())
    if len(classes) != NUM_CLASSES:
        print(
            f'warning: {len(classes)} class folders in {train_images}, '
            f'UPMC Food-101 has {NUM_CLASSES}: train with '
            f'--cfg-options model.cls_head.num_classes={len(classes)}',
            file=sys.stderr)
    parts, skipped = {}, []
    for split in SPLITS:
        parts[split], split_skipped = collect_split(root, split, classes, args)
        skipped += split_skipped
    items = [(s['sample_id'], s['label']) for s in parts['train']]
    val_size = default_val_size(len(items), args.val_ratio)
    train_items, val_items = stratified_carve(items, val_size, args.seed)
    val_ids = {name for name, _ in val_items}
    lists = dict(
        train=[s for s in parts['train'] if s['sample_id'] not in val_ids],
        val=[s for s in parts['train'] if s['sample_id'] in val_ids],
        test=parts['test'])
    words = vocabulary(lists['train'], args.vocab_size, args.min_count)
    os.makedirs(out, exist_ok=True)
    for subset, samples in lists.items():
        write_list(
            osp.join(out, FOOD101_LISTS[subset]), samples, classes, subset)
    with open(osp.join(out, FOOD101_VOCABULARY), 'w', encoding='utf-8') as f:
        f.writelines(f'{w}\n' for w in words)
    with open(osp.join(out, 'skipped.txt'), 'w', encoding='utf-8') as f:
        f.writelines(f'{skip_line(entry)}\n' for entry in skipped)
    sizes = ' / '.join(f'{k} {len(v)}' for k, v in lists.items())
    print(f'{len(classes)} classes; {sizes} samples (validation: stratified '
          f'carve of the training part, seed {args.seed}); vocabulary '
          f'{len(words)} words of the training list; written to {out}')
    if skipped:
        print(
            f'{len(skipped)} rows or images left out, each listed with its '
            f'reason in {osp.join(out, "skipped.txt")}:\n'
            f'{summarise(skipped)}',
            file=sys.stderr)


if __name__ == '__main__':
    main()
