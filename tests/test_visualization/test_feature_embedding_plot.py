"""The t-SNE figure: one panel per modality, a class legend, saved as PNG
of the announced size."""
import matplotlib.image as mpimg
import numpy as np
import pytest

from mmdr.visualization import embedding_figure_size, plot_feature_embeddings


def test_png_has_the_announced_size(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 3)
    embeddings = dict(
        audio=rng.standard_normal((30, 2)),
        visual=rng.standard_normal((30, 2)))
    out = tmp_path / 'tsne.png'
    size = plot_feature_embeddings(
        embeddings,
        labels,
        str(out),
        class_names=[f'digit {c}' for c in range(10)],
        title='t-SNE')
    assert embedding_figure_size(2, 10) == (9.0, 5.25)
    assert size == (1080, 630)
    image = mpimg.imread(out)
    assert image.shape[:2] == (630, 1080)
    # Something was drawn: not a blank canvas.
    assert image[..., :3].std() > 0.05


def test_many_classes_and_one_modality(tmp_path):
    # 31 classes (Kinetics-Sounds): the legend takes 4 rows.
    labels = np.arange(31)
    out = tmp_path / 'one.png'
    width, height = plot_feature_embeddings(
        dict(audio=np.random.default_rng(1).standard_normal((31, 2))), labels,
        str(out))
    assert (width, height) == (720, 720)
    assert mpimg.imread(out).shape[:2] == (height, width)


def test_too_few_class_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match='2 class names for labels up to 2'):
        plot_feature_embeddings(
            dict(a=np.zeros((3, 2))), np.arange(3), str(tmp_path / 'x.png'),
            ['a', 'b'])
