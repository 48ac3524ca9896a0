import numpy as np
from mmcv.transforms import BaseTransform

from mmdr.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ImageToFloat(BaseTransform):
    """Turn a loaded image into a float32 channel-first modality array.

    Meant to follow mmcv's ``LoadImageFromFile`` (``color_type='grayscale'``
    gives (H, W), colour (H, W, C)); the result is (C, H, W), scaled to
    [0, 1] for 8-bit images, ready for a 2D backbone.

    Required keys: ``in_key`` (default ``img``).
    Added keys: ``out_key`` (default ``visual``).

    Args:
        scale (float): Factor applied to the pixel values. Defaults to
            1 / 255.
        in_key (str): Key of the image. Defaults to ``'img'``.
        out_key (str): Key of the result. Defaults to ``'visual'``.
    """

    def __init__(self,
                 scale: float = 1 / 255,
                 in_key: str = 'img',
                 out_key: str = 'visual') -> None:
        self.scale = scale
        self.in_key = in_key
        self.out_key = out_key

    def transform(self, results: dict) -> dict:
        """Convert one image.

        Args:
            results (dict): The sample, with the image.

        Returns:
            dict: The sample with the float32 (C, H, W) array added.
        """
        img = np.asarray(results[self.in_key])
        if img.ndim == 2:
            img = img[..., None]
        if img.ndim != 3:
            raise ValueError(
                f'ImageToFloat: {self.in_key!r} of sample '
                f'{results.get("sample_idx")} has shape {img.shape}; '
                'expected (H, W) or (H, W, C)')
        results[self.out_key] = np.ascontiguousarray(
            img.transpose(2, 0, 1), dtype=np.float32) * np.float32(self.scale)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'in_key={self.in_key!r}, out_key={self.out_key!r})')
