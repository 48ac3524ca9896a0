import logging
import os
import os.path as osp
import pickle
import weakref
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.logging import print_log

from mmdr.registry import DATASETS
from .base_multimodal_dataset import BaseMultiModalDataset

#: The modalities of the word-aligned pickles, in their usual order.
MOSI_MODALITIES = ('text', 'audio', 'vision')
#: The official splits, named as the pickles name them.
MOSI_SPLITS = ('train', 'valid', 'test')
#: Classes of each task; ``regression`` is clustered by D&R as binary.
MOSI_CLASSES = dict(
    binary=('negative', 'non-negative'),
    seven=tuple(str(score) for score in range(-3, 4)),
    regression=('negative', 'non-negative'))
NONFINITE_MODES = ('error', 'zero')
# Rows per block when non-finite values are counted, so that the boolean
# mask of a MOSEI-sized array (~250 MB) is never built at once.
_BLOCK_ROWS = 2048


def sentiment_class(score: Union[float, np.ndarray],
                    task: str) -> Union[int, np.ndarray]:
    """The class of a sentiment score in [-3, 3].

    Args:
        score (float | np.ndarray): Score(s).
        task (str): ``'binary'`` or ``'regression'`` (0 negative, score < 0;
            1 non-negative) or ``'seven'`` (``round(score) + 3``, rounded
            half to even as numpy's ``round``, which the Multimodal
            Transformer's evaluation uses).

    Returns:
        int | np.ndarray: The class(es).
    """
    score = np.asarray(score, dtype=np.float64)
    if task == 'seven':
        classes = np.round(np.clip(score, -3, 3)).astype(np.int64) + 3
    else:
        classes = (score >= 0).astype(np.int64)
    return int(classes) if classes.ndim == 0 else classes


class _PickleContents:
    """One word-aligned pickle, read once and held as float32.

    Modality arrays become C-contiguous float32 (non-finite values replaced
    by 0 and counted, so a data set can refuse or accept them), labels
    float64, anything else (ids) stays as read. Arrays are read-only: every
    data set of the process shares them.

    Args:
        path (str): The pickle.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        raw = self._load(path)
        if not isinstance(raw, dict):
            raise ValueError(f'{path} holds a {type(raw).__name__}; a '
                             'word-aligned MOSI/MOSEI pickle holds a dict '
                             f'with the splits {list(MOSI_SPLITS)}')
        self.splits: Dict[str, dict] = {}
        self.nonfinite: Dict[Tuple[str, str], int] = {}
        for split, content in raw.items():
            if isinstance(content, dict):
                self.splits[split] = self._convert(split, content)
            else:
                self.splits[split] = content
            # Free the file's (often float64) arrays split by split.
            raw[split] = None

    @staticmethod
    def _load(path: str):
        try:
            with open(path, 'rb') as f:
                return pickle.load(f)
        except UnicodeDecodeError:
            # Pickles written by Python 2 hold their arrays as byte strings.
            with open(path, 'rb') as f:
                return pickle.load(f, encoding='latin1')
        except (pickle.UnpicklingError, EOFError, AttributeError,
                ImportError) as err:
            raise ValueError(f'{path} is not a readable pickle: '
                             f'{type(err).__name__}: {err}') from err

    def _convert(self, split: str, content: dict) -> dict:
        converted = {}
        for key in list(content):
            value = content[key]
            numeric = (
                isinstance(value, np.ndarray) and value.ndim > 0
                and np.issubdtype(value.dtype, np.number))
            if numeric and key in MOSI_MODALITIES:
                value = self._to_float32(split, key, value)
            elif numeric and key == 'labels':
                value = np.ascontiguousarray(value, dtype=np.float64)
                value.setflags(write=False)
            converted[key] = value
            # Drop the file's array as soon as its copy exists.
            content[key] = None
        return converted

    def _to_float32(self, split: str, key: str,
                    array: np.ndarray) -> np.ndarray:
        array = np.ascontiguousarray(array, dtype=np.float32)
        if not array.flags.writeable:
            array = array.copy()
        count = 0
        for start in range(0, len(array), _BLOCK_ROWS):
            block = array[start:start + _BLOCK_ROWS]
            bad = ~np.isfinite(block)
            num_bad = int(bad.sum())
            if num_bad:
                block[bad] = 0
                count += num_bad
        self.nonfinite[(split, key)] = count
        array.setflags(write=False)
        return array


# Contents by (realpath, size, mtime): the splits of one file are read once
# per process. Weak values: the arrays go when the last data set goes.
_CACHE: 'weakref.WeakValueDictionary' = weakref.WeakValueDictionary()


def read_aligned_pickle(path: str) -> _PickleContents:
    """Read a word-aligned pickle, or take it from the process's cache.

    Args:
        path (str): The pickle.

    Returns:
        _PickleContents: Its splits as float32 arrays.
    """
    real = osp.realpath(path)
    stat = os.stat(real)
    key = (real, stat.st_size, stat.st_mtime_ns)
    contents = _CACHE.get(key)
    if contents is None:
        contents = _PickleContents(path)
        _CACHE[key] = contents
    return contents


def _describe(content: dict) -> str:
    """Keys and shapes of a split, for messages."""
    parts = []
    for key, value in content.items():
        shape = getattr(value, 'shape', None)
        if shape is None and hasattr(value, '__len__'):
            shape = f'{type(value).__name__} of {len(value)}'
        parts.append(f'{key} {repr(value) if shape is None else shape}')
    return ', '.join(parts) or 'nothing'


def _id_text(entry) -> str:
    """One utterance's id as text, whatever the id array's layout."""
    parts = []
    for part in np.asarray(entry, dtype=object).reshape(-1):
        if isinstance(part, bytes):
            part = part.decode('utf-8', 'replace')
        parts.append(str(part).strip())
    return '_'.join(parts)


class _SplitArrays:
    """A split's arrays that data sets share instead of copying.

    mmengine's ``get_subset`` deep-copies a data set's attributes; this
    holder hands itself out instead, so subsets (D&R's capped diagnosis
    set) never copy the features.

    Args:
        contents (_PickleContents): The file, kept alive with the arrays.
        features (dict): Modality name to (N, T, d) float32 array.
        sentiment (np.ndarray): (N, ) float64 scores.
        ids (list[str], optional): Utterance ids.
    """

    def __init__(self, contents: _PickleContents, features: Dict[str,
                                                                 np.ndarray],
                 sentiment: np.ndarray, ids: Optional[List[str]]) -> None:
        self.contents = contents
        self.features = features
        self.sentiment = sentiment
        self.ids = ids

    def __deepcopy__(self, memo: dict) -> '_SplitArrays':
        return self


@DATASETS.register_module()
class CMUMOSIDataset(BaseMultiModalDataset):
    """CMU-MOSI sentiment, three modalities, from the word-aligned pickle.

    Reads ``mosi_data.pkl`` of the Multimodal Transformer (MulT) and
    MultiBench releases: a dict with ``'train'``, ``'valid'`` and
    ``'test'`` (1,284 / 229 / 686 utterances for MOSI), each holding
    ``'text'``, ``'audio'`` and ``'vision'`` arrays of shape (N, 50, d) and
    ``'labels'`` of shape (N, 1, 1) with the sentiment score in [-3, 3],
    often ``'id'`` as well (read when present, in any layout). Feature
    widths differ between releases (text 300-d GloVe; audio 5 or 74; vision
    20, 35 or 47) and are read from the file.

    Padding: the pickles pad short utterances with all-zero time steps
    (the generated test files put them at the start); nothing else marks
    them, encoders detect all-zero rows and must not assume a side.

    Every sample's info holds one float32 (50, d) array per modality under
    its name, ``label`` (int), ``sentiment`` (float, the raw score),
    ``row`` (the utterance's index in the pickle's split), ``utterance_id``
    (when the file has ids) and ``modalities``. The label depends on
    ``task``:

    * ``'binary'``: 0 negative (score < 0), 1 non-negative (score >= 0);
    * ``'seven'``: ``round(clip(score, -3, 3)) + 3`` in 0..6 (rounded half
      to even, as the MulT evaluation's ``np.round``);
    * ``'regression'``: the binary class, which D&R clusters by (k = 2);
      the model regresses ``sentiment``.

    With ``dict(type='PackMultiModalInputs', meta_keys=('sample_idx',
    'sentiment'))`` the score reaches the data sample's metainfo, where
    ``SentimentMetric`` reads it.

    Bad input stops the build naming the file, split, key and the shapes
    found: a missing file, split or modality, sample counts that disagree
    within a split, labels other than one score per utterance or outside
    [-3, 3], and (by default) non-finite features.

    Memory: the file is read once per process for all its splits and data
    sets (a weak cache keyed by real path, size and modification time);
    features are held as contiguous read-only float32 arrays shared by
    every data set of the split, ``data_list`` holds only indices, labels
    and ids, and :meth:`get_data_info` copies one utterance out. Forked
    dataloader workers share the arrays copy-on-write.

    Args:
        ann_file (str): The pickle, relative to ``data_root`` unless
            absolute. Defaults to ``'mosi_data.pkl'``.
        data_root (str): Its folder. Defaults to ``'data/mosi'``.
        split (str): ``'train'``, ``'valid'`` (the validation split) or
            ``'test'``. Defaults to ``'train'``.
        task (str): ``'binary'``, ``'seven'`` or ``'regression'``.
            Defaults to ``'binary'``.
        modalities (Sequence[str]): Modalities to load, any of ``'text'``,
            ``'audio'`` and ``'vision'``, in the order given. Defaults to
            all three.
        nonfinite (str): What to do with inf/nan features (some releases
            hold them in audio): ``'error'`` stops, naming split, modality
            and count; ``'zero'`` replaces them with 0 and logs the counts.
            Defaults to ``'error'``.
        pipeline (list): Transforms applied to every sample.
        test_mode (bool): Whether the data set is for testing.
        kwargs: Further arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(classes=MOSI_CLASSES['binary'])
    #: The pickle's file name in the MulT release.
    DEFAULT_ANN_FILE = 'mosi_data.pkl'

    def __init__(self,
                 ann_file: str = 'mosi_data.pkl',
                 data_root: str = 'data/mosi',
                 split: str = 'train',
                 task: str = 'binary',
                 modalities: Sequence[str] = MOSI_MODALITIES,
                 nonfinite: str = 'error',
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 **kwargs) -> None:
        name = type(self).__name__
        if split not in MOSI_SPLITS:
            raise ValueError(
                f'{name}: split={split!r}; the splits are '
                f'{list(MOSI_SPLITS)} (the validation split is \'valid\', '
                'as the pickle names it)')
        if task not in MOSI_CLASSES:
            raise ValueError(f'{name}: task={task!r}; choose one of '
                             f'{list(MOSI_CLASSES)}')
        if isinstance(modalities, str):
            modalities = (modalities, )
        modalities = tuple(modalities)
        unknown = [m for m in modalities if m not in MOSI_MODALITIES]
        if (unknown or not modalities
                or len(set(modalities)) != len(modalities)):
            raise ValueError(
                f'{name}: modalities={list(modalities)}; choose distinct '
                f'modalities among {list(MOSI_MODALITIES)}')
        if nonfinite not in NONFINITE_MODES:
            raise ValueError(f'{name}: nonfinite={nonfinite!r}; choose one '
                             f'of {list(NONFINITE_MODES)}')
        self.split = split
        self.task = task
        self._modalities = modalities
        self.nonfinite = nonfinite
        self._arrays: Optional[_SplitArrays] = None
        # The task's classes, unless the config names its own.
        metainfo = dict(classes=MOSI_CLASSES[task])
        metainfo.update(kwargs.pop('metainfo', None) or {})
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            pipeline=pipeline,
            test_mode=test_mode,
            metainfo=metainfo,
            **kwargs)

    @classmethod
    def prepare_hint(cls, data_root: str) -> str:
        """Where the pickle comes from.

        Args:
            data_root (str): The data set's folder.

        Returns:
            str: A hint for messages.
        """
        return (f'put the word-aligned {cls.DEFAULT_ANN_FILE} of the '
                'Multimodal Transformer (MulT) / MultiBench releases in '
                f'{data_root} (or set ann_file to its path)')

    @property
    def modalities(self) -> tuple:
        """tuple[str]: The modalities every sample provides."""
        return self._modalities

    @property
    def feature_widths(self) -> Dict[str, int]:
        """dict[str, int]: Each modality's feature width, read from the file
        (``ModalityCheckHook`` holds them against the encoders)."""
        return {
            m: self._arrays.features[m].shape[-1]
            for m in self._modalities
        }

    def load_data_list(self) -> List[dict]:
        """Read the split (once per process) and check it.

        Returns:
            list[dict]: One dict per utterance with ``row``, ``label``,
            ``sentiment`` and, when the file has ids, ``utterance_id``.
        """
        name = type(self).__name__
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{name}: {self.ann_file} not found. Prepare the data set: '
                f'{self.prepare_hint(self.data_root)}')
        contents = read_aligned_pickle(self.ann_file)
        self._arrays = self._check_split(contents)
        classes = sentiment_class(self._arrays.sentiment, self.task)
        ids = self._arrays.ids
        data_list = []
        for row, (label, score) in enumerate(
                zip(classes.tolist(), self._arrays.sentiment.tolist())):
            info = dict(row=row, label=label, sentiment=score)
            if ids is not None:
                info['utterance_id'] = ids[row]
            data_list.append(info)
        if not data_list:
            raise ValueError(f'{self.ann_file}: split {self.split!r} holds '
                             'no utterance')
        return data_list

    def _check_split(self, contents: _PickleContents) -> _SplitArrays:
        """Check the split's keys, shapes, labels and non-finite values.

        Args:
            contents (_PickleContents): The file.

        Returns:
            _SplitArrays: The selected modalities, scores and ids.
        """
        where = f'{self.ann_file}, split {self.split!r}'
        if self.split not in contents.splits:
            raise ValueError(
                f'{self.ann_file} has no split {self.split!r}; its keys are '
                f'{list(contents.splits)} (expected {list(MOSI_SPLITS)})')
        content = contents.splits[self.split]
        if not isinstance(content, dict):
            raise ValueError(f'{where} is a {type(content).__name__}, not a '
                             'dict of arrays')
        for key in (*self._modalities, 'labels'):
            if key not in content:
                raise ValueError(f'{where} has no {key!r} array; it holds '
                                 f'{_describe(content)}')
        for key in self._modalities:
            array = content[key]
            if (not isinstance(array, np.ndarray) or array.ndim != 3
                    or array.dtype != np.float32):
                raise ValueError(
                    f'{where}: {key!r} must be a numeric (N, T, d) array; '
                    f'found {_describe({key: array})}')
        labels = content['labels']
        num = len(content[self._modalities[0]])
        # Numeric labels of at least one dimension are float64 by now.
        labels_ok = (
            isinstance(labels, np.ndarray) and labels.dtype == np.float64)
        keys = list(self._modalities)
        if labels_ok:
            keys.append('labels')
        with_ids = 'id' in content and hasattr(content['id'], '__len__')
        if with_ids:
            keys.append('id')
        counts = {key: len(content[key]) for key in keys}
        if len(set(counts.values())) != 1:
            raise ValueError(f'{where}: the sample counts disagree: '
                             f'{_describe({k: content[k] for k in keys})}')
        if not labels_ok or labels.size != num:
            raise ValueError(
                f'{where}: labels must hold one sentiment score per '
                f'utterance, shape ({num}, 1, 1); found '
                f'{_describe({"labels": labels})}')
        sentiment = labels.reshape(num)
        bad = np.flatnonzero(~(np.abs(sentiment) <= 3))
        if len(bad):
            raise ValueError(
                f'{where}: {len(bad)} labels lie outside [-3, 3] (e.g. '
                f'{sentiment[bad[0]]} at row {bad[0]}); the file is not '
                'a sentiment pickle of MOSI/MOSEI')
        self._handle_nonfinite(contents)
        ids = None
        if with_ids:
            ids = [_id_text(entry) for entry in content['id']]
        return _SplitArrays(contents,
                            {m: content[m]
                             for m in self._modalities}, sentiment, ids)

    def _handle_nonfinite(self, contents: _PickleContents) -> None:
        """Refuse or log the non-finite features of the split.

        Args:
            contents (_PickleContents): The file (already zeroed).
        """
        found = {
            m: contents.nonfinite[(self.split, m)]
            for m in self._modalities if contents.nonfinite[(self.split, m)]
        }
        if not found:
            return
        counts = ', '.join(f'{m!r}: {n}' for m, n in found.items())
        if self.nonfinite == 'error':
            raise ValueError(
                f'{self.ann_file}, split {self.split!r} holds non-finite '
                f'(inf/nan) feature values, by modality {counts}; set '
                "nonfinite='zero' to replace them with 0")
        for modality, count in found.items():
            print_log(
                f'{self.ann_file}, split {self.split!r}, modality '
                f'{modality!r}: replaced {count} non-finite values with 0',
                logger='current',
                level=logging.WARNING)

    def get_data_info(self, idx: int) -> dict:
        """One utterance with its own copy of each modality's (T, d) array.

        Args:
            idx (int): Sample index.

        Returns:
            dict: The sample's info.
        """
        info = super().get_data_info(idx)
        row = info['row']
        for modality in self._modalities:
            # A copy: transforms may change it in place; the source is
            # shared by every data set (and worker) of the process.
            info[modality] = self._arrays.features[modality][row].copy()
        return info

    def get_cat_ids(self, idx: int) -> List[int]:
        """The class of a sample (for class-balanced wrappers).

        Args:
            idx (int): Sample index.

        Returns:
            list[int]: Its label.
        """
        # The base's info: no feature arrays are copied for this.
        return [super().get_data_info(idx)['label']]


@DATASETS.register_module()
class CMUMOSEIDataset(CMUMOSIDataset):
    """CMU-MOSEI sentiment from the word-aligned ``mosei_senti_data.pkl``.

    The same format as :class:`CMUMOSIDataset` (about 23,000 utterances:
    16,326 / 1,871 / 4,659 in the MulT release); only the defaults differ.

    Args:
        ann_file (str): The pickle. Defaults to ``'mosei_senti_data.pkl'``.
        data_root (str): Its folder. Defaults to ``'data/mosei'``.
        kwargs: Further arguments of :class:`CMUMOSIDataset`.
    """

    DEFAULT_ANN_FILE = 'mosei_senti_data.pkl'

    def __init__(self,
                 ann_file: str = 'mosei_senti_data.pkl',
                 data_root: str = 'data/mosei',
                 **kwargs) -> None:
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)
