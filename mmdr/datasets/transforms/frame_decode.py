from typing import Dict

import numpy as np
from mmaction.datasets.transforms import (DecordDecode, DecordInit,
                                          RawFrameDecode)
from mmcv.transforms import BaseTransform

from mmdr.registry import TRANSFORMS


@TRANSFORMS.register_module()
class FrameDecode(BaseTransform):
    """Decode the sampled frames from the sample's video or frame folder.

    One RGB branch for both of mmaction2's layouts, so that a config trains
    on whichever the data set found: a sample with a ``filename`` (a video,
    ``UCF101Dataset(data_format='videos')``) is decoded with mmaction2's
    ``DecordInit`` and ``DecordDecode``, any other with ``RawFrameDecode``
    (``frame_dir``, ``filename_tmpl``), unchanged.

    Frame indices count from the sample's ``start_index`` (1 where a flow
    stack is read from rawframes at the same positions); a video's frames
    count from 0, so they are shifted by ``-start_index`` for the video.

    Required keys: ``frame_inds``, and ``filename`` (videos; with
    ``start_index``) or ``frame_dir`` and ``filename_tmpl`` (rawframes).

    Added keys: ``imgs``, ``original_shape``, ``img_shape``.

    Args:
        kwargs: Arguments of ``RawFrameDecode`` (e.g. ``io_backend``).
    """

    def __init__(self, **kwargs) -> None:
        self.raw = RawFrameDecode(**kwargs)
        self.init = DecordInit()
        self.decode = DecordDecode()

    def transform(self, results: Dict) -> Dict:
        """Decode the frames of one sample.

        Args:
            results (dict): The sample after frame sampling.

        Returns:
            dict: The sample with its images.
        """
        if results.get('filename') is None:
            return self.raw(results)
        if results.get('video_reader') is None:
            results = self.init(results)
        results['frame_inds'] = (
            np.asarray(results['frame_inds']) - results.get('start_index', 0))
        return self.decode(results)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(raw={self.raw!r})'
