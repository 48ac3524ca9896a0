import json
import logging
import os.path as osp
from typing import Callable, Dict, List, Sequence, Union

import numpy as np
from mmengine.logging import print_log

from mmdr.registry import DATASETS
from .base_multimodal_dataset import BaseMultiModalDataset
from .cmu_mosi_conversion import (CONVERT_COMMAND, META_FILE, MOSI_MODALITIES,
                                  MOSI_SPLITS, converted_folder, describe,
                                  source_stamp)

#: Classes of each task; ``regression`` is clustered by D&R as binary.
MOSI_CLASSES = dict(
    binary=('negative', 'non-negative'),
    seven=tuple(str(score) for score in range(-3, 4)),
    regression=('negative', 'non-negative'))
NONFINITE_MODES = ('error', 'zero')


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


class MappedSplit:
    """A converted split's feature arrays, memory-mapped read-only.

    Forked dataloader workers and every data set of the split share the
    pages of the files. Copies (mmengine's ``get_subset`` deep-copies a data
    set's attributes) and pickles (spawned workers) map the files again
    instead of copying the arrays.

    Args:
        folder (str): The converted folder.
        files (dict): Modality name to its ``.npy`` file in ``folder``.
    """

    def __init__(self, folder: str, files: Dict[str, str]) -> None:
        self.folder = folder
        self.files = files
        self.features: Dict[str, np.ndarray] = {
            modality: np.load(osp.join(folder, name), mmap_mode='r')
            for modality, name in files.items()
        }

    def __reduce__(self) -> tuple:
        return type(self), (self.folder, self.files)


def _describe(content: dict) -> str:
    """Keys and shapes (or descriptions) of a split, for messages."""
    parts = [
        f'{key} {value if isinstance(value, str) else describe(value)}'
        for key, value in content.items()
    ]
    return ', '.join(parts) or 'nothing'


def _prepare_hint(pickle_path: str) -> str:
    """Where a pickle comes from and the command that converts it."""
    return (f'put the word-aligned {osp.basename(pickle_path)} of the '
            'Multimodal Transformer (MulT) / MultiBench releases in '
            f'{osp.dirname(pickle_path) or "."} and convert it once: '
            f'{CONVERT_COMMAND} {pickle_path}')


@DATASETS.register_module()
class CMUMOSIDataset(BaseMultiModalDataset):
    """CMU-MOSI sentiment, three modalities, from the word-aligned pickle.

    Reads ``mosi_data.pkl`` of the Multimodal Transformer (MulT) and
    MultiBench releases, converted once into memory-mapped arrays by
    ``tools/data/cmu_mosi/convert_mult_pickle.py`` (see
    :mod:`mmdr.datasets.cmu_mosi_conversion`). The pickle holds a dict with
    ``'train'``, ``'valid'`` and ``'test'`` (1,284 / 229 / 686 utterances
    for MOSI), each holding ``'text'``, ``'audio'`` and ``'vision'`` arrays
    of shape (N, 50, d) and ``'labels'`` of shape (N, 1, 1) with the
    sentiment score in [-3, 3], often ``'id'`` as well (read when present,
    in any layout). Feature widths differ between releases (text 300-d
    GloVe; audio 5 or 74; vision 20, 35 or 47) and are read from the file.

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
    found: a missing or unconverted file (naming the command that converts
    it), a missing split or modality, sample counts that disagree within a
    split, labels other than one score per utterance or outside [-3, 3],
    and (by default) non-finite features (counted by the conversion).

    Memory: features are memory-mapped read-only float32 files, whose pages
    every data set and dataloader worker shares; ``data_list`` holds only
    indices, labels and ids, and :meth:`get_data_info` copies one utterance
    out.

    Args:
        ann_file (str): The converted folder, or the pickle it was
            converted from (its arrays are read from the folder of the
            same name without ``.pkl``), relative to ``data_root`` unless
            absolute. Defaults to ``'mosi_data'``.
        data_root (str): Its folder. Defaults to ``'data/mosi'``.
        split (str): ``'train'``, ``'valid'`` (the validation split) or
            ``'test'``. Defaults to ``'train'``.
        task (str): ``'binary'``, ``'seven'`` or ``'regression'``.
            Defaults to ``'binary'``.
        modalities (Sequence[str]): Modalities to load, any of ``'text'``,
            ``'audio'`` and ``'vision'``, in the order given. Defaults to
            all three.
        nonfinite (str): What to do with inf/nan features (some releases
            hold them in audio; the conversion replaced them with 0 and
            counted them): ``'error'`` stops, naming split, modality and
            count; ``'zero'`` accepts the zeros and logs the counts.
            Defaults to ``'error'``.
        pipeline (list): Transforms applied to every sample.
        test_mode (bool): Whether the data set is for testing.
        kwargs: Further arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(classes=MOSI_CLASSES['binary'])
    #: The pickle's file name in the MulT release.
    DEFAULT_PICKLE = 'mosi_data.pkl'

    def __init__(self,
                 ann_file: str = 'mosi_data',
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
        self._split: MappedSplit
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
        """Where the pickle comes from and the command that converts it.

        Args:
            data_root (str): The data set's folder.

        Returns:
            str: A hint for messages.
        """
        return _prepare_hint(osp.join(data_root, cls.DEFAULT_PICKLE))

    @property
    def modalities(self) -> tuple:
        """tuple[str]: The modalities every sample provides."""
        return self._modalities

    @property
    def feature_widths(self) -> Dict[str, int]:
        """dict[str, int]: Each modality's feature width, read from the file
        (``ModalityCheckHook`` holds them against the encoders)."""
        return {m: self._split.features[m].shape[-1] for m in self._modalities}

    def load_data_list(self) -> List[dict]:
        """Map the split's converted arrays and check them.

        Returns:
            list[dict]: One dict per utterance with ``row``, ``label``,
            ``sentiment`` and, when the file has ids, ``utterance_id``.
        """
        meta = self._read_meta()
        self._split, sentiment, ids = self._check_split(meta)
        classes = sentiment_class(sentiment, self.task)
        data_list = []
        for row, (label, score) in enumerate(
                zip(classes.tolist(), sentiment.tolist())):
            info = dict(row=row, label=label, sentiment=score)
            if ids is not None:
                info['utterance_id'] = ids[row]
            data_list.append(info)
        if not data_list:
            raise ValueError(f'{self.ann_file}: split {self.split!r} holds '
                             'no utterance')
        return data_list

    def _read_meta(self) -> dict:
        """The converted folder's ``meta.json``, or why there is none.

        Returns:
            dict: Its content.
        """
        name = type(self).__name__
        folder = self._folder()
        pickle_path = folder + '.pkl'
        meta_path = osp.join(folder, META_FILE)
        if not osp.isfile(meta_path):
            if osp.isfile(pickle_path):
                raise FileNotFoundError(
                    f'{name}: {folder} holds no converted arrays '
                    f'({META_FILE}); {pickle_path} is there: convert it '
                    f'once with {CONVERT_COMMAND} {pickle_path}')
            raise FileNotFoundError(
                f'{name}: {folder} not found. Prepare the data set: '
                f'{_prepare_hint(pickle_path)}')
        with open(meta_path) as f:
            meta = json.load(f)
        if (osp.basename(pickle_path) == meta['source']
                and osp.isfile(pickle_path)
                and source_stamp(pickle_path) != meta['source_stamp']):
            print_log(
                f'{folder} was converted from a {pickle_path} of another '
                'size or modification time; if the pickle changed, convert '
                f'it again: {CONVERT_COMMAND} {pickle_path}',
                logger='current',
                level=logging.WARNING)
        return meta

    def _folder(self) -> str:
        """The converted folder that ``ann_file`` names."""
        if self.ann_file.endswith('.pkl'):
            return converted_folder(self.ann_file)
        return self.ann_file.rstrip('/')

    def _check_split(self, meta: dict) -> tuple:
        """Check the split's keys, shapes, labels and non-finite values.

        Args:
            meta (dict): The converted folder's ``meta.json``.

        Returns:
            tuple: The :class:`MappedSplit` of the selected modalities, the
            (N, ) float64 scores and the ids (list of str, or None).
        """
        where = f'{self.ann_file}, split {self.split!r}'
        if self.split not in meta['splits']:
            raise ValueError(
                f'{self.ann_file} has no split {self.split!r}; its keys are '
                f'{list(meta["splits"])} (expected {list(MOSI_SPLITS)})')
        entry = meta['splits'][self.split]
        if 'keys' not in entry:
            raise ValueError(f'{where} is a {entry["description"]}')
        folder = self._folder()
        # Arrays by key; a value the conversion did not store is described.
        content = {
            item['key']:
            (np.load(osp.join(folder, item['file']), mmap_mode='r')
             if 'file' in item else item['description'])
            for item in entry['keys']
        }
        for key in (*self._modalities, 'labels'):
            if key not in content:
                raise ValueError(f'{where} has no {key!r} array; it holds '
                                 f'{_describe(content)}')
        for key in self._modalities:
            array = content[key]
            if not isinstance(array, np.ndarray) or array.ndim != 3:
                raise ValueError(
                    f'{where}: {key!r} must be a numeric (N, T, d) array; '
                    f'found {_describe({key: array})}')
        labels = content['labels']
        num = len(content[self._modalities[0]])
        labels_ok = isinstance(labels, np.ndarray)
        keys = list(self._modalities)
        if labels_ok:
            keys.append('labels')
        with_ids = isinstance(content.get('id'), np.ndarray)
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
        sentiment = np.array(labels).reshape(num)
        bad = np.flatnonzero(~(np.abs(sentiment) <= 3))
        if len(bad):
            raise ValueError(
                f'{where}: {len(bad)} labels lie outside [-3, 3] (e.g. '
                f'{sentiment[bad[0]]} at row {bad[0]}); the file is not '
                'a sentiment pickle of MOSI/MOSEI')
        self._handle_nonfinite(entry['nonfinite'])
        ids = content['id'].tolist() if with_ids else None
        files = {
            item['key']: item['file']
            for item in entry['keys'] if item['key'] in self._modalities
        }
        mapped = MappedSplit(folder, {m: files[m] for m in self._modalities})
        return mapped, sentiment, ids

    def _handle_nonfinite(self, counts: Dict[str, int]) -> None:
        """Refuse or log the non-finite features of the split.

        Args:
            counts (dict): Non-finite values by modality, as the conversion
                counted (and replaced with 0) them.
        """
        found = {m: counts[m] for m in self._modalities if counts.get(m)}
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
            # A copy in memory: transforms may change it in place; the
            # mapped file is read-only and shared.
            info[modality] = np.array(self._split.features[modality][row])
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
    """CMU-MOSEI sentiment from the word-aligned ``mosei_senti_data.pkl``
    (converted as :class:`CMUMOSIDataset`'s).

    The same format as :class:`CMUMOSIDataset` (about 23,000 utterances:
    16,326 / 1,871 / 4,659 in the MulT release); only the defaults differ.

    Args:
        ann_file (str): The converted folder (or its pickle). Defaults to
            ``'mosei_senti_data'``.
        data_root (str): Its folder. Defaults to ``'data/mosei'``.
        kwargs: Further arguments of :class:`CMUMOSIDataset`.
    """

    DEFAULT_PICKLE = 'mosei_senti_data.pkl'

    def __init__(self,
                 ann_file: str = 'mosei_senti_data',
                 data_root: str = 'data/mosei',
                 **kwargs) -> None:
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)
