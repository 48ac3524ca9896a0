import os.path as osp
from abc import abstractmethod
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log


def read_skip_list(path: str) -> Dict[str, str]:
    """Read a skip list: one clip per line, ``# reason`` allowed.

    The clip is named as in the annotation file (e.g. ``<Class>/<clip>``,
    with or without the video's extension); the preparation tools'
    ``skipped.txt`` and ``tools/data/ucf101/check_rawframes.py`` write such
    files.

    Args:
        path (str): The file.

    Returns:
        dict[str, str]: Clip (without extension) to reason (may be empty).
    """
    skipped = {}
    with open(path) as f:
        for line in f:
            entry, _, reason = line.partition('#')
            entry = entry.strip()
            if entry:
                skipped[osp.splitext(entry)[0]] = reason.strip()
    return skipped


class BaseMultiModalDataset(BaseDataset):
    """Base of mmdr's data sets: named modalities and a prepare command.

    Every sample's info carries ``modalities`` (the data set's modality
    names), which :class:`PackMultiModalInputs` packs and
    ``ModalityCheckHook`` compares with the model's encoders. A missing
    ``data_root`` is reported with the command that prepares it.

    Args:
        ann_file (str): Split file, relative to ``data_root`` unless absolute.
        data_root (str): The prepared folder.
        pipeline (list): Transforms applied to every sample.
        test_mode (bool): Whether the data set is for testing.
        kwargs: Further arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    #: The command that prepares the data set under ``data_root``.
    PREPARE_COMMAND: str = ''
    #: Its option that names the data set's folder.
    PREPARE_ROOT_OPTION: str = '--out'

    def __init__(self,
                 ann_file: str,
                 data_root: str,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 **kwargs) -> None:
        if not osp.isdir(data_root):
            raise FileNotFoundError(
                f'{type(self).__name__}: data_root {data_root!r} does not '
                'exist. Prepare the data set with: '
                f'{self.prepare_hint(data_root)}')
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    @classmethod
    def prepare_hint(cls, data_root: str) -> str:
        """The command that prepares the data set in ``data_root``.

        Args:
            data_root (str): The data set's folder.

        Returns:
            str: A shell command.
        """
        return f'{cls.PREPARE_COMMAND} {cls.PREPARE_ROOT_OPTION} {data_root}'

    def annotation_lines(
            self,
            delimiter: Optional[str] = None
    ) -> Iterator[Tuple[str, List[str]]]:
        """The non-blank lines of the annotation file, split into columns.

        Args:
            delimiter (str, optional): The column separator, e.g. ``','``
                for CSV lists (columns are stripped of surrounding
                whitespace); None splits on whitespace. Defaults to None.

        Yields:
            tuple[str, list[str]]: Where the line is (file, line number and
            text, for messages) and its columns.
        """
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{type(self).__name__}: annotation file {self.ann_file} not '
                'found. Prepare the data set with: '
                f'{self.prepare_hint(self.data_root)}')
        # utf-8-sig: lists written by spreadsheet tools start with a BOM.
        with open(self.ann_file, encoding='utf-8-sig') as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                fields = (
                    line.split() if delimiter is None else
                    [field.strip() for field in line.split(delimiter)])
                yield (f'{self.ann_file}, line {line_no} '
                       f'({line.strip()!r})', fields)

    def warn_skipped(self, skipped: List[str], num_kept: int,
                     skip_list: str) -> None:
        """Log the clips of the annotation file that a skip list left out.

        Args:
            skipped (list[str]): The clips left out.
            num_kept (int): The clips kept.
            skip_list (str): The skip list's path, for the message.
        """
        if not skipped:
            return
        print_log(
            f'{type(self).__name__}: {len(skipped)} of the '
            f'{len(skipped) + num_kept} clips of {self.ann_file} are in the '
            f'skip list {skip_list} and left out: '
            f'{skipped[:10]}{" ..." if len(skipped) > 10 else ""}',
            logger='current',
            level=30)

    @staticmethod
    def parse_label(text: str, num_classes: int, where: str) -> int:
        """Read a class label from an annotation line.

        Args:
            text (str): The label column.
            num_classes (int): Number of classes; labels run from 0.
            where (str): File and line, for the message.

        Returns:
            int: The label.
        """
        try:
            label = int(text)
        except ValueError:
            raise ValueError(
                f'{where}: the label must be an integer') from None
        if not 0 <= label < num_classes:
            raise ValueError(f'{where}: unknown label {label}; the classes '
                             f'are 0..{num_classes - 1}')
        return label

    @property
    @abstractmethod
    def modalities(self) -> tuple:
        """tuple[str]: The modalities every sample provides."""

    def get_data_info(self, idx: int) -> dict:
        """Get a sample's info, with the data set's modalities.

        Args:
            idx (int): Sample index.

        Returns:
            dict: The sample's info.
        """
        info = super().get_data_info(idx)
        info['modalities'] = self.modalities
        return info
