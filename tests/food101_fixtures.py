"""UPMC Food-101 releases in the public layout for the tests, the options
that shrink the Food-101 configs for a CPU, and a tiny local BERT where
transformers is installed."""
import csv
import os
import os.path as osp
import runpy
import sys
from typing import Dict, List, Sequence, Tuple

import numpy as np
from av_options import av_shrink_options
from conftest import REPO
from PIL import Image

#: Three of the release's classes (label order: sorted).
CLASSES = ('apple_pie', 'baby_back_ribs', 'baklava')
#: The header of the titles files as BalanceBenchmark reads them.
HEADER = ('Image_path', 'text', 'label')
#: Bag-of-words width of the shrunk configs.
VOCAB = 64
#: Validation share of the fixture's carve: 2 of 8 training pages per
#: class, so that D&R's k-means has a sample per cluster and more.
PREPARE_ARGS = ('--val-ratio', '0.25', '--workers', '1')


def write_food101_release(root: str,
                          classes: Sequence[str] = CLASSES,
                          per_class: Dict[str, int] = dict(train=8, test=2),
                          header: bool = True,
                          size: Tuple[int, int] = (40, 30),
                          seed: int = 0) -> Dict[str, List[tuple]]:
    """Write images/{train,test}/<class>/<class>_<i>.jpg and
    texts/{train,test}_titles.csv as the release has them.

    Each image is a noisy colour of its class; each text names the class
    in a web page's words, with a comma (so the CSV quotes it), a link
    and a hashtag; one text holds a line break.

    Args:
        root (str): The release folder.
        classes (Sequence[str]): Class names.
        per_class (dict[str, int]): Pages per class of each split.
        header (bool): Whether the CSV files start with
            ``Image_path,text,label``.
        size (tuple[int, int]): Image width and height.
        seed (int): Seed of the pixels.

    Returns:
        dict[str, list[tuple]]: Each split's ``(name, text, class)`` rows.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'texts'), exist_ok=True)
    written = {}
    for split, count in per_class.items():
        rows = []
        for label, name in enumerate(classes):
            folder = osp.join(root, 'images', split, name)
            os.makedirs(folder, exist_ok=True)
            colour = np.array([80 * label, 255 - 80 * label, 128])
            for i in range(count):
                pixels = colour + rng.integers(-30, 30, (size[1], size[0], 3))
                image = f'{name}_{i}.jpg'
                Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(
                    osp.join(folder, image), quality=90)
                dish = name.replace('_', ' ')
                text = (f'{dish.title()} recipe {i}, the best {dish} | '
                        f'http://example.com/{name}/{i} #{name}')
                if i == 1:
                    text += '\nmore on the page'
                rows.append((image, text, name))
        with open(
                osp.join(root, 'texts', f'{split}_titles.csv'),
                'w',
                newline='',
                encoding='utf-8') as f:
            writer = csv.writer(f)
            if header:
                writer.writerow(HEADER)
            writer.writerows(rows)
        written[split] = rows
    return written


def prepare_food101(root: str, *extra: str) -> None:
    """Run tools/data/food101/prepare_food101.py ``--root root *extra`` in
    this process, as its command line (sparing an interpreter's start for
    the session fixture).

    Args:
        root (str): The release folder.
        *extra (str): More arguments.
    """
    argv = sys.argv
    sys.argv = ['prepare_food101.py', '--root', root, *extra]
    try:
        runpy.run_path(
            osp.join(REPO, 'tools/data/food101/prepare_food101.py'))['main']()
    finally:
        sys.argv = argv


def food101_options(config: str) -> List[str]:
    """--cfg-options that make a Food-101 config small for a CPU: those of
    the audio-visual configs (32 x 32 images, no loader workers, batches of
    4, 2 epochs and D&R after each), the fixture's 3 classes and a 64-word
    bag.

    Args:
        config (str): The config's file name under ``configs/``.

    Returns:
        list[str]: ``key=value`` options.
    """
    options = [
        *av_shrink_options(config),
        f'model.cls_head.num_classes={len(CLASSES)}'
    ]
    if not config.endswith('_bert.py'):
        options += [
            f'{split}_dataloader.dataset.pipeline.1.vocab_size={VOCAB}'
            for split in ('train', 'val', 'test')
        ]
        options.append(f'model.encoders.text.in_channels={VOCAB}')
    return options


def write_tiny_bert(folder: str) -> str:
    """Save a 2-layer BERT of width 32 and its tokenizer, as
    ``save_pretrained`` does (needs transformers).

    Args:
        folder (str): Where.

    Returns:
        str: ``folder``.
    """
    from transformers import BertConfig, BertModel, BertTokenizer

    os.makedirs(folder, exist_ok=True)
    words = sorted({w
                    for c in CLASSES
                    for w in c.split('_')}
                   | {'recipe', 'the', 'best', 'more', 'on', 'page'})
    vocab = osp.join(folder, 'vocab.txt')
    with open(vocab, 'w') as f:
        f.write(
            '\n'.join(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', *words]) +
            '\n')
    BertTokenizer(vocab).save_pretrained(folder)
    BertModel(
        BertConfig(
            vocab_size=5 + len(words),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64)).save_pretrained(folder)
    return folder


def bert_options(folder: str) -> List[str]:
    """--cfg-options that point a ``*_food101_bert.py`` config's model and
    tokenizer at a local BERT folder."""
    return [
        f'model.encoders.text.pretrained={folder}',
        *(f'{split}_dataloader.dataset.pipeline.1.pretrained={folder}'
          for split in ('train', 'val', 'test'))
    ]
