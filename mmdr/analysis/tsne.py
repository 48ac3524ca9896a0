"""2-D t-SNE embeddings of per-modality features (the paper's Figure 3):
pure computation with scikit-learn, and the glue that feeds it a
checkpoint's features of a split; drawing is in
:mod:`mmdr.visualization.feature_embedding_plot`."""
import copy
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import torch
from sklearn.manifold import TSNE

#: Splits a checkpoint's features can be embedded on.
SPLITS = ('train', 'val', 'test')


def subsample_indices(num_samples: int,
                      max_samples: Optional[int],
                      seed: int = 0) -> Optional[np.ndarray]:
    """A seeded random subset of sample indices, in data set order.

    Args:
        num_samples (int): Size of the data set.
        max_samples (int, optional): Most samples to keep; None keeps all.
        seed (int): Seed of the subset. Defaults to 0.

    Returns:
        np.ndarray, optional: Sorted indices, or None when every sample is
        kept.
    """
    if max_samples is None or max_samples >= num_samples:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(num_samples, max_samples, replace=False))


def tsne_perplexity(num_samples: int, perplexity: float = 30.0) -> float:
    """The perplexity used for ``num_samples`` points.

    t-SNE needs a perplexity below the number of points; small sets get
    ``(num_samples - 1) / 3`` (about three neighbours' width per point),
    which scikit-learn accepts.

    Args:
        num_samples (int): Points to embed (at least 2).
        perplexity (float): The wanted perplexity. Defaults to 30, the
            scikit-learn default.

    Returns:
        float: ``min(perplexity, (num_samples - 1) / 3)``.
    """
    return float(min(perplexity, max(1.0, (num_samples - 1) / 3)))


def tsne_embed(features: np.ndarray,
               seed: int = 0,
               perplexity: float = 30.0) -> np.ndarray:
    """Embed one feature matrix in 2-D with t-SNE.

    Args:
        features (np.ndarray): ``(N, D)`` features, N >= 2.
        seed (int): ``random_state`` of t-SNE. With the PCA
            initialisation the embedding is deterministic (the same for
            the same features, whatever the seed in scikit-learn 1.9).
            Defaults to 0.
        perplexity (float): See :func:`tsne_perplexity`. Defaults to 30.

    Returns:
        np.ndarray: ``(N, 2)`` embedding (float32, as scikit-learn
        returns it).

    Raises:
        ValueError: If there are fewer than 2 samples or non-finite values.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError('t-SNE needs an (N, D) feature matrix with N >= 2; '
                         f'got shape {features.shape}')
    if not np.isfinite(features).all():
        raise ValueError(f'{int((~np.isfinite(features)).sum())} non-finite '
                         'feature values; t-SNE needs finite features')
    tsne = TSNE(
        n_components=2,
        perplexity=tsne_perplexity(len(features), perplexity),
        init='pca',
        random_state=seed)
    return tsne.fit_transform(features)


def tsne_embed_modalities(features: Dict[str, np.ndarray],
                          seed: int = 0,
                          perplexity: float = 30.0) -> Dict[str, np.ndarray]:
    """Embed every modality's features on its own.

    Args:
        features (dict): Modality to ``(N, D_m)`` features of the same N
            samples.
        seed (int): t-SNE seed. Defaults to 0.
        perplexity (float): See :func:`tsne_perplexity`. Defaults to 30.

    Returns:
        dict: Modality to its ``(N, 2)`` embedding, in the same order.
    """
    return {
        m: tsne_embed(f, seed=seed, perplexity=perplexity)
        for m, f in features.items()
    }


@dataclass
class CheckpointEmbedding:
    """A checkpoint's t-SNE embeddings of one split.

    Attributes:
        embeddings (dict): Modality to ``(N, 2)`` points.
        labels (np.ndarray): ``(N, )`` class indices.
        class_names (list[str]): Name of every class index.
        indices (np.ndarray): Indices of the N samples in the split.
        epoch (int, optional): The checkpoint's epoch (its ``meta``).
        perplexity (float): The t-SNE perplexity used.
    """
    embeddings: Dict[str, np.ndarray]
    labels: np.ndarray
    class_names: List[str]
    indices: np.ndarray
    epoch: Optional[int]
    perplexity: float


def split_dataset_cfg(cfg, split: str) -> dict:
    """The data set config of a split, read without augmentation.

    Args:
        cfg (Config): A training config.
        split (str): ``'train'`` (with the validation pipeline, as D&R and
            the probes read it), ``'val'`` or ``'test'``.

    Returns:
        dict: A copy of the data set config.
    """
    if split not in SPLITS:
        raise ValueError(f'split={split!r} is not one of {list(SPLITS)}')
    if split == 'train':
        return dict(
            copy.deepcopy(cfg.train_dataloader.dataset),
            pipeline=copy.deepcopy(cfg.val_dataloader.dataset.pipeline),
            test_mode=True)
    return copy.deepcopy(cfg[f'{split}_dataloader'].dataset)


def checkpoint_epoch(checkpoint: str) -> Optional[int]:
    """The epoch that mmengine recorded in a checkpoint's ``meta``.

    Args:
        checkpoint (str): The checkpoint file.

    Returns:
        int, optional: The epoch, or None if it records none.
    """
    meta = torch.load(checkpoint, map_location='cpu').get('meta') or {}
    epoch = meta.get('epoch')
    return None if epoch is None else int(epoch)


def checkpoint_tsne(cfg,
                    checkpoint: str,
                    split: str = 'val',
                    max_samples: Optional[int] = None,
                    seed: int = 0,
                    perplexity: float = 30.0) -> CheckpointEmbedding:
    """t-SNE of the pooled features of every encoder of a checkpoint.

    The checkpoint's weights go into ``cfg.model``
    (:func:`load_model_checkpoint`); every encoder's pooled features of the
    split (eval mode, no augmentation, the validation loader's batch size
    and workers) are embedded on their own.

    Args:
        cfg (Config): The config the checkpoint was trained with.
        checkpoint (str): The checkpoint.
        split (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'val'``.
        max_samples (int, optional): Embed a seeded random subset of at
            most this many samples. Defaults to None (all).
        seed (int): Seed of the subset and of t-SNE. Defaults to 0.
        perplexity (float): See :func:`tsne_perplexity`. Defaults to 30.

    Returns:
        CheckpointEmbedding: The embeddings and what they show.
    """
    # Imported here: the pure functions above need no mmengine.
    from mmdr.registry import DATASETS
    from .modality_features import (extract_modality_features,
                                    load_model_checkpoint)
    if max_samples is not None and max_samples < 2:
        raise ValueError(f'max_samples={max_samples}: t-SNE needs at least '
                         '2 samples')
    dataset_cfg = split_dataset_cfg(cfg, split)
    dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
    size = len(dataset)
    classes = dataset.metainfo.get('classes')
    subset = subsample_indices(size, max_samples, seed)
    if subset is not None:
        # mmengine's BaseDataset keeps just these samples, in this order.
        dataset_cfg['indices'] = subset.tolist()
    model = load_model_checkpoint(cfg, checkpoint)
    loader = cfg.val_dataloader
    features, labels = extract_modality_features(model, dataset_cfg,
                                                 loader.get('batch_size', 32),
                                                 loader.get('num_workers', 0))
    if classes is None:
        num_classes = getattr(
            getattr(model, 'cls_head', None), 'num_classes',
            None) or int(labels.max()) + 1
        classes = [str(c) for c in range(num_classes)]
    return CheckpointEmbedding(
        embeddings=tsne_embed_modalities(features, seed, perplexity),
        labels=labels,
        class_names=[str(c) for c in classes],
        indices=np.arange(size) if subset is None else subset,
        epoch=checkpoint_epoch(checkpoint),
        perplexity=tsne_perplexity(len(labels), perplexity))
