"""The data D&R diagnoses on: an augmentation-free training side, the
validation side, their loaders and k, the number of k-means clusters."""
import copy
from typing import Dict, List, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from mmdr.diagnosis import MIN_SAMPLES_PER_CLUSTER, small_split_warning
from mmdr.diagnosis.schedule import is_int
from mmdr.registry import DATASETS
from mmdr.utils.dataset_classes import (describe_classes, describe_dataset,
                                        num_dataset_classes)
from mmdr.utils.feature_pass import gather_modality_features
from mmdr.utils.random_state import seed_epoch_loader


class DiagnosisData(NamedTuple):
    """The loaders of a diagnosis and the k they are clustered into.

    Attributes:
        loaders (dict[str, DataLoader]): ``'train'`` and ``'val'``, in data
            set order, each with a generator of its own.
        num_clusters (int): k of k-means.
        k_text (str): Where k came from, in words.
    """
    loaders: Dict[str, DataLoader]
    num_clusters: int
    k_text: str

    def extract(self, model, modalities: Sequence[str], seed: int, epoch: int,
                progress: bool) -> tuple:
        """The features and labels of both sides (a collective call).

        Args:
            model (nn.Module): The unwrapped model.
            modalities (Sequence[str]): The diagnosed modalities.
            seed (int): The base seed of the loaders.
            epoch (int): The diagnosed epoch, which seeds the loaders.
            progress (bool): Show a progress bar on the main process.

        Returns:
            tuple: ``{side: {modality: array}}`` and ``{side: labels}``
            on the main process (None values on the others).
        """
        features, labels = {}, {}
        for side in ('train', 'val'):
            seed_epoch_loader(self.loaders[side], seed, epoch)
            features[side], labels[side] = gather_modality_features(
                model, self.loaders[side], modalities, progress)
        return features, labels


def _subset(dataset: Dataset, indices: List[int]) -> Dataset:
    """The samples at ``indices`` of a data set built for the diagnosis.

    An mmengine data set is cut in place (``get_subset_``), not copied with
    ``get_subset``: its deep copy goes through a memo that is a mutable
    default argument, shared by every call in the process, so an object
    that takes the address of a freed one can come back as that one's old
    copy (e.g. a pipeline copied as a data set).

    Args:
        dataset (Dataset): The diagnosis's own data set.
        indices (list[int]): The samples to keep, in order.

    Returns:
        Dataset: The subset.
    """
    if hasattr(dataset, 'get_subset_'):
        dataset.get_subset_(indices)
        return dataset
    return Subset(dataset, indices)


class DiagnosisDataBuilder:
    """Builds :class:`DiagnosisData` from a run's config and DRHook's
    arguments (documented there), with the messages of a bad set-up.

    Args:
        train_dataset (dict, optional): Training side's data set config.
        val_dataset (dict, optional): Validation side's data set config.
        num_clusters (int, optional): k as configured.
        max_train_samples (int or str, optional): Cap on the training side.
        seed (int): Seed of the training subset and the loaders.
        lam (float): D&R's lambda, for the small-split warnings.
        batch_size (int, optional): Batch size of the loaders.
        num_workers (int, optional): Workers of the loaders.
    """

    def __init__(self, train_dataset: Optional[dict],
                 val_dataset: Optional[dict], num_clusters: Optional[int],
                 max_train_samples: Optional[Union[int, str]], seed: int,
                 lam: float, batch_size: Optional[int],
                 num_workers: Optional[int]) -> None:
        # DRHook's arguments: its messages name them.
        if not (max_train_samples in (None, 'val')
                or is_int(max_train_samples, 1)):
            raise ValueError(
                f'DRHook: max_train_samples={max_train_samples!r} must be '
                "None, 'val' or an int >= 1")
        if not (num_clusters is None or is_int(num_clusters, 1)):
            raise ValueError(f'DRHook: num_clusters={num_clusters!r} must '
                             'be None or an int >= 1')
        if not is_int(seed, 0):
            raise ValueError(f'DRHook: seed={seed!r} must be an int >= 0')
        if not (batch_size is None or is_int(batch_size, 1)):
            raise ValueError(f'DRHook: batch_size={batch_size!r} must be '
                             'None or an int >= 1')
        if not (num_workers is None or is_int(num_workers, 0)):
            raise ValueError(f'DRHook: num_workers={num_workers!r} must be '
                             'None or an int >= 0')
        self.train_dataset = train_dataset
        self.val_dataset = val_dataset
        self.num_clusters = num_clusters
        self.max_train_samples = max_train_samples
        self.seed = seed
        self.lam = lam
        self.batch_size = batch_size
        self.num_workers = num_workers

    def build(self, runner, model) -> DiagnosisData:
        """Build the data sets, check their sizes and build the loaders.

        Args:
            runner (Runner): The runner (its config and logger).
            model (nn.Module): The unwrapped model (its head's classes).

        Returns:
            DiagnosisData: The loaders and k.
        """
        from mmengine.runner import Runner
        train_cfg, val_cfg, val_loader_cfg = self._dataset_cfgs(runner.cfg)
        val_set = DATASETS.build(copy.deepcopy(val_cfg))
        train_set = DATASETS.build(copy.deepcopy(train_cfg))
        k, k_text = self._choose_num_clusters(model, val_set)
        if len(val_set) < k:
            raise ValueError(
                f'DRHook: the validation split has {len(val_set)} samples, '
                f'fewer than the {k_text} (k-means clusters); diagnosis '
                'needs at least one sample per cluster. '
                f'{self._larger_val_remedy(k)}')
        cap = self.max_train_samples
        if cap == 'val':
            cap = len(val_set)
        if cap is not None and cap < len(train_set):
            rng = np.random.default_rng(self.seed)
            indices = np.sort(rng.choice(len(train_set), cap, replace=False))
            train_set = _subset(train_set, indices.tolist())
        if len(train_set) < k:
            raise ValueError(
                f'DRHook: {len(train_set)} training samples are fewer than '
                f'the {k_text}. {self._larger_train_remedy(k)}')
        for side, dataset, remedy in (('validation', val_set,
                                       self._larger_val_remedy(k)),
                                      ('training', train_set,
                                       self._larger_train_remedy(k))):
            warning = small_split_warning(side, len(dataset), k, self.lam,
                                          remedy)
            if warning is not None:
                runner.logger.warning(warning)
        batch_size = self.batch_size or val_loader_cfg.get('batch_size', 32)
        num_workers = self.num_workers
        if num_workers is None:
            num_workers = val_loader_cfg.get('num_workers', 0)
        loaders = {
            side:
            Runner.build_dataloader(
                seed=self.seed,
                dataloader=dict(
                    batch_size=batch_size,
                    num_workers=num_workers,
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    # Its own generator (seeded per diagnosis): the base
                    # seed a loader draws when it starts does not come out
                    # of the training stream.
                    generator=torch.Generator(),
                    dataset=dataset))
            for side, dataset in (('train', train_set), ('val', val_set))
        }
        return DiagnosisData(loaders, k, k_text)

    def _dataset_cfgs(self, cfg) -> tuple:
        val_loader_cfg = cfg.get('val_dataloader') or {}
        val_cfg = self.val_dataset or val_loader_cfg.get('dataset')
        if val_cfg is None:
            raise ValueError(
                'DRHook diagnoses on the validation split: the config has '
                'no val_dataloader, so set DRHook(val_dataset=...) '
                '(tools/train.py --no-validate does that for you).')
        train_cfg = self.train_dataset
        if train_cfg is None:
            train_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
            if 'pipeline' not in train_cfg or 'pipeline' not in val_cfg:
                raise ValueError(
                    'DRHook cannot derive an augmentation-free training '
                    'data set from train_dataloader.dataset (no pipeline '
                    'key, e.g. a wrapped data set); set '
                    'DRHook(train_dataset=...).')
            train_cfg['pipeline'] = copy.deepcopy(val_cfg['pipeline'])
            train_cfg['test_mode'] = True
        return train_cfg, val_cfg, val_loader_cfg

    def _val_where(self) -> str:
        """Where the validation data set is in the config."""
        return ('custom_hooks DRHook(val_dataset=...)'
                if self.val_dataset else 'val_dataloader.dataset')

    def _choose_num_clusters(self, model, val_set: Dataset) -> tuple:
        """k: ``num_clusters`` if configured, else the validation data set's
        classes, else the head's ``num_classes``; and its origin in words."""
        head_classes = getattr(
            getattr(model, 'cls_head', None), 'num_classes', None)
        data_classes = num_dataset_classes(val_set)
        if self.num_clusters is not None:
            k = self.num_clusters
            return k, f'k = {k} clusters of DRHook(num_clusters={k})'
        if data_classes is not None:
            return data_classes, describe_classes(val_set, self._val_where())
        if head_classes is not None:
            return (head_classes,
                    f'{head_classes} classes of model.cls_head (num_classes)')
        raise ValueError(
            'DRHook: set num_clusters (k of k-means); neither '
            f'{describe_dataset(val_set, self._val_where())} names classes '
            "in its metainfo['classes'] nor has the model head a "
            'num_classes')

    def _larger_val_remedy(self, k: int) -> str:
        """How to diagnose on a larger validation split, in words."""
        hint = (f'{self._val_where()} with an annotation file that lists '
                "more samples (e.g. the preparation tool's option for the "
                'size of the validation carve)')
        return (f'Diagnose on a larger validation split (at least '
                f'{MIN_SAMPLES_PER_CLUSTER * k} samples): {hint}. '
                'DRHook(max_train_samples=...) caps the training side only '
                'and does not help.')

    def _larger_train_remedy(self, k: int) -> str:
        """How to diagnose more training samples, in words."""
        enough = MIN_SAMPLES_PER_CLUSTER * k
        cap = self.max_train_samples
        if cap == 'val':
            return ("max_train_samples='val' diagnoses as many training "
                    'samples as validation samples: a larger validation '
                    'split raises both, or set max_train_samples to at least '
                    f'{enough} (None: every training sample).')
        if cap is not None:
            return (f'Raise max_train_samples={cap} to at least {enough} '
                    '(None: every training sample).')
        return f'Diagnose on a larger training split (at least {enough}).'
