"""Analyses of trained multimodal models: per-modality features of a data
set, uni-modal linear probes and t-SNE embeddings of them, the modalities'
Shapley contributions, the model's parameters and FLOPs, the curves and the
time per epoch of a training run, the statistics of the benchmark, and the
random batches of the model-only speed benchmarks."""
from .benchmark_statistics import (Summary, imbalance, paired_difference,
                                   paired_differences, paired_ratio, summarize)
from .complexity import model_complexity, parameter_count, prediction_flops
from .epoch_time import train_epoch_seconds
from .linear_probe import fit_linear_probe
from .modality_features import extract_modality_features, load_model_checkpoint
from .modality_shapley import (REPLACEMENTS, NotAClassifierError,
                               coalition_correctness, modality_shapley)
from .probing import unimodal_probes
from .shapley import coalitions, shapley_values, summarize_sample_values
from .synthetic_batches import (CREMAD_SHAPES, iter_batches, median_wall_time,
                                parse_input_shapes, random_modality_inputs)
from .training_curves import (TrainingCurves, load_training_curves,
                              purity_series, read_dr_history,
                              read_epoch_scalars, relearn_epochs, scalar_logs)
from .tsne import (CheckpointEmbedding, checkpoint_epoch, checkpoint_tsne,
                   split_dataset_cfg, subsample_indices, tsne_embed,
                   tsne_embed_modalities, tsne_perplexity)

__all__ = [
    'fit_linear_probe', 'extract_modality_features', 'load_model_checkpoint',
    'unimodal_probes', 'TrainingCurves', 'load_training_curves',
    'purity_series', 'read_dr_history', 'read_epoch_scalars', 'relearn_epochs',
    'scalar_logs', 'CheckpointEmbedding', 'checkpoint_epoch',
    'checkpoint_tsne', 'split_dataset_cfg', 'subsample_indices', 'tsne_embed',
    'tsne_embed_modalities', 'tsne_perplexity', 'Summary', 'imbalance',
    'paired_difference', 'paired_differences', 'paired_ratio', 'summarize',
    'CREMAD_SHAPES', 'iter_batches', 'median_wall_time', 'parse_input_shapes',
    'random_modality_inputs', 'model_complexity', 'parameter_count',
    'prediction_flops', 'train_epoch_seconds', 'REPLACEMENTS',
    'NotAClassifierError', 'coalition_correctness', 'modality_shapley',
    'coalitions', 'shapley_values', 'summarize_sample_values'
]
