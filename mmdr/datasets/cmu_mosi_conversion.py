"""MulT's word-aligned CMU-MOSI/MOSEI pickle, converted once into arrays
that :class:`~mmdr.datasets.CMUMOSIDataset` memory-maps.

The pickle (``mosi_data.pkl``, ``mosei_senti_data.pkl``) is a dict of splits,
each a dict of ``'text'``, ``'audio'``, ``'vision'`` (N, T, d), ``'labels'``
(N, 1, 1) and often ``'id'``. Reading it takes the whole file into memory in
every process; the converted folder (the pickle's name without ``.pkl``,
beside it) holds one ``.npy`` per split and key instead:

* ``<split>_<modality>.npy``: C-contiguous float32, non-finite values
  replaced by 0 (counted in ``meta.json``, so that the data set can refuse
  or accept them);
* ``<split>_labels.npy``: float64, the pickle's shape;
* ``<split>_id.npy``: each utterance's id as text (its parts joined by
  ``_``), when the split has ids;
* ``meta.json``, written last: per split, every key of the pickle in its
  order with the file it went to (or, for a value that is not a numeric
  array, its description, for the data set's messages) and the non-finite
  counts; the pickle's size and modification time.

Nothing is checked here beyond the file being a readable dict of splits:
the data set checks what it reads, naming file, split and key.
"""
import json
import os
import os.path as osp
import pickle
from typing import Dict, Optional

import numpy as np

from mmdr.utils.atomic_write import open_atomic, write_text_atomic

#: The modalities of the word-aligned pickles, in their usual order.
MOSI_MODALITIES = ('text', 'audio', 'vision')
#: The official splits, named as the pickles name them.
MOSI_SPLITS = ('train', 'valid', 'test')
#: The command that converts a pickle.
CONVERT_COMMAND = 'python tools/data/cmu_mosi/convert_mult_pickle.py'
#: The file that marks a complete conversion.
META_FILE = 'meta.json'


def converted_folder(pickle_path: str) -> str:
    """Where a pickle's arrays go: its path without ``.pkl`` (a name that
    does not end in ``.pkl`` gets ``.arrays`` appended).

    Args:
        pickle_path (str): The pickle.

    Returns:
        str: The folder.
    """
    root, ext = osp.splitext(pickle_path)
    return root if ext == '.pkl' else pickle_path + '.arrays'


def source_stamp(path: str) -> Dict[str, int]:
    """The size and modification time a converted folder was made from.

    Args:
        path (str): The pickle.

    Returns:
        dict: ``size`` and ``mtime_ns``.
    """
    stat = os.stat(path)
    return dict(size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def describe(value) -> str:
    """A pickle value's shape (or type and length) for messages.

    Args:
        value: An array or anything else.

    Returns:
        str: E.g. ``'(40, 50, 300)'`` or ``'str of 8'``.
    """
    shape = getattr(value, 'shape', None)
    if shape is None and hasattr(value, '__len__'):
        shape = f'{type(value).__name__} of {len(value)}'
    return repr(value) if shape is None else str(shape)


def id_text(entry) -> str:
    """One utterance's id as text, whatever the id array's layout.

    Args:
        entry: The id: a string, bytes or an array of parts.

    Returns:
        str: The parts, stripped and joined by ``_``.
    """
    parts = []
    for part in np.asarray(entry, dtype=object).reshape(-1):
        if isinstance(part, bytes):
            part = part.decode('utf-8', 'replace')
        parts.append(str(part).strip())
    return '_'.join(parts)


def read_mult_pickle(path: str) -> dict:
    """Read a word-aligned pickle (also one written by Python 2).

    Args:
        path (str): The pickle.

    Returns:
        dict: Its splits.

    Raises:
        ValueError: If the file is no readable pickle of a dict.
    """
    try:
        with open(path, 'rb') as f:
            raw = pickle.load(f)
    except UnicodeDecodeError:
        # Pickles written by Python 2 hold their arrays as byte strings.
        with open(path, 'rb') as f:
            raw = pickle.load(f, encoding='latin1')
    except (pickle.UnpicklingError, EOFError, AttributeError,
            ImportError) as err:
        raise ValueError(f'{path} is not a readable pickle: '
                         f'{type(err).__name__}: {err}') from err
    if not isinstance(raw, dict):
        raise ValueError(f'{path} holds a {type(raw).__name__}; a '
                         'word-aligned MOSI/MOSEI pickle holds a dict '
                         f'with the splits {list(MOSI_SPLITS)}')
    return raw


def _save(path: str, array: np.ndarray) -> None:
    with open_atomic(path, 'wb') as f:
        np.save(f, array, allow_pickle=False)


def _convert_value(key: str, value) -> Optional[np.ndarray]:
    """The array stored for a pickle value, or None if it is not stored."""
    numeric = (
        isinstance(value, np.ndarray) and value.ndim > 0
        and np.issubdtype(value.dtype, np.number))
    if numeric and key in MOSI_MODALITIES:
        return np.ascontiguousarray(value, dtype=np.float32)
    if numeric and key == 'labels':
        return np.ascontiguousarray(value, dtype=np.float64)
    if key == 'id' and hasattr(value, '__len__'):
        return np.array([id_text(entry) for entry in value], dtype=str)
    return None


def _convert_split(split: str, content: dict, out_dir: str) -> dict:
    """Save a split's arrays; its entry of ``meta.json``."""
    keys, nonfinite = [], {}
    for key, value in content.items():
        array = _convert_value(key, value)
        if array is None:
            keys.append(dict(key=key, description=describe(value)))
            continue
        if key in MOSI_MODALITIES:
            bad = ~np.isfinite(array)
            nonfinite[key] = int(bad.sum())
            if nonfinite[key]:
                if not array.flags.writeable:
                    array = array.copy()
                array[bad] = 0
        name = f'{split}_{key}.npy'
        _save(osp.join(out_dir, name), array)
        keys.append(dict(key=key, file=name))
    return dict(keys=keys, nonfinite=nonfinite)


def convert_mult_pickle(pickle_path: str,
                        out_dir: Optional[str] = None) -> dict:
    """Convert a word-aligned pickle into memory-mappable arrays.

    Every split that is a dict is converted (others are described in
    ``meta.json``); modalities become float32 with non-finite values
    replaced by 0 and counted, labels float64, ids text. ``meta.json`` is
    written last, atomically, so a folder without it is incomplete; every
    array is written atomically, so data sets that map earlier arrays keep
    reading them.

    Args:
        pickle_path (str): The pickle.
        out_dir (str, optional): The folder to write. Defaults to
            :func:`converted_folder` of the pickle.

    Returns:
        dict: The content of ``meta.json``.
    """
    out_dir = out_dir or converted_folder(pickle_path)
    stamp = source_stamp(pickle_path)
    raw = read_mult_pickle(pickle_path)
    os.makedirs(out_dir, exist_ok=True)
    meta_path = osp.join(out_dir, META_FILE)
    if osp.exists(meta_path):
        # Incomplete until the new one is written.
        os.remove(meta_path)
    splits = {}
    for split in list(raw):
        content = raw.pop(split)
        if isinstance(content, dict):
            splits[split] = _convert_split(split, content, out_dir)
        else:
            splits[split] = dict(
                description=f'{type(content).__name__}, not a dict of arrays')
        # Free the file's (often float64) arrays split by split.
        del content
    meta = dict(
        source=osp.basename(pickle_path), source_stamp=stamp, splits=splits)
    write_text_atomic(meta_path, json.dumps(meta, indent=2) + '\n')
    return meta
