"""Figures of the analyses (matplotlib, Agg canvas, no pyplot state):
t-SNE of per-modality features and curves over training."""
from .feature_embedding_plot import (embedding_figure_size,
                                     plot_feature_embeddings)
from .training_curves_plot import curves_figure_size, plot_training_curves

__all__ = [
    'embedding_figure_size', 'plot_feature_embeddings', 'curves_figure_size',
    'plot_training_curves'
]
