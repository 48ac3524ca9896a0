import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from mmdr.registry import DATASETS
from .base_multimodal_dataset import BaseMultiModalDataset, read_skip_list

UCF101_PREPARE_COMMAND = 'python tools/data/ucf101/prepare_ucf101.py'
UCF101_CHECK_COMMAND = 'python tools/data/ucf101/check_rawframes.py'
#: Where the class list lies in a prepared tree: the official archive's
#: folder, then mmaction2's ``tools/data/ucf101`` layout.
CLASS_FILE_CANDIDATES = ('ucfTrainTestlist/classInd.txt',
                         'annotations/classInd.txt')


def read_class_file(path: str) -> Tuple[str, ...]:
    """Read UCF-101's ``classInd.txt``: ``<index> <name>`` lines, from 1.

    Args:
        path (str): The file.

    Returns:
        tuple[str]: Class names; label ``i`` (0-based, as in mmaction2's
        annotation files) is ``names[i]``, the line with index ``i + 1``.
    """
    names: Dict[int, str] = {}
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 2 or not fields[0].isdigit():
                raise ValueError(f'{path}, line {line_no} ({line.strip()!r}):'
                                 ' expected "<index> <class name>"')
            names[int(fields[0])] = fields[1]
    if sorted(names) != list(range(1, len(names) + 1)):
        raise ValueError(f'{path}: class indices must run 1..{len(names)}, '
                         f'got {sorted(names)[:5]}...')
    return tuple(names[i] for i in range(1, len(names) + 1))


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
          ucfTrainTestlist/classInd.txt  (or annotations/classInd.txt)

    Annotation lines are mmaction2's: ``<frame_dir> <total_frames>
    <label>`` for rawframes, ``<video> <label>`` for videos, labels from 0.
    ``total_frames`` is the RGB frame count N; optical flow has N - 1
    frames (flow_k is the motion from frame k to k + 1). When the data set
    has a ``'flow'`` modality, ``total_frames`` in the sample is N - 1, so
    that a ``SampleFrames`` shared by both modalities only draws positions
    that have an RGB frame and a whole flow stack; the last RGB frame is
    never sampled. ``rgb_total_frames`` keeps N.

    Videos (``data_format='videos'``): the RGB branch decodes the video
    (``DecordInit``/``DecordDecode``); a flow modality is read from the
    rawframes of the same clip, whose flow frames are counted when the data
    set starts.

    Every sample holds ``frame_dir``, ``total_frames``,
    ``rgb_total_frames``, ``start_index`` (1 for rawframes), ``filename``
    (videos), ``clip`` (``<Class>/<clip>``), ``label`` and ``modalities``.
    Each modality's pipeline runs in a :class:`ModalityPipeline`.

    Bad input fails when the data set starts, naming file and line: a wrong
    column count, a label outside ``classInd.txt``, a frame count below 1,
    a missing frame folder or video. Clips named in ``skip_list`` (e.g.
    written by ``tools/data/ucf101/check_rawframes.py``) are left out with a
    warning that counts and names them.

    Args:
        ann_file (str): Annotation file, relative to ``data_root`` unless
            absolute.
        data_root (str): The prepared folder. Defaults to ``'data/ucf101'``.
        modalities (Sequence[str]): Any of ``'rgb'`` and ``'flow'``.
            Defaults to both.
        data_format (str): ``'rawframes'`` or ``'videos'``, the annotation
            file's format. Defaults to ``'rawframes'``.
        data_prefix (dict): Folders of ``rawframes`` and ``videos`` under
            ``data_root``.
        class_file (str, optional): ``classInd.txt``, relative to
            ``data_root`` unless absolute. Defaults to the first of
            ``ucfTrainTestlist/classInd.txt`` and
            ``annotations/classInd.txt`` that exists.
        skip_list (str, optional): Clips to leave out, one per line.
        flow_prefix (str): File name prefix of flow x frames, whose count
            gives the flow length of videos. Defaults to ``'flow_x_'``.
        pipeline (list): Transforms applied to every sample.
        test_mode (bool): Whether the data set is for testing.
        kwargs: Further arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    PREPARE_COMMAND = UCF101_PREPARE_COMMAND
    PREPARE_ROOT_OPTION = '--root'
    FORMATS = ('rawframes', 'videos')

    def __init__(self,
                 ann_file: str,
                 data_root: str = 'data/ucf101',
                 modalities: Sequence[str] = ('rgb', 'flow'),
                 data_format: str = 'rawframes',
                 data_prefix: dict = dict(
                     rawframes='rawframes', videos='videos'),
                 class_file: Optional[str] = None,
                 skip_list: Optional[str] = None,
                 flow_prefix: str = 'flow_x_',
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
        if data_format not in self.FORMATS:
            raise ValueError(f'UCF101Dataset: data_format={data_format!r}; '
                             f'choose one of {self.FORMATS}')
        self._modalities = modalities
        self.data_format = data_format
        self.class_file = class_file
        self.skip_list = skip_list
        self.flow_prefix = flow_prefix
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=dict(data_prefix),
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    @property
    def modalities(self) -> tuple:
        """tuple[str]: The modalities every sample provides."""
        return self._modalities

    def _class_names(self) -> Tuple[str, ...]:
        candidates = ([self.class_file]
                      if self.class_file else CLASS_FILE_CANDIDATES)
        paths = [
            p if osp.isabs(p) else osp.join(self.data_root, p)
            for p in candidates
        ]
        for path in paths:
            if osp.isfile(path):
                self._class_path = path
                return read_class_file(path)
        raise FileNotFoundError(
            f'UCF101Dataset: no classInd.txt at {paths}; it comes with the '
            'official split files (ucfTrainTestlist/). Set class_file=... or '
            f'prepare the data set with: {self.prepare_hint(self.data_root)}')

    def load_data_list(self) -> List[dict]:
        """Read the annotation file and check every clip it names.

        Returns:
            list[dict]: One dict per clip.
        """
        classes = self._class_names()
        self._metainfo['classes'] = classes
        skip = read_skip_list(self.skip_list) if self.skip_list else {}
        columns = 3 if self.data_format == 'rawframes' else 2
        data_list, skipped = [], []
        for where, fields in self.annotation_lines():
            if len(fields) != columns:
                layout = ('<frame_dir> <total_frames> <label>'
                          if columns == 3 else '<video> <label>')
                raise ValueError(
                    f'{where}: {len(fields)} columns, a {self.data_format}'
                    f' annotation line is "{layout}"')
            try:
                # Labels from 0: classInd.txt's index minus 1.
                label = self.parse_label(fields[-1], len(classes), where)
            except ValueError as err:
                raise ValueError(
                    f'{err} (the classes of {self._class_path})') from None
            clip = osp.splitext(fields[0])[0]
            if clip in skip:
                skipped.append(clip)
                continue
            info = self._clip_info(fields, clip, where)
            info.update(label=label, clip=clip, ann_line=where)
            data_list.append(info)
        self.warn_skipped(skipped, len(data_list), self.skip_list)
        if not data_list:
            raise ValueError(f'{self.ann_file} lists no usable clip')
        return data_list

    def _clip_info(self, fields: List[str], clip: str, where: str) -> dict:
        """Paths and frame counts of one clip, checked on disk."""
        frame_dir = osp.join(self.data_prefix['rawframes'], clip)
        with_flow = 'flow' in self._modalities
        hint = (f'check the tree with {UCF101_CHECK_COMMAND} and pass its '
                'skip list as skip_list=...')
        info = dict(frame_dir=frame_dir)
        if self.data_format == 'rawframes':
            try:
                num_rgb = int(fields[1])
            except ValueError:
                raise ValueError(
                    f'{where}: total_frames must be an integer') from None
            if num_rgb < (2 if with_flow else 1):
                raise ValueError(
                    f'{where}: total_frames={num_rgb} is too few '
                    f'({"RGB and flow need 2" if with_flow else "need 1"})')
            if not osp.isdir(frame_dir):
                raise FileNotFoundError(
                    f'{where}: frame folder {frame_dir} is missing; {hint}')
            info.update(
                rgb_total_frames=num_rgb,
                total_frames=num_rgb - 1 if with_flow else num_rgb,
                start_index=1)
            return info
        filename = osp.join(self.data_prefix['videos'], fields[0])
        if 'rgb' in self._modalities and not osp.isfile(filename):
            raise FileNotFoundError(
                f'{where}: video {filename} is missing; {hint}')
        info.update(filename=filename, start_index=0)
        if with_flow:
            if not osp.isdir(frame_dir):
                raise FileNotFoundError(
                    f'{where}: the flow frames of this video, {frame_dir}, '
                    f'are missing; {hint}')
            num_flow = sum(
                name.startswith(self.flow_prefix)
                for name in os.listdir(frame_dir))
            if num_flow < 1:
                raise ValueError(f'{where}: {frame_dir} holds no '
                                 f'{self.flow_prefix}* frames')
            # Flow frames are read from rawframes (1-based); the RGB branch
            # shifts the shared indices for the video (0-based).
            info.update(
                total_frames=num_flow,
                rgb_total_frames=num_flow + 1,
                start_index=1)
        return info
