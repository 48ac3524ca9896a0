"""Modality contributions of a checkpoint by Shapley values: the model's
correctness on a split with every coalition of its modalities, a missing
modality replaced, at the data-set and at the sample level (as
BalanceBenchmark's ``balancemm/evaluation/modalitys.py``).

A missing modality is replaced in one of two ways (``replace``):

- ``'features'`` (the default): its pooled encoder features are zero before
  the fusion. On a linear head over concatenated features the modality's
  slice then adds nothing (the bias stays), whatever the data's scale and
  whatever the encoder (biases, BatchNorm) makes of an input it never saw;
  the encoders run once per batch.
- ``'inputs'``: its input is zero where the encoder reads it (after the data
  preprocessor), as BalanceBenchmark's models pad a missing modality
  (``torch.zeros_like`` of the batch).

The value of a coalition is the top-1 accuracy of the model's prediction
(:meth:`MultiModalRecognizer.class_scores`) on the split, or per sample its
correctness (1 or 0), as BalanceBenchmark does. Unlike BalanceBenchmark,
whose per-sample game gives the empty coalition 0 and whose data-set game
evaluates it, both games here evaluate the empty coalition (every modality
replaced): the mean of the per-sample values is then the data-set value.
"""
from typing import Dict, FrozenSet, Tuple

import numpy as np
import torch
from mmengine.config import Config

from .modality_features import load_model_checkpoint, ordered_loader
from .shapley import coalitions, shapley_values, summarize_sample_values

#: The ways a missing modality is replaced.
REPLACEMENTS = ('features', 'inputs')


class NotAClassifierError(ValueError):
    """A model whose head does not classify: no correctness to value."""


def check_replace(replace: str) -> None:
    """Raise unless ``replace`` names a way to replace a missing modality.

    Args:
        replace (str): One of :data:`REPLACEMENTS`.
    """
    if replace not in REPLACEMENTS:
        raise ValueError(f'replace={replace!r}: a missing modality is '
                         f'replaced by zero {" or ".join(REPLACEMENTS)}')


def check_classifier(model: torch.nn.Module) -> None:
    """Raise unless the model classifies (correctness needs classes).

    Args:
        model (nn.Module): A :class:`MultiModalRecognizer`.
    """
    if getattr(model.cls_head, 'num_classes', None) is None:
        raise NotAClassifierError(
            'Shapley contributions are computed on top-1 accuracy; '
            f'{type(model.cls_head).__name__} is not a classification head '
            '(no num_classes)')


def predicted_labels(model: torch.nn.Module, scores: torch.Tensor,
                     num_samples: int) -> torch.Tensor:
    """The labels the model predicts from its class scores, as its head's
    ``predict_by_feat``: the scores of a sample's clips averaged first.

    Args:
        model (nn.Module): A :class:`MultiModalRecognizer`.
        scores (torch.Tensor): ``(N * clips, num_classes)`` class scores.
        num_samples (int): ``N``.

    Returns:
        torch.Tensor: ``(N, )`` labels, on the CPU.
    """
    average_clip = getattr(model.cls_head, 'average_clip', None)
    if average_clip is not None:
        scores = average_clip(scores, num_segs=scores.shape[0] // num_samples)
    return scores.argmax(dim=-1).cpu()


@torch.no_grad()
def coalition_correctness(
    model: torch.nn.Module,
    loader: torch.utils.data.DataLoader,
    replace: str = 'features'
) -> Tuple[Dict[FrozenSet[str], np.ndarray], np.ndarray]:
    """Per-sample correctness of the model under every coalition.

    Args:
        model (nn.Module): A :class:`MultiModalRecognizer` in eval mode.
        loader (DataLoader): The split, read in order.
        replace (str): How a missing modality is replaced: ``'features'``
            or ``'inputs'`` (see the module). Defaults to ``'features'``.

    Returns:
        tuple: Coalition to the ``(N, )`` float correctness (1 or 0) of
        every sample, and the ``(N, )`` labels.
    """
    check_replace(replace)
    players = list(model.modalities)
    correct = {c: [] for c in coalitions(players)}
    labels = []
    for batch in loader:
        data = model.data_preprocessor(batch, training=False)
        inputs = data['inputs']
        feats = model.extract_feat(inputs)
        if replace == 'features':
            missing = {m: torch.zeros_like(f) for m, f in feats.items()}
        else:
            missing = model.extract_feat(
                {m: torch.zeros_like(inputs[m])
                 for m in players})
        batch_labels = torch.stack([
            s.gt_labels.item for s in data['data_samples']
        ]).view(-1).long().cpu()
        labels.append(batch_labels)
        for coalition in correct:
            scores = model.class_scores({
                m:
                feats[m] if m in coalition else missing[m]
                for m in players
            })
            hits = predicted_labels(model, scores,
                                    len(batch_labels)) == batch_labels
            correct[coalition].append(hits.double())
    return ({
        c: torch.cat(v).numpy()
        for c, v in correct.items()
    }, torch.cat(labels).numpy())


def modality_shapley(cfg: Config,
                     checkpoint: str,
                     split: str = 'test',
                     replace: str = 'features') -> dict:
    """Data-set and sample-level Shapley contributions of every modality.

    Args:
        cfg (Config): The config the checkpoint was trained with.
        checkpoint (str): The checkpoint.
        split (str): ``'val'`` or ``'test'`` (read with its loader's
            dataset, batch size and workers). Defaults to ``'test'``.
        replace (str): How a missing modality is replaced (see the module).
            Defaults to ``'features'``.

    Returns:
        dict: ``split``, ``replace``, ``modalities``; ``coalitions`` (the
        accuracy of every coalition: a list of ``{'modalities': [...],
        'accuracy': ...}``); ``dataset`` (modality to its Shapley value of
        the accuracy); ``samples`` (modality to ``mean`` and
        ``most_share``, see :func:`summarize_sample_values`);
        ``tie_share``; ``sample_values`` (modality to the per-sample values,
        in data set order) and ``labels``.
    """
    if split not in ('val', 'test'):
        raise ValueError(f'split={split!r}: Shapley contributions are '
                         "computed on 'val' or 'test'")
    check_replace(replace)
    model = load_model_checkpoint(cfg, checkpoint)
    check_classifier(model)
    loader_cfg = cfg.get(f'{split}_dataloader')
    loader = ordered_loader(loader_cfg.dataset, loader_cfg.batch_size,
                            loader_cfg.get('num_workers', 0))
    correct, labels = coalition_correctness(model, loader, replace)
    players = list(model.modalities)
    accuracy = {c: float(v.mean()) for c, v in correct.items()}
    samples = shapley_values(players, correct)
    summary, tie_share = summarize_sample_values(samples)
    return dict(
        split=split,
        replace=replace,
        modalities=players,
        coalitions=[
            dict(
                modalities=[m for m in players if m in c],
                accuracy=accuracy[c]) for c in coalitions(players)
        ],
        dataset={
            m: float(v)
            for m, v in shapley_values(players, accuracy).items()
        },
        samples=summary,
        tie_share=tie_share,
        sample_values={
            m: v.tolist()
            for m, v in samples.items()
        },
        labels=labels.tolist())
