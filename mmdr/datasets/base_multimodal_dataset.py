import os.path as osp
from abc import abstractmethod
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple, Union)

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from .file_checks import describe_files, find_file_problems, unreadable_files

#: The command that finds every unreadable file of a config's data sets.
CHECK_DATA_COMMAND = 'python tools/analysis/check_data.py'


class SampleLoadError(RuntimeError):
    """A sample that its pipeline could not load.

    The message names the data set, the sample, its annotation line, the
    files that do not decode and how to find and leave out every such file.
    A plain ``RuntimeError`` subclass with one argument, so that a data
    loader worker can re-raise it in the main process.
    """


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


def read_skip_lists(paths: Union[str, Sequence[str], None]) -> Dict[str, str]:
    """Read one skip list or several (e.g. the preparation's and a check's).

    Args:
        paths (str | Sequence[str] | None): The file(s); None reads none.

    Returns:
        dict[str, str]: Clip (without extension) to reason, all files
        merged.
    """
    if paths is None:
        return {}
    if isinstance(paths, str):
        paths = [paths]
    skipped: Dict[str, str] = {}
    for path in paths:
        skipped.update(read_skip_list(path))
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
        check_files (bool): Whether every file of every sample gets the
            cheap checks (:meth:`check_sample_files`) when the data set
            starts. Defaults to True.
        kwargs: Further arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    #: The command that prepares the data set under ``data_root``.
    PREPARE_COMMAND: str = ''
    #: Its option that names the data set's folder.
    PREPARE_ROOT_OPTION: str = '--out'
    #: Skip lists under ``data_root`` read wherever they exist when a data
    #: set's ``skip_list`` is None: what the preparation tools and
    #: ``tools/analysis/check_data.py`` write.
    DEFAULT_SKIP_LISTS = ('skipped.txt', 'unreadable.txt')
    #: Info keys copied into the message of a sample that fails to load.
    DESCRIBE_KEYS = ('clip', 'frame_dir', 'filename', 'img_path', 'audio_path')

    def __init__(self,
                 ann_file: str,
                 data_root: str,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 check_files: bool = True,
                 **kwargs) -> None:
        self.check_files = check_files
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

    def check_hint(self) -> str:
        """How to find every unreadable file at once and leave it out.

        Returns:
            str: One sentence with the commands.
        """
        command = f'"{CHECK_DATA_COMMAND} CONFIG --data-root {self.data_root}"'
        if hasattr(self, 'skip_list'):
            return self.skip_hint(command)
        # A data set without skip lists: its files are made again.
        return (f'find every unreadable file at once with {command} and '
                f'prepare them again ({self.prepare_hint(self.data_root)})')

    def skip_hint(self, command: str) -> str:
        """The sentence of :meth:`check_hint` around a checking command.

        Args:
            command (str): A command that writes ``unreadable.txt`` in
                ``data_root``.

        Returns:
            str: One sentence.
        """
        out = osp.join(self.data_root, 'unreadable.txt')
        return (f'find every unreadable file at once with {command}: it '
                f'writes {out}, which the data sets leave out by default '
                "(skip_list=None; a skip_list of the config must name "
                "'unreadable.txt' too)")

    def read_skips(
        self, skip_list: Union[str, Sequence[str], None]
    ) -> Tuple[Dict[str, str], List[str]]:
        """The clips to leave out, and the skip lists they come from.

        Args:
            skip_list (str | Sequence[str] | None): The data set's argument:
                None reads :attr:`DEFAULT_SKIP_LISTS` wherever they exist
                in ``data_root``; otherwise exactly the files named, each
                relative to ``data_root`` unless absolute, each required.

        Returns:
            tuple[dict[str, str], list[str]]: Clip to reason, and the files
            read.
        """
        if skip_list is None:
            paths = [
                osp.join(self.data_root, name)
                for name in self.DEFAULT_SKIP_LISTS
                if osp.isfile(osp.join(self.data_root, name))
            ]
            return read_skip_lists(paths), paths
        given = [skip_list] if isinstance(skip_list, str) else list(skip_list)
        paths = []
        for name in given:
            path = name if osp.isabs(name) else osp.join(self.data_root, name)
            if not osp.isfile(path):
                elsewhere = ('; it exists relative to the working directory: '
                             'give it relative to data_root or absolute'
                             if path != name and osp.isfile(name) else '')
                raise FileNotFoundError(
                    f'{type(self).__name__}: skip_list {path} not found (a '
                    f'relative skip_list is relative to data_root){elsewhere}'
                    '; skip_list=None reads '
                    f'{" and ".join(self.DEFAULT_SKIP_LISTS)} where they '
                    'exist')
            paths.append(path)
        return read_skip_lists(paths), paths

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline on one sample; a failure names its files.

        Args:
            idx (int): Sample index.

        Returns:
            Any: The pipeline's result.

        Raises:
            SampleLoadError: When the pipeline fails: the message names the
                sample, its annotation line, the files of the sample that do
                not decode (each decoded again to find them) and
                :meth:`check_hint`; the original error is its cause.
        """
        info = self.get_data_info(idx)
        described = {
            key: info[key]
            for key in self.DESCRIBE_KEYS + ('ann_line', )
            if isinstance(info.get(key), str)
        }
        try:
            return self.pipeline(info)
        except SampleLoadError:
            raise
        except Exception as err:  # noqa: B902 - re-raised with the files
            raise SampleLoadError(self.describe_failure(idx, described,
                                                        err)) from err

    def describe_failure(self, idx: int, described: Dict[str, str],
                         err: BaseException) -> str:
        """The message of a sample whose pipeline failed.

        Args:
            idx (int): Sample index.
            described (dict[str, str]): The sample's file keys and
                ``ann_line`` (file, line number and text of its annotation).
            err (BaseException): What the pipeline raised.

        Returns:
            str: The message.
        """
        name = described.get('clip') or next(
            (described[k]
             for k in self.DESCRIBE_KEYS if k in described), f'#{idx}')
        where = described.get('ann_line', self.ann_file)
        cause = str(err).strip().splitlines()
        cause = f'{type(err).__name__}: {cause[-1] if cause else ""}'
        unreadable = unreadable_files(described)
        if unreadable:
            files = f'unreadable: {describe_files(unreadable)}'
        else:
            files = ('every file of the sample decodes, so the pipeline '
                     'itself failed on it')
        return (f'{type(self).__name__}: sample {idx} ({name}, from {where}) '
                f'could not be loaded ({cause}); {files}. To go on, '
                f'{self.check_hint()}.')

    def check_sample_files(self, entries: Sequence[Tuple[str, str]]) -> None:
        """The cheap checks of every file, before any work starts.

        Missing and empty files and WAV files shorter than their header
        says (:func:`mmdr.datasets.file_checks.file_problem`), in a thread
        pool; all problems are reported at once. Nothing is checked with
        ``check_files=False``.

        Args:
            entries (Sequence[tuple[str, str]]): ``(where, path)`` pairs:
                the annotation line (or sample) and one of its files.

        Raises:
            FileNotFoundError: When some file is unusable; the message names
                up to 10 of them with their annotation lines.
        """
        if not self.check_files:
            return
        self.raise_file_problems(find_file_problems(entries), len(entries))

    def raise_file_problems(self, problems: Sequence[Tuple[str, str, str]],
                            num_files: int) -> None:
        """Report the unusable files of the samples at once, if any.

        The message of :meth:`check_sample_files`, for data sets that find
        the problems otherwise (e.g. from one listing per frame folder).

        Args:
            problems (Sequence[tuple[str, str, str]]): ``(where, path,
                problem)`` of every unusable file.
            num_files (int): How many files were checked.

        Raises:
            FileNotFoundError: When ``problems`` is not empty; the message
                names up to 10 of them with their annotation lines.
        """
        if not problems:
            return
        shown = '\n  '.join(f'{where}: {path} is {problem}'
                            for where, path, problem in problems[:10])
        more = (f'\n  ... and {len(problems) - 10} more'
                if len(problems) > 10 else '')
        raise FileNotFoundError(
            f'{type(self).__name__}: {len(problems)} of the {num_files} '
            f'files named by {self.ann_file} are unusable:\n  {shown}{more}'
            f'\n{self.repair_hint()}')

    def repair_hint(self) -> str:
        """What to do about files that the start-up checks found unusable.

        Returns:
            str: One sentence.
        """
        return (f'Prepare them again ({self.prepare_hint(self.data_root)}), '
                f'or {self.check_hint()}.')

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
            delimiter: Optional[str] = None,
            path: Optional[str] = None) -> Iterator[Tuple[str, List[str]]]:
        """The non-blank lines of the annotation file, split into columns.

        Args:
            delimiter (str, optional): The column separator, e.g. ``','``
                for CSV lists (columns are stripped of surrounding
                whitespace); None splits on whitespace. Defaults to None.
            path (str, optional): Another list file to read (a data set
                whose split is made from several lists); None reads
                ``ann_file``. Defaults to None.

        Yields:
            tuple[str, list[str]]: Where the line is (file, line number and
            text, for messages) and its columns.
        """
        path = self.ann_file if path is None else path
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{type(self).__name__}: annotation file {path} not '
                'found. Prepare the data set with: '
                f'{self.prepare_hint(self.data_root)}')
        # utf-8-sig: lists written by spreadsheet tools start with a BOM.
        with open(path, encoding='utf-8-sig') as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                fields = (
                    line.split() if delimiter is None else
                    [field.strip() for field in line.split(delimiter)])
                yield (f'{path}, line {line_no} '
                       f'({line.strip()!r})', fields)

    def warn_skipped(self, skipped: List[str], num_kept: int,
                     skip_list: Union[str, Sequence[str]]) -> None:
        """Log the clips of the annotation file that a skip list left out.

        Args:
            skipped (list[str]): The clips left out.
            num_kept (int): The clips kept.
            skip_list (str | Sequence[str]): The skip list(s), for the
                message.
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
