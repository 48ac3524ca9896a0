"""One pass of a model's per-modality feature extraction over a data loader:
the pass of D&R's diagnosis, PMR's prototypes and the feature analyses."""
import itertools
import sys
from typing import Dict, Iterable, Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.utils import ProgressBar

from .dist_utils import gather_in_sampler_order

Features = Dict[str, torch.Tensor]


def modality_feature_batches(
        model: torch.nn.Module,
        loader: Iterable[dict],
        modalities: Optional[Sequence[str]] = None,
        max_batches: Optional[int] = None,
        progress: bool = False) -> Iterator[Tuple[Features, torch.Tensor]]:
    """The pooled features and labels of each batch of a loader.

    Args:
        model (nn.Module): A model with ``extract_modality_features(batch,
            modalities)`` (e.g. :class:`MultiModalRecognizer`), unwrapped.
        loader (Iterable[dict]): Batches as a dataloader yields them
            (``inputs`` and ``data_samples``).
        modalities (Sequence[str], optional): Which encoders. Defaults to
            all of the model's.
        max_batches (int, optional): Read only the first batches. Defaults
            to None (all).
        progress (bool): Show a progress bar on the main process. Defaults
            to False.

    Yields:
        tuple: ``{modality: (N, D) float tensor}`` and the (N, ) int64
        labels (``data_samples[i].gt_labels.item``), on the model's device.
    """
    device = next(model.parameters()).device
    bar = None
    if progress and is_main_process():
        total = len(loader)
        if max_batches is not None:
            total = min(total, max_batches)
        # sys.stdout as it is now (ProgressBar's default is the one of when
        # mmengine was imported), where print() writes too.
        bar = ProgressBar(total, file=sys.stdout)
    for batch in itertools.islice(loader, max_batches):
        feats = model.extract_modality_features(batch, modalities)
        labels = torch.tensor(
            [int(s.gt_labels.item) for s in batch['data_samples']],
            dtype=torch.long,
            device=device)
        yield {m: f.float() for m, f in feats.items()}, labels
        if bar is not None:
            bar.update()
    if bar is not None:
        print()


def gather_modality_features(
    model: torch.nn.Module,
    loader: torch.utils.data.DataLoader,
    modalities: Optional[Sequence[str]] = None,
    progress: bool = False
) -> Tuple[Optional[Dict[str, np.ndarray]], Optional[np.ndarray]]:
    """The features and labels of a whole data set, in data set order.

    Every rank reads its share of the loader (a ``DefaultSampler`` without
    shuffling) and the main process gathers the rows in data set order
    (:func:`mmdr.utils.gather_in_sampler_order`): the result equals that of
    one process reading every sample (a collective call).

    Args:
        model (nn.Module): See :func:`modality_feature_batches`.
        loader (DataLoader): The loader of the data set.
        modalities (Sequence[str], optional): Which encoders. Defaults to
            all of the model's.
        progress (bool): Show a progress bar on the main process. Defaults
            to False.

    Returns:
        tuple: ``{modality: (N, D) array}`` and the (N, ) labels on the main
        process; ``(None, None)`` on the others.
    """
    feats: Dict[str, list] = {}
    labels = []
    for batch_feats, batch_labels in modality_feature_batches(
            model, loader, modalities, progress=progress):
        for m, f in batch_feats.items():
            feats.setdefault(m, []).append(f)
        labels.append(batch_labels)
    size = len(loader.dataset)
    gathered = {
        m: gather_in_sampler_order(torch.cat(f), size)
        for m, f in feats.items()
    }
    gathered_labels = gather_in_sampler_order(torch.cat(labels), size)
    if gathered_labels is None:
        return None, None
    return ({
        m: f.cpu().numpy()
        for m, f in gathered.items()
    }, gathered_labels.cpu().numpy())
