import cv2
import numpy as np
import pytest

from mmdr.datasets.transforms import ImageToFloat
from mmdr.registry import TRANSFORMS
from mmdr.utils import register_all_modules

register_all_modules()


def test_grayscale_png_to_visual(tmp_path):
    img = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    path = str(tmp_path / 'digit.png')
    assert cv2.imwrite(path, img)
    load = TRANSFORMS.build(
        dict(type='LoadImageFromFile', color_type='grayscale'))
    results = ImageToFloat()(load(dict(img_path=path)))
    visual = results['visual']
    assert visual.shape == (1, 8, 8) and visual.dtype == np.float32
    np.testing.assert_allclose(visual[0], img / 255.0, rtol=1e-6)
    assert 0.0 <= visual.min() and visual.max() <= 1.0


def test_colour_image_is_channel_first():
    img = np.zeros((4, 5, 3), dtype=np.uint8)
    img[..., 2] = 255
    out = ImageToFloat(in_key='x', out_key='y', scale=1.0)(dict(x=img))['y']
    assert out.shape == (3, 4, 5)
    assert out[2].min() == 255.0 and out[:2].max() == 0.0
    assert 'scale=1.0' in repr(ImageToFloat(scale=1.0))


def test_errors(tmp_path):
    with pytest.raises(ValueError, match=r'sample 3 has shape \(8,\)'):
        ImageToFloat()(dict(img=np.zeros(8), sample_idx=3))
    corrupt = tmp_path / 'corrupt.png'
    corrupt.write_bytes(b'not a png')
    load = TRANSFORMS.build(
        dict(type='LoadImageFromFile', color_type='grayscale'))
    # mmcv's loader names the file it could not decode.
    with pytest.raises(Exception, match='corrupt.png'):
        load(dict(img_path=str(corrupt)))
