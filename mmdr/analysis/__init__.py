"""Analyses of trained multimodal models: per-modality features of a data
set and uni-modal linear probes on them."""
from .linear_probe import fit_linear_probe
from .modality_features import extract_modality_features, load_model_checkpoint
from .probing import unimodal_probes

__all__ = [
    'fit_linear_probe', 'extract_modality_features', 'load_model_checkpoint',
    'unimodal_probes'
]
