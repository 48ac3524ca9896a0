"""Word-aligned CMU-MOSI/MOSEI pickles, written as the MulT release has them,
and converted as ``tools/data/cmu_mosi/convert_mult_pickle.py`` does.

The format: a dict with ``'train'``, ``'valid'`` and ``'test'``, each a dict
of ``'text'``, ``'audio'``, ``'vision'`` (N, 50, d), ``'labels'`` (N, 1, 1)
float32 scores in [-3, 3] and ``'id'`` (N, 2) of str (video id, segment).
Features are float32 by default (``dtype``; releases hold float32 or
float64, the data set reads both).
Short utterances are padded with all-zero time steps at the start (which
side the real files use is not documented; encoders must not assume one).
"""
import pickle
from typing import Dict, Optional, Sequence

import numpy as np

from mmdr.datasets.cmu_mosi_conversion import convert_mult_pickle

SPLITS = ('train', 'valid', 'test')
#: Signal strength of each modality: text learns best, vision worst.
STRENGTH = dict(text=0.6, audio=0.2, vision=0.1)
#: Feature dimensions that carry the signal.
SIGNAL_DIMS = 4


def _features(rng: np.random.Generator, labels: np.ndarray,
              lengths: np.ndarray, width: int, seq_len: int, strength: float,
              dtype: type) -> np.ndarray:
    """One modality: noise, the score in a few dimensions, zero padding."""
    num = len(labels)
    feats = rng.standard_normal((num, seq_len, width), dtype=np.float32)
    polarity = np.where(labels >= 0, 1.0, -1.0)
    # Score and polarity: regression and both binary conventions learn.
    signal = strength * (labels / 3 + 0.5 * polarity)
    dims = min(SIGNAL_DIMS, width)
    feats[:, :, :dims] += signal[:, None, None].astype(np.float32)
    steps = np.arange(seq_len)
    padded = steps[None, :] < (seq_len - lengths)[:, None]
    feats[padded] = 0
    return feats.astype(dtype, copy=False)


def write_mosi_pickle(path: str,
                      sizes: Sequence[int] = (40, 12, 16),
                      widths: Optional[Dict[str, int]] = None,
                      seq_len: int = 50,
                      seed: int = 0,
                      inf_in_audio: int = 0,
                      pad: bool = True,
                      with_id: bool = True,
                      dtype: type = np.float32) -> dict:
    """Write a word-aligned pickle in the MulT format.

    Scores are multiples of 0.2 in [-3, 3] (averages of five annotators'
    integer scores, as MOSI's), about 10 % exactly 0. Each modality carries
    the score and its polarity in its first dimensions, under unit noise,
    text strongest, audio weaker, vision weakest: a logistic regression on
    time-averaged features of the default 40 training utterances gets about
    1.0 / 0.9 / 0.6 binary accuracy on the test split.

    Args:
        path (str): The pickle to write.
        sizes (Sequence[int]): Utterances of train, valid and test.
        widths (dict, optional): Feature width per modality. Defaults to
            ``dict(text=300, audio=74, vision=35)``.
        seq_len (int): Time steps (words). Defaults to 50.
        seed (int): Random seed.
        inf_in_audio (int): Non-finite values (inf, -inf and nan in turn)
            put at real time steps of the training split's audio.
        pad (bool): Whether utterances are shorter than ``seq_len`` and
            left-padded with all-zero rows.
        with_id (bool): Whether each split has ``'id'``.
        dtype (type): Feature dtype (labels are float32 either way).

    Returns:
        dict: What was written (the arrays, by split).
    """
    widths = dict(text=300, audio=74, vision=35) if widths is None else widths
    rng = np.random.default_rng(seed)
    scores = np.arange(-15, 16) / 5
    data = {}
    for split, num in zip(SPLITS, sizes):
        labels = rng.choice(scores, size=num)
        labels[rng.random(num) < 0.1] = 0.0
        if pad:
            lengths = rng.integers(max(1, seq_len // 4), seq_len + 1, num)
        else:
            lengths = np.full(num, seq_len)
        content = {
            m: _features(rng, labels, lengths, width, seq_len, STRENGTH[m],
                         dtype)
            for m, width in widths.items()
        }
        content['labels'] = labels.astype(np.float32).reshape(num, 1, 1)
        if with_id:
            content['id'] = np.array([[f'video{i // 4:04d}',
                                       str(i % 4)] for i in range(num)])
        data[split] = content
    audio = data['train']['audio']
    train_lengths = (np.abs(audio).sum(-1) > 0).sum(-1)
    for k in range(inf_in_audio):
        row = k % len(audio)
        step = seq_len - 1 - (k // len(audio)) % train_lengths[row]
        audio[row, step,
              k % audio.shape[-1]] = (np.inf, -np.inf, np.nan)[k % 3]
    with open(path, 'wb') as f:
        # Protocol 4 as the released files (Python 3 era); numpy's arrays
        # go in-band either way.
        pickle.dump(data, f, protocol=4)
    return data


def write_converted_mosi(path: str, **kwargs) -> dict:
    """Write a pickle with :func:`write_mosi_pickle` and convert it into the
    folder beside it (its name without ``.pkl``) that the data sets read.

    Args:
        path (str): The pickle to write.
        kwargs: Further arguments of :func:`write_mosi_pickle`.

    Returns:
        dict: What was written (the arrays, by split).
    """
    data = write_mosi_pickle(path, **kwargs)
    convert_mult_pickle(path)
    return data
