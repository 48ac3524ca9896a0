import copy
from typing import Callable, Dict, List, Optional, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmdr.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ModalityPipeline(BaseTransform):
    """Run one modality's own sub-pipeline and store its result by name.

    A multimodal sample often needs one pipeline per modality built from
    mmaction2's transforms unchanged: RGB frames and optical flow of the
    same clip are decoded (``RawFrameDecode`` with ``modality='RGB'`` or
    ``'Flow'``), cropped, flipped and formatted (``FormatShape`` ``'NCHW'``
    or ``'NCHW_Flow'``) differently. This transform runs ``transforms`` on a
    shallow copy of the sample, with ``overrides`` set first (e.g. the
    ``modality`` and ``filename_tmpl`` that ``RawFrameDecode`` reads), and
    stores the branch's ``out_key`` (``'imgs'``) under ``key``, where
    :class:`PackMultiModalInputs` finds it. Keys the branch computes are not
    leaked into the sample, so the next branch starts from the same input
    (e.g. the frame indices a shared ``SampleFrames`` drew).

    Required keys: whatever the branch's transforms read.

    Added keys: ``key`` and, for inspection, ``f'{key}_shape'``.

    Args:
        key (str): The modality name the result is stored under.
        transforms (list[dict | callable]): The branch's transforms.
        overrides (dict, optional): Sample keys set for the branch only.
        out_key (str): The branch's result key. Defaults to ``'imgs'``.
    """

    def __init__(self,
                 key: str,
                 transforms: List[Union[dict, Callable]],
                 overrides: Optional[Dict] = None,
                 out_key: str = 'imgs') -> None:
        self.key = key
        self.overrides = dict(overrides or {})
        self.out_key = out_key
        # Built in mmdr's registry, which reaches mmaction2's and mmcv's
        # transforms whatever the current default scope is.
        self.transforms = [
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in transforms
        ]

    def transform(self, results: Dict) -> Optional[Dict]:
        """Run the branch.

        Args:
            results (dict): The sample.

        Returns:
            dict: The sample with the modality's array under ``key``, or
            None when a branch transform drops the sample (as a pipeline
            does).
        """
        branch = copy.copy(results)
        branch.update(copy.deepcopy(self.overrides))
        for transform in self.transforms:
            branch = transform(branch)
            if branch is None:
                return None
        if self.out_key not in branch:
            raise KeyError(
                f'ModalityPipeline({self.key!r}): the branch produced no '
                f'{self.out_key!r}; end it with e.g. FormatShape')
        results[self.key] = branch[self.out_key]
        results[f'{self.key}_shape'] = tuple(np.shape(branch[self.out_key]))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(key={self.key!r}, '
                f'overrides={self.overrides}, transforms={self.transforms})')


@TRANSFORMS.register_module()
class SelectClipFrames(BaseTransform):
    """Keep the first frames of every sampled clip, shifting their indices.

    TSN samples an RGB frame and a stack of optical-flow frames at the same
    segment positions. With mmaction2's ``SampleFrames`` run once for both
    modalities (``clip_len`` = the flow stack length L), the RGB branch keeps
    the first frame of every clip: the frame at which its flow stack starts.
    ``index_offset`` shifts the kept indices, e.g. ``-1`` to read the
    1-based indices of rawframes (``start_index=1``) from a video with
    ``DecordDecode`` (0-based).

    Required keys: ``frame_inds``, ``clip_len``, ``num_clips``.

    Modified keys: ``frame_inds``, ``clip_len``.

    Args:
        num (int): Frames to keep per clip. Defaults to 1.
        index_offset (int): Added to the kept indices. Defaults to 0.
    """

    def __init__(self, num: int = 1, index_offset: int = 0) -> None:
        if not isinstance(num, int) or num < 1:
            raise ValueError(f'SelectClipFrames: num must be a positive '
                             f'int, got {num!r}')
        self.num = num
        self.index_offset = index_offset

    def transform(self, results: Dict) -> Dict:
        """Keep ``num`` frames per clip.

        Args:
            results (dict): The sample after ``SampleFrames``.

        Returns:
            dict: The sample with fewer frame indices.
        """
        clip_len, num_clips = results['clip_len'], results['num_clips']
        if self.num > clip_len:
            raise ValueError(f'SelectClipFrames: num={self.num} is more than '
                             f'the sampled clip_len={clip_len}')
        inds = np.asarray(results['frame_inds']).reshape(num_clips, clip_len)
        results['frame_inds'] = (
            inds[:, :self.num].reshape(-1) + self.index_offset)
        results['clip_len'] = self.num
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num={self.num}, '
                f'index_offset={self.index_offset})')
