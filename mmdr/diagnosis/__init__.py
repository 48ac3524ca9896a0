"""Pure math of the D&R diagnosis: clustering purity, re-learning strength
and blending of encoder weights toward their initialisation.

Nothing in this subpackage depends on mmengine, so it can be used and tested
on its own.
"""
from .history_table import format_dr_history
from .kmeans import KMEANS_BACKENDS, check_kmeans_backend, kmeans_labels
from .purity import clustering_purity
from .relearning import blend_toward_init
from .sample_size import MIN_SAMPLES_PER_CLUSTER, small_split_warning
from .side_by_side import clustering_purities
from .strength import purity_gap, relearn_strength

__all__ = [
    'format_dr_history', 'KMEANS_BACKENDS', 'check_kmeans_backend',
    'kmeans_labels', 'clustering_purity', 'clustering_purities', 'purity_gap',
    'relearn_strength', 'blend_toward_init', 'MIN_SAMPLES_PER_CLUSTER',
    'small_split_warning'
]
