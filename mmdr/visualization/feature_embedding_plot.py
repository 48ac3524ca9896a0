"""Scatter plots of 2-D feature embeddings, one panel per modality, points
coloured by class (the paper's Figure 3)."""
import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .figure import DPI, class_colours, new_figure

#: Inches per modality panel (square).
PANEL = 4.5
#: Classes per legend row.
LEGEND_COLUMNS = 10


def embedding_figure_size(num_modalities: int,
                          num_classes: int) -> Tuple[float, float]:
    """Size of :func:`plot_feature_embeddings`'s figure in inches.

    Args:
        num_modalities (int): Panels side by side.
        num_classes (int): Legend entries (rows of :data:`LEGEND_COLUMNS`).

    Returns:
        tuple[float, float]: Width and height.
    """
    legend_rows = math.ceil(num_classes / LEGEND_COLUMNS)
    return (max(PANEL * num_modalities, 6.0), PANEL + 0.5 + 0.25 * legend_rows)


def plot_feature_embeddings(embeddings: Dict[str, np.ndarray],
                            labels: np.ndarray,
                            out: str,
                            class_names: Optional[Sequence[str]] = None,
                            title: str = '',
                            dpi: int = DPI) -> Tuple[int, int]:
    """Draw every modality's embedding and save the figure as PNG.

    Args:
        embeddings (dict): Modality to ``(N, 2)`` points of the same N
            samples.
        labels (np.ndarray): ``(N, )`` class indices.
        out (str): PNG path.
        class_names (Sequence[str], optional): Legend name of every class
            index. Defaults to the indices.
        title (str): Figure title. Defaults to none.
        dpi (int): Resolution. Defaults to :data:`DPI`.

    Returns:
        tuple[int, int]: Width and height of the PNG in pixels.
    """
    labels = np.asarray(labels)
    num_classes = int(labels.max()) + 1 if labels.size else 0
    if class_names is not None:
        if len(class_names) < num_classes:
            raise ValueError(f'{len(class_names)} class names for labels up '
                             f'to {num_classes - 1}')
        num_classes = len(class_names)
    else:
        class_names = [str(c) for c in range(num_classes)]
    colours = class_colours(num_classes)
    size = embedding_figure_size(len(embeddings), num_classes)
    figure = new_figure(size, dpi)
    axes = figure.subplots(1, len(embeddings), squeeze=False)[0]
    for ax, (modality, points) in zip(axes, embeddings.items()):
        for c in range(num_classes):
            chosen = labels == c
            if chosen.any():
                ax.scatter(
                    points[chosen, 0],
                    points[chosen, 1],
                    s=12,
                    alpha=0.8,
                    color=colours[c],
                    linewidths=0)
        ax.set_title(modality)
        ax.set_xlabel('t-SNE dimension 1')
        ax.set_ylabel('t-SNE dimension 2')
        ax.set_aspect('equal', adjustable='datalim')
    # One legend for all panels: every class, present or not, in order.
    handles = [
        axes[0].scatter([], [], s=30, color=colours[c])
        for c in range(num_classes)
    ]
    figure.legend(
        handles,
        list(class_names),
        loc='outside lower center',
        ncols=min(num_classes, LEGEND_COLUMNS),
        title='class',
        frameon=False)
    if title:
        figure.suptitle(title)
    figure.savefig(out, dpi=dpi)
    return round(size[0] * dpi), round(size[1] * dpi)
