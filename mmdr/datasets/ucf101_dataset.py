import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import (Callable, Iterator, List, Optional, Sequence, Tuple, Union)

from mmengine.logging import print_log

from mmdr.registry import DATASETS
from .base_multimodal_dataset import CHECK_DATA_COMMAND, BaseMultiModalDataset
from .file_checks import file_problem, folder_listing, listed_file_problems
from .splits.ucf101 import (DEFAULT_CARVE_SEED, DEFAULT_HOLDOUT_GROUPS,
                            FORMATS, SPLITS, Clip, carve_holdout,
                            class_names_from_lists, groups_per_class,
                            label_contradiction, list_names, parse_class_index,
                            parse_clip_group)

UCF101_PREPARE_COMMAND = 'python tools/data/ucf101/prepare_ucf101.py'
UCF101_CHECK_COMMAND = 'python tools/data/ucf101/check_rawframes.py'
#: Where the class list lies in a prepared tree: the official archive's
#: folder, then mmaction2's ``tools/data/ucf101`` layout.
CLASS_FILE_CANDIDATES = ('ucfTrainTestlist/classInd.txt',
                         'annotations/classInd.txt')
#: The list roles (:func:`~mmdr.datasets.splits.ucf101.list_names`) of a
#: subset: the list read, then the list it is carved from when the first
#: is not on disk.
SUBSET_ROLES = dict(
    train=('trainpart', 'train'), val=('holdout', 'train'), test=('val', ))
#: Threads of the start-up checks: listing and ``stat`` release the GIL.
CHECK_THREADS = 8
#: A line of the annotation file: where it is, and its columns.
Row = Tuple[str, List[str]]


def read_class_file(path: str) -> Tuple[str, ...]:
    """Read UCF-101's ``classInd.txt``: ``<index> <name>`` lines, from 1.

    Args:
        path (str): The file.

    Returns:
        tuple[str]: Class names; label ``i`` (0-based, as in mmaction2's
        annotation files) is ``names[i]``, the line with index ``i + 1``.
    """
    with open(path) as f:
        try:
            return tuple(parse_class_index(f))
        except ValueError as err:
            raise ValueError(f'{path}: {err}') from None


def _check_choice(name: str,
                  value: object,
                  choices: Sequence,
                  note: str = '') -> None:
    """Refuse an argument outside its choices, naming them."""
    if value not in choices:
        raise ValueError(f'UCF101Dataset: {name}={value!r}; choose one of '
                         f'{tuple(choices)}{note}')


@DATASETS.register_module()
class UCF101Dataset(BaseMultiModalDataset):
    """UCF-101 in mmaction2's layout, one sample with RGB and optical flow.

    A tree prepared with mmaction2's tools (or
    ``tools/data/ucf101/prepare_ucf101.py``) works as it is::

        data/ucf101/
          rawframes/<Class>/<v_Class_gXX_cYY>/img_00001.jpg ...     N RGB
                                          flow_x_00001.jpg ...   N - 1 flow
                                          flow_y_00001.jpg ...   N - 1 flow
          videos/<Class>/<v_Class_gXX_cYY>.avi
          ucf101_{train,val}_split_{1,2,3}_{rawframes,videos}.txt
          ucfTrainTestlist/classInd.txt  (or annotations/classInd.txt;
                                          optional)
          mmdr_ucf101_{trainpart,holdout}_split_N_*.txt  (optional)

    Named subsets (``split``, ``subset``) read the lists of that layout:
    ``'test'`` is mmaction2's ``ucf101_val_split_N_*.txt`` (the official
    test list, which mmaction2 calls ``val``); ``'train'`` and ``'val'`` are
    a group-disjoint carve of the training list
    ``ucf101_train_split_N_*.txt``: the ``mmdr_ucf101_{trainpart,holdout}_
    split_N_*.txt`` lists where ``prepare_ucf101.py`` wrote them, else the
    same carve made in memory (:func:`~mmdr.datasets.splits.ucf101.
    carve_holdout`: ``holdout_groups`` whole groups of every class held out,
    seeded with ``carve_seed``; identical to the tool's lists for the same
    training list, seed and groups), so that no model is selected on the
    test list. A carve whose validation part would not be smaller than its
    training part is refused. The sizes go to the log. ``ann_file`` names a
    list directly instead.

    The data format is that of the list found (a rawframes list first;
    videos where there is only a videos list), or of ``ann_file``'s columns,
    unless ``data_format`` forces it. Annotation lines are mmaction2's:
    ``<frame_dir> <total_frames> <label>`` for rawframes, ``<video>
    <label>`` for videos, labels from 0. ``total_frames`` is the RGB frame
    count N; optical flow has N - 1 frames (flow_k is the motion from frame
    k to k + 1). When the data set has a ``'flow'`` modality,
    ``total_frames`` in the sample is N - 1, so that a ``SampleFrames``
    shared by both modalities only draws positions that have an RGB frame
    and a whole flow stack; the last RGB frame is never sampled.
    ``rgb_total_frames`` keeps N.

    Videos: the sample has ``filename``, which ``FrameDecode`` decodes with
    decord; a flow modality is read from the rawframes of the same clip,
    whose flow frames are counted when the data set starts (without a
    rawframes folder it says how to extract them).

    Class names come from ``classInd.txt`` where there is one, else from
    the lists: every clip's class folder (or the ``v_<Class>_`` of its name)
    and label, over the annotation file and mmaction2's lists in
    ``data_root`` (:func:`~mmdr.datasets.splits.ucf101.
    class_names_from_lists`).

    Every sample holds ``frame_dir``, ``total_frames``,
    ``rgb_total_frames``, ``start_index``, ``filename`` (videos), ``clip``
    (``<Class>/<clip>``), ``label``, ``ann_line`` and ``modalities``. Each
    modality's pipeline runs in a :class:`ModalityPipeline`.

    Bad input fails when the data set starts, naming file and line: a wrong
    column count, a label outside the classes, a label that contradicts the
    clip's class folder (or name), a clip listed twice, a frame count below
    1, and (with ``check_files``) a missing frame folder, video, RGB or flow
    frame, or an empty one: every frame folder is listed once, in threads.
    A frame that does not decode is named when a sample first reads it,
    with :meth:`check_hint`. Clips named in the skip lists (e.g. written by
    ``tools/data/ucf101/check_rawframes.py``) are left out with a warning
    that counts and names them.

    Args:
        split (int): The official split, 1, 2 or 3. Defaults to 1.
        subset (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'train'``.
        ann_file (str, optional): An annotation file, relative to
            ``data_root`` unless absolute; overrides ``split`` and
            ``subset``.
        data_root (str): The prepared folder. Defaults to ``'data/ucf101'``.
        modalities (Sequence[str]): Any of ``'rgb'`` and ``'flow'``.
            Defaults to both.
        data_format (str, optional): ``'rawframes'`` or ``'videos'``; None
            takes the format of the list found. Defaults to None.
        data_prefix (dict): Folders of ``rawframes`` and ``videos`` under
            ``data_root``.
        class_file (str, optional): ``classInd.txt``, relative to
            ``data_root`` unless absolute. Defaults to the first of
            ``ucfTrainTestlist/classInd.txt`` and
            ``annotations/classInd.txt`` that exists, else the names the
            lists give.
        holdout_groups (int, optional): Groups of every class held out for
            validation by an in-memory carve. Defaults to 2, as
            ``prepare_ucf101.py``.
        carve_seed (int, optional): Seed of the in-memory carve. Defaults to
            0, as ``prepare_ucf101.py``.
        skip_list (str | Sequence[str], optional): Clips to leave out, one
            per line (``# reason`` allowed); one file or several, each
            relative to ``data_root`` unless absolute, each required. None
            reads ``skipped.txt`` and ``unreadable.txt`` in ``data_root``
            where they exist (:meth:`read_skips`). Defaults to None.
        rgb_tmpl (str): RGB frame file names. Defaults to
            ``'img_{:05d}.jpg'``.
        flow_tmpl (str): Flow frame file names (``x`` or ``y``, then the
            index). Defaults to ``'flow_{}_{:05d}.jpg'``.
        pipeline (list): Transforms applied to every sample.
        test_mode (bool): Whether the data set is for testing.
        kwargs: Further arguments of :class:`BaseMultiModalDataset`
            (``check_files``) and :class:`mmengine.dataset.BaseDataset`.
    """

    PREPARE_COMMAND = UCF101_PREPARE_COMMAND
    PREPARE_ROOT_OPTION = '--root'
    FORMATS = FORMATS

    def __init__(self,
                 split: int = 1,
                 subset: str = 'train',
                 ann_file: Optional[str] = None,
                 data_root: str = 'data/ucf101',
                 modalities: Sequence[str] = ('rgb', 'flow'),
                 data_format: Optional[str] = None,
                 data_prefix: dict = dict(
                     rawframes='rawframes', videos='videos'),
                 class_file: Optional[str] = None,
                 holdout_groups: Optional[int] = None,
                 carve_seed: Optional[int] = None,
                 skip_list: Union[str, Sequence[str], None] = None,
                 rgb_tmpl: str = 'img_{:05d}.jpg',
                 flow_tmpl: str = 'flow_{}_{:05d}.jpg',
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 **kwargs) -> None:
        if isinstance(modalities, str):
            modalities = (modalities, )
        modalities = tuple(modalities)
        unknown = [m for m in modalities if m not in ('rgb', 'flow')]
        if unknown or not modalities:
            raise ValueError(
                f'UCF101Dataset: modalities={modalities!r}; choose any of '
                "'rgb' and 'flow'")
        if data_format is not None:
            _check_choice('data_format', data_format, self.FORMATS,
                          ' (or None: the format of the list found)')
        if ann_file is None:
            _check_choice('split', split, SPLITS)
            _check_choice('subset', subset, tuple(SUBSET_ROLES))
        self.split = split
        self.subset = subset
        self._modalities = modalities
        self.data_format = data_format
        self.class_file = class_file
        self.holdout_groups = holdout_groups
        self.carve_seed = carve_seed
        self.skip_list = skip_list
        self.rgb_tmpl = rgb_tmpl
        self.flow_tmpl = flow_tmpl
        self._named = ann_file is None
        super().__init__(
            ann_file='' if ann_file is None else ann_file,
            data_root=data_root,
            data_prefix=dict(data_prefix),
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    @property
    def modalities(self) -> tuple:
        """tuple[str]: The modalities every sample provides."""
        return self._modalities

    def check_hint(self) -> str:
        """How to find every unreadable frame at once and leave it out.

        Returns:
            str: One sentence with the commands.
        """
        general = super().check_hint()
        if self.data_format != 'rawframes':
            return general
        out = osp.join(self.data_root, 'unreadable.txt')
        no_flow = '' if 'flow' in self._modalities else ' --no-flow'
        return self.skip_hint(f'"{UCF101_CHECK_COMMAND} {self.ann_file} '
                              f'--decode{no_flow} --out {out}" (any data '
                              f'set: "{CHECK_DATA_COMMAND} CONFIG '
                              f'--data-root {self.data_root}")')

    # ------------------------------------------------------------ lists

    @classmethod
    def split_file(cls,
                   split: int,
                   subset: str,
                   data_format: str = 'rawframes') -> str:
        """The list a named subset reads where it exists.

        Args:
            split (int): 1, 2 or 3.
            subset (str): ``'train'``, ``'val'`` or ``'test'``.
            data_format (str): ``'rawframes'`` or ``'videos'``.

        Returns:
            str: The list's file name under ``data_root``; ``'train'`` and
            ``'val'`` are carved in memory from mmaction2's training list
            where it is absent.
        """
        _check_choice('split', split, SPLITS)
        _check_choice('subset', subset, tuple(SUBSET_ROLES))
        _check_choice('data_format', data_format, FORMATS)
        return list_names(split)[SUBSET_ROLES[subset][0]][data_format]

    def _list_path(self, role: str, fmt: str) -> str:
        return osp.join(self.data_root, list_names(self.split)[role][fmt])

    def _resolve_lists(self) -> Optional[str]:
        """Choose the annotation file and the data format.

        Returns:
            str | None: The carve role (``'trainpart'`` or ``'holdout'``) to
            take from the annotation file, or None to take all of it.
        """
        if not self._named:
            if self.data_format is None:
                self.data_format = self._format_of_columns()
            return None
        roles = SUBSET_ROLES[self.subset]
        formats = ([self.data_format] if self.data_format else FORMATS)
        for fmt in formats:
            for index, role in enumerate(roles):
                if osp.isfile(self._list_path(role, fmt)):
                    self.data_format = fmt
                    self.ann_file = self._list_path(role, fmt)
                    return roles[0] if index else None
        looked = ', '.join(
            osp.basename(self._list_path(role, fmt)) for fmt in formats
            for role in roles)
        raise FileNotFoundError(
            f'UCF101Dataset: no list of split {self.split} for subset '
            f'{self.subset!r} in {self.data_root} (looked for {looked}). '
            "Write mmaction2's lists with its tools/data/build_file_list.py,"
            ' or prepare the official archive with: '
            f'{self.prepare_hint(self.data_root)}; or name a list with '
            'ann_file=...')

    def _format_of_columns(self) -> str:
        """The format of ``ann_file``, from its first line's columns."""
        for where, fields in self.annotation_lines():
            if len(fields) in (2, 3):
                return 'rawframes' if len(fields) == 3 else 'videos'
            raise ValueError(
                f'{where}: {len(fields)} columns; a rawframes line is '
                '"<frame_dir> <total_frames> <label>", a videos line '
                '"<video> <label>"')
        raise ValueError(f'UCF101Dataset: {self.ann_file} is empty')

    def _read_rows(self) -> List[Row]:
        """The annotation file's lines, column counts and clips checked."""
        columns = 3 if self.data_format == 'rawframes' else 2
        layout = ('<frame_dir> <total_frames> <label>'
                  if columns == 3 else '<video> <label>')
        rows, seen = [], {}
        for where, fields in self.annotation_lines():
            if len(fields) != columns:
                raise ValueError(
                    f'{where}: {len(fields)} columns, a {self.data_format}'
                    f' annotation line is "{layout}"')
            clip = osp.splitext(fields[0])[0]
            if clip in seen:
                raise ValueError(f'{where}: clip {clip} is listed twice '
                                 f'(first at {seen[clip]})')
            seen[clip] = where
            rows.append((where, fields))
        return rows

    # ---------------------------------------------------------- classes

    def _class_path(self) -> Optional[str]:
        """The class list's path; None when there is none to read."""
        if self.class_file:
            path = (
                self.class_file if osp.isabs(self.class_file) else osp.join(
                    self.data_root, self.class_file))
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'UCF101Dataset: class_file {path} not found; set '
                    'class_file=None to take the class names from the lists')
            return path
        for candidate in CLASS_FILE_CANDIDATES:
            path = osp.join(self.data_root, candidate)
            if osp.isfile(path):
                return path
        return None

    def _tree_lists(self) -> Iterator[str]:
        """mmaction2's lists (and mmdr's carve lists) in ``data_root``."""
        for split in SPLITS:
            for names in list_names(split).values():
                for name in names.values():
                    path = osp.join(self.data_root, name)
                    if osp.isfile(path) and path != self.ann_file:
                        yield path

    @staticmethod
    def _int_label(text: str, where: str) -> int:
        try:
            label = int(text)
        except ValueError:
            raise ValueError(
                f'{where}: the label must be an integer') from None
        if label < 0:
            raise ValueError(f'{where}: label {label}; labels count from 0')
        return label

    def _class_names(self, rows: List[Row]) -> Tuple[Tuple[str, ...], str]:
        """The class names and where they come from."""
        path = self._class_path()
        if path is not None:
            return read_class_file(path), f'classInd.txt at {path}'
        clips = [(where, fields[0], self._int_label(fields[-1], where))
                 for where, fields in rows]
        for path in self._tree_lists():
            for where, fields in self.annotation_lines(path=path):
                # Only clips that name a class; a malformed line of another
                # list is that list's reader's to report.
                if len(fields) in (2, 3) and fields[-1].isdigit():
                    clips.append((where, fields[0], int(fields[-1])))
        try:
            names = class_names_from_lists(clips)
        except ValueError as err:
            raise ValueError(
                f'UCF101Dataset: {err} (no classInd.txt in {self.data_root}:'
                ' the class names come from the lists)') from None
        return tuple(
            names), "the lists' class folders and labels (no classInd.txt)"

    def _labels(self, rows: List[Row], classes: Sequence[str],
                names_from: str) -> List[int]:
        """Every row's label, checked against the classes and the clip."""
        labels = []
        for where, fields in rows:
            try:
                label = self.parse_label(fields[-1], len(classes), where)
            except ValueError as err:
                raise ValueError(f'{err} ({names_from})') from None
            wrong = label_contradiction(fields[0], label, classes, names_from)
            if wrong:
                raise ValueError(f'UCF101Dataset: {where}: {wrong}')
            labels.append(label)
        return labels

    # ------------------------------------------------------------ carve

    def _carve(self, rows: List[Row], labels: List[int],
               classes: Sequence[str], role: str) -> List[int]:
        """Indices of the rows of one part of the group-disjoint carve."""
        holdout_groups = (
            DEFAULT_HOLDOUT_GROUPS
            if self.holdout_groups is None else self.holdout_groups)
        seed = (
            DEFAULT_CARVE_SEED if self.carve_seed is None else self.carve_seed)
        clips = []
        for (where, fields), label in zip(rows, labels):
            try:
                group = parse_clip_group(fields[0])
            except ValueError as err:
                raise ValueError(
                    f'UCF101Dataset: {where}: {err}, so no group-disjoint '
                    'validation part can be carved from it; name the '
                    'training and validation lists with ann_file=...'
                ) from None
            clips.append(Clip(fields[0], label, group))
        try:
            trainpart, holdout, _ = carve_holdout(clips, classes, self.split,
                                                  holdout_groups, seed)
        except ValueError as err:
            raise ValueError(
                f'UCF101Dataset: {self.ann_file}: {err}') from None
        print_log(
            f'UCF101Dataset: split {self.split} {self.subset!r} is the '
            f'{"validation" if role == "holdout" else "training"} part of '
            f'{self.ann_file}, carved in memory (there is no '
            f'{osp.basename(self._list_path(role, self.data_format))}): '
            f'{holdout_groups} of the {groups_per_class(clips)} training '
            f'groups of every class held out (seed {seed}): '
            f'{len(trainpart)} training / {len(holdout)} validation clips '
            '(prepare_ucf101.py writes the same lists)',
            logger='current')
        keep = {c.path for c in (holdout if role == 'holdout' else trainpart)}
        return [i for i, (_, fields) in enumerate(rows) if fields[0] in keep]

    def _warn_unused_carve_options(self) -> None:
        if self._named and self.subset == 'test':
            return
        given = [
            f'{name}={value}'
            for name, value in (('holdout_groups', self.holdout_groups),
                                ('carve_seed', self.carve_seed))
            if value is not None
        ]
        if given:
            print_log(
                f'UCF101Dataset: {", ".join(given)} unused: {self.ann_file} '
                'is read as it is (only an in-memory carve uses them)',
                logger='current',
                level=30)

    # ------------------------------------------------------------ files

    def _clip_info(self, fields: List[str], clip: str, where: str) -> dict:
        """Paths and frame counts of one clip (files checked later)."""
        frame_dir = osp.join(self.data_prefix['rawframes'], clip)
        info = dict(frame_dir=frame_dir)
        if self.data_format == 'rawframes':
            with_flow = 'flow' in self._modalities
            try:
                num_rgb = int(fields[1])
            except ValueError:
                raise ValueError(
                    f'{where}: total_frames must be an integer') from None
            if num_rgb < (2 if with_flow else 1):
                raise ValueError(
                    f'{where}: total_frames={num_rgb} is too few '
                    f'({"RGB and flow need 2" if with_flow else "need 1"})')
            info.update(
                rgb_total_frames=num_rgb,
                total_frames=num_rgb - 1 if with_flow else num_rgb,
                start_index=1)
        else:
            info.update(
                filename=osp.join(self.data_prefix['videos'], fields[0]),
                start_index=0)
        return info

    def _frame_names(self, num_rgb: int, num_flow: int) -> Iterator[str]:
        """The frame files a clip must hold, from 1."""
        if 'rgb' in self._modalities:
            yield from (self.rgb_tmpl.format(i) for i in range(1, num_rgb + 1))
        if 'flow' in self._modalities:
            for axis in 'xy':
                yield from (self.flow_tmpl.format(axis, i)
                            for i in range(1, num_flow + 1))

    def _clip_files(self, info: dict) -> Tuple[Optional[int], int, list]:
        """One clip's cheap checks, from one listing of its frame folder.

        Returns:
            tuple: The number of flow x frames (videos with flow; else
            None), the number of files checked, and ``(where, path,
            problem)`` of the unusable ones.
        """
        where, frame_dir = info['ann_line'], info['frame_dir']
        problems, num_files = [], 0
        with_flow = 'flow' in self._modalities
        if self.data_format == 'videos' and 'rgb' in self._modalities:
            num_files += 1
            problem = file_problem(info['filename'])
            if problem:
                problems.append((where, info['filename'], problem))
        if self.data_format == 'videos' and not with_flow:
            return None, num_files, problems
        listing = folder_listing(frame_dir)
        if listing is None:
            return None, num_files + 1, problems + [
                (where, f'frame folder {frame_dir}', 'missing')
            ]
        num_flow = None
        if self.data_format == 'videos':
            prefix = self.flow_tmpl.replace('{}', 'x', 1).split('{')[0]
            num_flow = sum(name.startswith(prefix) for name in listing)
            if num_flow == 0:
                problems.append(
                    (where, f'{osp.join(frame_dir, prefix)}*', 'missing: '
                     'the folder holds no flow frame'))
            counts = (0, num_flow)
        else:
            counts = (info['rgb_total_frames'], info['rgb_total_frames'] - 1)
        names = list(self._frame_names(*counts))
        problems += [(where, path, problem)
                     for path, problem in listed_file_problems(
                         frame_dir, listing, names)]
        return num_flow, num_files + len(names), problems

    def _check_clips(self, data_list: List[dict]) -> None:
        """Cheap checks of every clip's files; flow counts of videos."""
        counting = self.data_format == 'videos' and 'flow' in self._modalities
        if counting and not osp.isdir(self.data_prefix['rawframes']):
            raise FileNotFoundError(
                f'UCF101Dataset: {self.ann_file} lists videos, and the '
                "'flow' modality reads optical flow from rawframes (<Class>/"
                f'<clip>/{self.flow_tmpl.format("x", 1)} ...), but '
                f'{self.data_prefix["rawframes"]} does not exist. Extract '
                'RGB and flow frames with: '
                f'{self.prepare_hint(self.data_root)} (from videos/ and the '
                "official ucfTrainTestlist/; it writes rawframes lists too),"
                " or with mmaction2's tools/data/ucf101/extract_frames.sh")
        if not (self.check_files or counting):
            return
        with ThreadPoolExecutor(min(CHECK_THREADS, len(data_list))) as pool:
            results = list(pool.map(self._clip_files, data_list, chunksize=16))
        if self.check_files:
            self.raise_file_problems(
                [p for _, _, found in results for p in found],
                sum(n for _, n, _ in results))
        if counting:
            for info, (num_flow, _, found) in zip(data_list, results):
                if not num_flow:
                    # Without flow frames a video has no position to sample,
                    # with or without the checks.
                    where, path, problem = found[-1]
                    raise FileNotFoundError(f'{where}: {path} is {problem}')
                # Flow frames are read from rawframes (1-based); FrameDecode
                # shifts the shared indices for the video (0-based).
                info.update(
                    total_frames=num_flow,
                    rgb_total_frames=num_flow + 1,
                    start_index=1)

    def load_data_list(self) -> List[dict]:
        """Read the annotation file and check every clip it names.

        Returns:
            list[dict]: One dict per clip.
        """
        carve_role = self._resolve_lists()
        rows = self._read_rows()
        classes, names_from = self._class_names(rows)
        self._metainfo['classes'] = classes
        # Named by the class-count checks (mmdr.utils.dataset_classes).
        self.class_source = names_from
        labels = self._labels(rows, classes, names_from)
        if carve_role is not None:
            kept = self._carve(rows, labels, classes, carve_role)
            rows, labels = [rows[i] for i in kept], [labels[i] for i in kept]
        else:
            self._warn_unused_carve_options()
        skip, skip_paths = self.read_skips(self.skip_list)
        data_list, skipped = [], []
        for (where, fields), label in zip(rows, labels):
            clip = osp.splitext(fields[0])[0]
            if clip in skip:
                skipped.append(clip)
                continue
            info = self._clip_info(fields, clip, where)
            info.update(label=label, clip=clip, ann_line=where)
            data_list.append(info)
        self.warn_skipped(skipped, len(data_list), skip_paths)
        if not data_list:
            raise ValueError(f'{self.ann_file} lists no usable clip')
        self._check_clips(data_list)
        if self._named and carve_role is None:
            print_log(
                f'UCF101Dataset: split {self.split} {self.subset!r} is '
                f'{self.ann_file}: {len(data_list)} clips',
                logger='current')
        return data_list
