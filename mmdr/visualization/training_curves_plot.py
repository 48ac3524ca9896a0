"""Curves over training of one or more runs (the paper's Figure 4): train
and validation clustering purity and their gap per modality, validation
accuracy, and the re-learning epochs."""
from typing import List, Sequence, Tuple

from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from mmdr.analysis.training_curves import TrainingCurves
from .figure import DPI, new_figure

#: Inches of one panel.
PANEL_WIDTH, PANEL_HEIGHT = 4.5, 3.0


def curve_modalities(runs: Sequence[TrainingCurves]) -> List[str]:
    """Modalities with purity curves, in order of first appearance.

    Args:
        runs (Sequence[TrainingCurves]): The runs.

    Returns:
        list[str]: Their modalities.
    """
    modalities: List[str] = []
    for run in runs:
        modalities += [m for m in run.purities if m not in modalities]
    return modalities


def curves_figure_size(num_modalities: int) -> Tuple[float, float]:
    """Size of :func:`plot_training_curves`'s figure in inches.

    Args:
        num_modalities (int): Columns of purity and gap panels (0: only the
            accuracy panel).

    Returns:
        tuple[float, float]: Width and height.
    """
    rows = 3 if num_modalities else 1
    return (max(PANEL_WIDTH * num_modalities, 8.0), PANEL_HEIGHT * rows + 1.0)


def plot_training_curves(runs: Sequence[TrainingCurves],
                         out: str,
                         title: str = '',
                         dpi: int = DPI) -> Tuple[int, int]:
    """Draw the curves of several runs in one figure and save it as PNG.

    One column per modality: purities (train solid, validation dashed)
    above, the gap below; the validation metric across the bottom. Each
    run has its colour; its re-learnings are dotted vertical lines of that
    colour halfway between epoch ``E`` (whose diagnosis it used) and
    ``E + 1`` (the first epoch to train the result).

    Args:
        runs (Sequence[TrainingCurves]): The runs, e.g. joint training and
            D&R.
        out (str): PNG path.
        title (str): Figure title. Defaults to one naming the runs.
        dpi (int): Resolution. Defaults to :data:`DPI`.

    Returns:
        tuple[int, int]: Width and height of the PNG in pixels.
    """
    modalities = curve_modalities(runs)
    size = curves_figure_size(len(modalities))
    figure = new_figure(size, dpi)
    if modalities:
        layout = [[f'purity:{m}' for m in modalities],
                  [f'gap:{m}' for m in modalities], ['acc'] * len(modalities)]
    else:
        layout = [['acc']]
    axes = figure.subplot_mosaic(layout)
    colours = [f'C{i % 10}' for i in range(len(runs))]
    for run, colour in zip(runs, colours):
        for m, series in run.purities.items():
            for side, style in (('train_purity', '-'), ('val_purity', '--')):
                axes[f'purity:{m}'].plot(
                    series['epoch'],
                    series[side],
                    style,
                    color=colour,
                    marker='.')
            axes[f'gap:{m}'].plot(
                series['epoch'], series['gap'], '-', color=colour, marker='.')
        axes['acc'].plot(
            run.val_metric['epoch'],
            run.val_metric['value'],
            '-',
            color=colour,
            marker='.')
        for ax in axes.values():
            for epoch in run.relearn_epochs:
                ax.axvline(
                    epoch + 0.5,
                    color=colour,
                    linestyle=':',
                    linewidth=1.2,
                    alpha=0.8)
    for m in modalities:
        axes[f'purity:{m}'].set_title(f'{m}: clustering purity')
        axes[f'purity:{m}'].set_ylabel('purity')
        axes[f'gap:{m}'].set_title(f'{m}: purity gap')
        axes[f'gap:{m}'].set_ylabel('|train - val| purity')
    metrics = sorted({run.metric for run in runs})
    axes['acc'].set_title('validation accuracy')
    axes['acc'].set_ylabel(f'val {", ".join(metrics)}')
    for ax in axes.values():
        ax.set_xlabel('epoch')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)

    handles = [
        Line2D([], [], color=colour, marker='.', label=run.label)
        for run, colour in zip(runs, colours)
    ]
    if modalities:
        handles += [
            Line2D([], [], color='black', linestyle='-', label='train purity'),
            Line2D([], [], color='black', linestyle='--', label='val purity')
        ]
    if any(run.relearn_epochs for run in runs):
        handles.append(
            Line2D([], [],
                   color='grey',
                   linestyle=':',
                   label='re-learning (between epochs)'))
    figure.legend(
        handles=handles,
        loc='outside lower center',
        ncols=min(len(handles), 4),
        frameon=False)
    figure.suptitle(title
                    or 'Training curves: ' + ' vs '.join(run.label
                                                         for run in runs))
    figure.savefig(out, dpi=dpi)
    return round(size[0] * dpi), round(size[1] * dpi)
