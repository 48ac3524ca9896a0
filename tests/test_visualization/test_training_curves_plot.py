"""The curves figure: purity and gap panels per modality, validation metric
across the bottom, several runs overlaid; saved as PNG of the announced
size."""
import matplotlib.image as mpimg

from mmdr.analysis import TrainingCurves
from mmdr.visualization import curves_figure_size, plot_training_curves
from mmdr.visualization.training_curves_plot import curve_modalities


def _run(label, modalities, relearn):
    epochs = [1, 2, 3, 4]
    return TrainingCurves(
        label=label,
        purities={
            m:
            dict(
                epoch=epochs,
                train_purity=[0.3 + 0.1 * e + i for e in epochs],
                val_purity=[0.2 + 0.05 * e + i for e in epochs],
                gap=[0.1 + 0.05 * e for e in epochs])
            for i, m in enumerate(modalities)
        },
        relearn_epochs=relearn,
        val_metric=dict(epoch=epochs, value=[0.2, 0.4, 0.5, 0.55]))


def test_overlaid_runs_png_size(tmp_path):
    runs = [
        _run('joint training', ['audio', 'visual'], []),
        _run('D&R', ['visual', 'audio', 'text'], [2, 3])
    ]
    assert curve_modalities(runs) == ['audio', 'visual', 'text']
    out = tmp_path / 'curves.png'
    size = plot_training_curves(runs, str(out))
    assert curves_figure_size(3) == (13.5, 10.0)
    assert size == (1620, 1200)
    image = mpimg.imread(out)
    assert image.shape[:2] == (1200, 1620)
    assert image[..., :3].std() > 0.05


def test_runs_without_purities_get_only_the_metric_panel(tmp_path):
    out = tmp_path / 'acc.png'
    run = TrainingCurves(
        label='jt', val_metric=dict(epoch=[1, 2], value=[0.5, 0.6]))
    assert curves_figure_size(0) == (8.0, 4.0)
    assert plot_training_curves([run], str(out), title='jt') == (960, 480)
    assert mpimg.imread(out).shape[:2] == (480, 960)
