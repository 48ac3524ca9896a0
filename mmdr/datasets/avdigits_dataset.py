import os.path as osp
from typing import Callable, List, Union

from mmdr.registry import DATASETS
from .base_multimodal_dataset import BaseMultiModalDataset

AVDIGITS_PREPARE_COMMAND = 'python tools/data/avdigits/prepare_avdigits.py'


@DATASETS.register_module()
class AVDigitsDataset(BaseMultiModalDataset):
    """AV-Digits: noisy 8x8 handwritten digits paired with spoken digits.

    ``tools/data/avdigits/prepare_avdigits.py`` generates the data set under
    ``data/avdigits``: ``visual/<idx>.png`` (8-bit grayscale 8x8 images),
    ``audio/<idx>.wav`` (16-bit PCM mono WAV at 22,050 Hz) and the split
    files ``train.txt``, ``val.txt`` and ``test.txt`` with one
    ``<visual relpath> <audio relpath> <label>`` line per sample, e.g.
    ``visual/00012.png audio/00012.wav 2``.

    Every data info holds ``img_path`` (for mmcv's ``LoadImageFromFile``),
    ``audio_path`` (for :class:`LoadWaveform`), ``label``, ``sample_idx``
    and ``modalities`` (``('audio', 'visual')``); the pipeline puts the
    arrays under ``'audio'`` and ``'visual'`` for
    ``dict(type='PackMultiModalInputs')``.

    Args:
        ann_file (str): Split file, relative to ``data_root`` unless absolute.
        data_root (str): The generated folder. Defaults to ``'data/avdigits'``.
        pipeline (list): Transforms applied to every sample.
        test_mode (bool): Whether the data set is for testing.
        kwargs: Further arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(classes=tuple(str(d) for d in range(10)))
    MODALITIES = ('audio', 'visual')
    PREPARE_COMMAND = AVDIGITS_PREPARE_COMMAND

    def __init__(self,
                 ann_file: str,
                 data_root: str = 'data/avdigits',
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 **kwargs) -> None:
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    @property
    def modalities(self) -> tuple:
        """tuple[str]: The modalities every sample provides."""
        return self.MODALITIES

    def load_data_list(self) -> List[dict]:
        """Read the split file; check every file it names (cheap checks).

        Returns:
            list[dict]: One dict per sample with ``img_path``,
            ``audio_path`` and ``label``.
        """
        num_classes = len(self.metainfo['classes'])
        data_list, files = [], []
        for where, fields in self.annotation_lines():
            if len(fields) != 3:
                raise ValueError(f'{where}: expected "<visual relpath> '
                                 '<audio relpath> <label>"')
            label = self.parse_label(fields[2], num_classes, where)
            paths = [osp.join(self.data_root, p) for p in fields[:2]]
            files += [(where, path) for path in paths]
            data_list.append(
                dict(
                    img_path=paths[0],
                    audio_path=paths[1],
                    label=label,
                    ann_line=where))
        if not data_list:
            raise ValueError(f'{self.ann_file} lists no sample')
        # Checked here, once, rather than mid-epoch.
        self.check_sample_files(files)
        return data_list

    def repair_hint(self) -> str:
        """Generated files are regenerated, not left out.

        Returns:
            str: One sentence.
        """
        return ('Regenerate the data set with: '
                f'{self.prepare_hint(self.data_root)} --overwrite')
