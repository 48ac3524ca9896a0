"""Pure math of the D&R diagnosis: clustering purity, re-learning strength,
blending of encoder weights toward their initialisation, and the schedule.

Nothing in this subpackage depends on mmengine, so it can be used and tested
on its own.
"""
from .diagnose import diagnose_modalities
from .history_table import format_dr_history, format_dr_record
from .kmeans import KMEANS_BACKENDS, check_kmeans_backend, kmeans_labels
from .purity import clustering_purity
from .relearning import blend_toward_init
from .sample_size import MIN_SAMPLES_PER_CLUSTER, small_split_warning
from .schedule import DRSchedule, relearned
from .side_by_side import clustering_purities
from .strength import purity_gap, relearn_strength

__all__ = [
    'diagnose_modalities', 'DRSchedule', 'format_dr_history',
    'format_dr_record', 'KMEANS_BACKENDS', 'relearned', 'check_kmeans_backend',
    'kmeans_labels', 'clustering_purity', 'clustering_purities', 'purity_gap',
    'relearn_strength', 'blend_toward_init', 'MIN_SAMPLES_PER_CLUSTER',
    'small_split_warning'
]
