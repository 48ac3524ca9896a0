"""A matplotlib figure on the Agg canvas, made without pyplot: no global
backend switch and no figure registry, so drawing in a library, a test or a
headless server leaves nothing behind."""
from typing import Tuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: Resolution of the saved figures (dots per inch).
DPI = 120


def new_figure(size: Tuple[float, float], dpi: int = DPI) -> Figure:
    """A figure with constrained layout (no overlapping labels).

    Args:
        size (tuple[float, float]): Width and height in inches.
        dpi (int): Dots per inch of the saved image. Defaults to
            :data:`DPI`.

    Returns:
        Figure: The figure, attached to an Agg canvas.
    """
    figure = Figure(figsize=size, dpi=dpi, layout='constrained')
    FigureCanvasAgg(figure)
    return figure


def class_colours(num_classes: int) -> np.ndarray:
    """Distinct colours, one per class.

    Args:
        num_classes (int): Number of classes.

    Returns:
        np.ndarray: ``(num_classes, 4)`` RGBA: the qualitative ``tab10`` or
        ``tab20`` palettes up to 20 classes, evenly spaced ``turbo`` beyond.
    """
    from matplotlib import colormaps
    if num_classes <= 10:
        return colormaps['tab10'](np.arange(num_classes))
    if num_classes <= 20:
        return colormaps['tab20'](np.arange(num_classes))
    return colormaps['turbo'](np.linspace(0.05, 0.95, num_classes))
