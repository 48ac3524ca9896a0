import copy
import json
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dist import (all_gather_object, broadcast, broadcast_object_list,
                           get_world_size, is_main_process)
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop
from mmengine.utils import ProgressBar
from torch.utils.data import Dataset, Subset

from mmdr.diagnosis import (KMEANS_BACKENDS, MIN_SAMPLES_PER_CLUSTER,
                            blend_toward_init, check_kmeans_backend,
                            clustering_purities, purity_gap, relearn_strength,
                            small_split_warning)
from mmdr.registry import DATASETS, HOOKS
from mmdr.utils.dataset_classes import (describe_classes, describe_dataset,
                                        num_dataset_classes)
from mmdr.utils.dist_utils import gather_in_sampler_order, tensors_fingerprint
from mmdr.utils.random_state import preserved_random_state

StateDict = Dict[str, torch.Tensor]

#: Version of the ``'dr_hook'`` entry of checkpoints.
STATE_VERSION = 2


@HOOKS.register_module()
class DRHook(Hook):
    """Diagnosing & Re-learning (Wei et al., ECCV 2024).

    Epochs are counted from 1, as in mmengine's log (``Epoch(train) [E]``)
    and checkpoint names (``epoch_E.pth``). After epoch ``E`` with
    ``E >= begin`` and ``(E - begin) % interval == 0``, at most ``max_times``
    times, every encoder is diagnosed and softly re-initialised:

    1. Pooled uni-modal features are extracted in eval mode, without
       augmentation, on training samples and on the held-out validation
       split (the model's :meth:`extract_modality_features`).
    2. Per modality and per side, features are min-max scaled to [-1, 1]
       and clustered by k-means with k = number of classes and a fixed seed;
       the clustering purity is computed (:mod:`mmdr.diagnosis`).
    3. The gap ``g = |P_train - P_val|`` gives the strength
       ``a = tanh(lam * g)``, and every parameter of the encoder is blended
       ``theta <- (1 - a) * theta + a * theta_init``, where ``theta_init`` is
       the encoder as training started (after pretrained weights were
       loaded). Fusion and head are not touched.

    Order, as in the reference code: epoch ``E`` is trained, checkpointed
    (``epoch_E.pth``) and validated as it was trained, so it competes for the
    best checkpoint unchanged; the diagnosis and re-learning run when epoch
    ``E + 1`` starts (``before_train_epoch``), so the re-learned encoders are
    what epoch ``E + 1`` trains. A run resumed from ``epoch_E.pth`` (or from
    a best checkpoint of epoch ``E``) therefore applies that re-learning
    itself, and each re-learning happens exactly once wherever a run was
    interrupted. Validation does not change the schedule: with
    ``val_interval > 1`` or without validation (``--no-validate``) the
    re-learning still follows the diagnosed epoch. A diagnosis due after the
    last epoch is not run (no epoch would train the re-learned encoders).

    With the defaults (``interval=20, max_times=3, lam=3``) this is the
    schedule of the authors' CREMA-D code: re-learning after epochs 21, 41
    and 61 (their 0-based 20, 40 and 60).

    Decisions where the paper and the reference code are silent:

    - Training samples are read with the validation pipeline (no
      augmentation) unless ``train_dataset`` is given; ``max_train_samples``
      caps them with a seeded random subset (the same one every time).
    - Distributed: first the diagnosed encoders' buffers (BatchNorm running
      statistics) are broadcast from the main process, so every rank
      extracts with the weights and buffers that the main process holds and
      saves; training is not affected, as BatchNorm normalises with batch
      statistics in training mode, and the buffers then keep averaging on
      every rank as before. Every rank extracts the features of its share of
      the samples, the main process gathers them in data set order,
      diagnoses and broadcasts the strengths: the result equals that of one
      process diagnosing the same weights and samples. ``theta_init`` is
      broadcast from the main process when training starts, and after
      re-learning a fingerprint of every rank's encoder weights (computed on
      their device) is compared: a mismatch is an error.
    - The diagnosis draws no random number from the training stream: its
      data loaders are seeded from ``seed`` and the epoch, and the
      generators are restored afterwards.
    - Non-finite features stop training with an error before any weight is
      changed.
    - Resume: ``theta_init``, the diagnoses done and their history are saved
      in every checkpoint under ``'dr_hook'``; a resumed run takes
      ``theta_init`` from there (not from the resumed weights) and never
      diagnoses an epoch twice. ``load_from`` without resume starts a fresh
      D&R history whose ``theta_init`` is the loaded weights.

    Every diagnosis is logged, written to TensorBoard (``dr/<modality>/...``
    at step ``E``) and to ``<work_dir>/<history_file>`` (JSON, ``epoch``
    ``E``).

    Monitoring (the curves of the paper's Figure 4, drawn by
    ``tools/analysis/plot_curves.py``): with ``monitor_interval=M`` the
    purities and gaps are also diagnosed after every epoch ``E`` with
    ``E % M == 0``, the last epoch included, without re-learning. Such a
    record has ``relearned: false`` and no ``index``; its ``strength`` is
    the one re-learning would have applied. A record without ``relearned``
    is a re-learning (the only kind without monitoring, so histories of
    default runs are unchanged). A diagnosis due for re-learning is not
    repeated as a monitor record. Monitoring does not change training: the
    re-learning schedule, strengths, weights and random streams are those
    of the same run without it (in distributed runs the buffers that the
    diagnosis synchronises are restored on every rank afterwards). Joint
    training is monitored by ``max_times=0`` (no re-learning) with a
    ``monitor_interval``. The diagnosis after the last epoch runs in
    ``after_train``, so it is in the history file but in no checkpoint.

    Args:
        interval (int): Epochs between diagnoses (H). Defaults to 20.
        begin (int, optional): First epoch (1-based) after which to
            diagnose. Defaults to ``interval + 1``, as the reference code.
        max_times (int): Most diagnoses in a run (N). Defaults to 3.
        lam (float): lambda in ``a = tanh(lambda * g)``. Defaults to 3.
        modalities (Sequence[str], optional): Modalities to diagnose and
            re-learn. Defaults to all of the model's.
        max_train_samples (int or str, optional): Cap on the training
            samples diagnosed: a number, or ``'val'`` for the size of the
            validation split. Defaults to None (all, as the reference code).
        num_clusters (int, optional): k of k-means. Defaults to the
            number of classes of the validation data set
            (``metainfo['classes']``), or where it names none to the head's
            ``num_classes``.
        kmeans_n_init (int): k-means restarts. Defaults to 10.
        kmeans_backend (str): k-means implementation: ``'sklearn'`` (the
            reference) or ``'faiss'`` (faiss-cpu; speed and agreement in
            ``tools/analysis/benchmark_kmeans.py``, see
            :mod:`mmdr.diagnosis.kmeans`). Defaults to ``'sklearn'``.
        kmeans_side_by_side (bool): Run the clusterings of a diagnosis (two
            per modality) at once, torch's threads shared among them
            (:func:`mmdr.diagnosis.clustering_purities`); False runs them
            one after the other. Defaults to True.
        seed (int): Seed of k-means, of the training subset and of the
            diagnosis data loaders. Defaults to 0.
        blend_buffers (bool): Also blend floating-point buffers (BatchNorm
            running statistics). Defaults to False, as the reference code.
        reset_optimizer_state (bool): Drop the optimizer state (e.g.
            momentum) of a re-learned encoder's parameters. Defaults to
            False, as the reference code.
        init_state_device (str): Where ``theta_init`` is kept: ``'cpu'``
            (no accelerator memory) or ``'model'`` (the encoder's device,
            which makes the blend several times faster on a GPU). Defaults
            to ``'cpu'``.
        train_dataset (dict, optional): Data set config of the diagnosed
            training samples. Defaults to ``train_dataloader.dataset`` with
            ``val_dataloader.dataset.pipeline``.
        val_dataset (dict, optional): Data set config of the validation
            samples. Defaults to ``val_dataloader.dataset``.
        batch_size (int, optional): Batch size of feature extraction.
            Defaults to ``val_dataloader.batch_size``.
        num_workers (int, optional): Workers of feature extraction.
            Defaults to ``val_dataloader.num_workers``.
        history_file (str): JSON history, relative to the work dir.
            Defaults to ``'dr_history.json'``.
        progress (bool): Show a progress bar on the main process while
            features are extracted. Defaults to True.
        monitor_interval (int, optional): Also diagnose, without
            re-learning, after every epoch divisible by it (1: every epoch).
            Defaults to None (diagnose only to re-learn).
    """

    priority = 'NORMAL'

    def __init__(self,
                 interval: int = 20,
                 begin: Optional[int] = None,
                 max_times: int = 3,
                 lam: float = 3.0,
                 modalities: Optional[Sequence[str]] = None,
                 max_train_samples: Optional[Union[int, str]] = None,
                 num_clusters: Optional[int] = None,
                 kmeans_n_init: int = 10,
                 kmeans_backend: str = 'sklearn',
                 kmeans_side_by_side: bool = True,
                 seed: int = 0,
                 blend_buffers: bool = False,
                 reset_optimizer_state: bool = False,
                 init_state_device: str = 'cpu',
                 train_dataset: Optional[dict] = None,
                 val_dataset: Optional[dict] = None,
                 batch_size: Optional[int] = None,
                 num_workers: Optional[int] = None,
                 history_file: str = 'dr_history.json',
                 progress: bool = True,
                 monitor_interval: Optional[int] = None) -> None:
        begin = interval + 1 if begin is None and isinstance(interval,
                                                             int) else begin
        checks = {
            'interval':
            isinstance(interval, int) and interval >= 1,
            'begin':
            isinstance(begin, int) and begin >= 1,
            'max_times':
            isinstance(max_times, int) and max_times >= 0,
            'lam':
            isinstance(lam, (int, float)) and lam >= 0,
            'kmeans_n_init':
            isinstance(kmeans_n_init, int) and kmeans_n_init >= 1,
            'kmeans_backend':
            isinstance(kmeans_backend, str)
            and kmeans_backend in KMEANS_BACKENDS,
            'max_train_samples':
            max_train_samples is None or max_train_samples == 'val'
            or (isinstance(max_train_samples, int) and max_train_samples > 0),
            'init_state_device':
            init_state_device in ('cpu', 'model'),
            'kmeans_side_by_side':
            isinstance(kmeans_side_by_side, bool),
            'monitor_interval':
            monitor_interval is None
            or (isinstance(monitor_interval, int)
                and not isinstance(monitor_interval, bool)
                and monitor_interval >= 1),
        }
        values = dict(
            interval=interval,
            begin=begin,
            max_times=max_times,
            lam=lam,
            kmeans_n_init=kmeans_n_init,
            kmeans_backend=kmeans_backend,
            max_train_samples=max_train_samples,
            init_state_device=init_state_device,
            kmeans_side_by_side=kmeans_side_by_side,
            monitor_interval=monitor_interval)
        for name, ok in checks.items():
            if not ok:
                raise ValueError(
                    f'DRHook: {name}={values[name]!r} is invalid (interval '
                    'and begin >= 1, max_times >= 0, lam >= 0, '
                    "max_train_samples None, 'val' or > 0, "
                    "init_state_device 'cpu' or 'model', kmeans_backend "
                    f'one of {list(KMEANS_BACKENDS)}, kmeans_side_by_side a '
                    'bool, monitor_interval None or an int >= 1)')
        # A missing library fails here, before training, not at the first
        # diagnosis epochs later.
        check_kmeans_backend(kmeans_backend)
        self.interval = interval
        self.begin = begin
        self.max_times = max_times
        self.lam = float(lam)
        self.modalities = None if modalities is None else tuple(modalities)
        self.max_train_samples = max_train_samples
        # k as configured; num_clusters is the k of the run (before_train).
        self.num_clusters_cfg = num_clusters
        self.num_clusters = num_clusters
        self._k_text = ''
        self.kmeans_n_init = kmeans_n_init
        self.kmeans_backend = kmeans_backend
        self.kmeans_side_by_side = kmeans_side_by_side
        self.seed = seed
        self.blend_buffers = blend_buffers
        self.reset_optimizer_state = reset_optimizer_state
        self.init_state_device = init_state_device
        self.train_dataset_cfg = train_dataset
        self.val_dataset_cfg = val_dataset
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.history_file = history_file
        self.progress = progress
        self.monitor_interval = monitor_interval

        self.history: List[dict] = []
        self.init_state: Optional[Dict[str, StateDict]] = None
        self._loaded: Optional[dict] = None
        self._loaders: Dict[str, torch.utils.data.DataLoader] = {}

    # ------------------------------------------------------------------
    # schedule and state
    # ------------------------------------------------------------------
    def is_due(self, epoch: int) -> bool:
        """Whether a diagnosis is due after ``epoch``.

        Args:
            epoch (int): The epoch just trained, counted from 1.

        Returns:
            bool: True if D&R runs after this epoch (unless already done).
        """
        return (len(self.relearned()) < self.max_times and epoch >= self.begin
                and (epoch - self.begin) % self.interval == 0
                and all(r['epoch'] != epoch for r in self.history))

    def is_monitored(self, epoch: int) -> bool:
        """Whether a monitor diagnosis (no re-learning) is due after
        ``epoch``, unless :meth:`is_due` re-learns then.

        Args:
            epoch (int): The epoch just trained, counted from 1.

        Returns:
            bool: True if monitoring is on, ``epoch`` is a multiple of
            ``monitor_interval`` and was not diagnosed yet.
        """
        return (self.monitor_interval is not None and epoch >= 1
                and epoch % self.monitor_interval == 0
                and all(r['epoch'] != epoch for r in self.history))

    def relearned(self) -> List[dict]:
        """The records of the re-learnings done so far.

        Returns:
            list[dict]: History records without ``relearned: False``.
        """
        return [r for r in self.history if r.get('relearned', True)]

    def planned_epochs(self, max_epochs: int) -> List[int]:
        """The epochs after which diagnoses will run, from the start.

        Args:
            max_epochs (int): Epochs of the run.

        Returns:
            list[int]: 1-based epochs, at most ``max_times``; an epoch after
            which no epoch trains is left out.
        """
        epochs = list(range(self.begin, max_epochs, self.interval))
        return epochs[:self.max_times]

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(
            runner.model) else runner.model

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Save theta_init and the history with every checkpoint.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint being saved.
        """
        if self.init_state is None:
            return
        checkpoint['dr_hook'] = dict(
            version=STATE_VERSION,
            init_state={
                m: {
                    k: v.cpu()
                    for k, v in sd.items()
                }
                for m, sd in self.init_state.items()
            },
            history=copy.deepcopy(self.history))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the loaded D&R state until it is known whether we resume.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The loaded checkpoint.
        """
        self._loaded = dict(
            state=checkpoint.get('dr_hook'),
            epoch=checkpoint.get('meta', {}).get('epoch'))

    def before_train(self, runner) -> None:
        """Check the set-up, build the diagnosis data and take theta_init.

        Args:
            runner (Runner): The runner.
        """
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            raise TypeError(
                'DRHook diagnoses and re-learns between epochs; '
                f'train_cfg builds a {type(runner.train_loop).__name__}. '
                "Use train_cfg=dict(type='EpochBasedTrainLoop', ...).")
        model = self._model(runner)
        self._check_model(model)
        self._build_dataloaders(runner)

        loaded, self._loaded = self._loaded or {}, None
        resumed = runner.epoch > 0 and loaded.get('epoch') == runner.epoch
        device = None
        if self.init_state_device == 'model':
            device = next(model.parameters()).device
        if resumed and loaded.get('state') is not None:
            state = loaded['state']
            self.init_state = {
                m: {
                    k: v.to(device or 'cpu')
                    for k, v in sd.items()
                }
                for m, sd in state['init_state'].items()
            }
            self.history = list(state['history'])
            runner.logger.info(
                f'DRHook: resumed theta_init and {len(self.history)} '
                'earlier diagnoses from the checkpoint.')
        else:
            if resumed:
                runner.logger.warning(
                    'DRHook: the resumed checkpoint holds no D&R state; '
                    'theta_init is taken from the resumed weights.')
            self.init_state = {
                m: {
                    k: v.detach().clone().to(device or 'cpu')
                    for k, v in model.encoders[m].state_dict().items()
                }
                for m in self.modalities
            }
            self.history = []
        # Every rank must blend toward the very same theta_init.
        for state in self.init_state.values():
            for tensor in state.values():
                broadcast(tensor, 0)
        planned = self.planned_epochs(runner.max_epochs)
        done = [r['epoch'] for r in self.relearned()]
        monitor = ''
        if self.monitor_interval is not None:
            monitor = (f'; monitoring (no re-learning) after every '
                       f'{self.monitor_interval} epoch(s)')
        runner.logger.info(
            f'DRHook: diagnoses after epochs {planned} of '
            f'{runner.max_epochs} (counted from 1; done: {done}){monitor}, '
            f'modalities {list(self.modalities)}, k={self.num_clusters} '
            f'({self._k_text}), '
            f'k-means n_init={self.kmeans_n_init} '
            f'backend={self.kmeans_backend}, seed={self.seed}.')

    def _check_model(self, model) -> None:
        if not callable(getattr(model, 'extract_modality_features', None)) \
                or not hasattr(model, 'encoders'):
            raise TypeError(
                f'DRHook needs a model with per-modality encoders and '
                f'extract_modality_features() (e.g. MultiModalRecognizer); '
                f'{type(model).__name__} has not.')
        if self.modalities is None:
            self.modalities = tuple(model.encoders)
        unknown = [m for m in self.modalities if m not in model.encoders]
        if unknown:
            raise KeyError(f'DRHook: modalities {unknown} are not encoders '
                           f'of the model, which has {list(model.encoders)}')

    # ------------------------------------------------------------------
    # data
    # ------------------------------------------------------------------
    def _dataset_cfgs(self, runner) -> tuple:
        cfg = runner.cfg
        val_loader_cfg = cfg.get('val_dataloader') or {}
        val_cfg = self.val_dataset_cfg or val_loader_cfg.get('dataset')
        if val_cfg is None:
            raise ValueError(
                'DRHook diagnoses on the validation split: the config has '
                'no val_dataloader, so set DRHook(val_dataset=...) '
                '(tools/train.py --no-validate does that for you).')
        train_cfg = self.train_dataset_cfg
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

    def _build_dataloaders(self, runner) -> None:
        from mmengine.runner import Runner
        train_cfg, val_cfg, val_loader_cfg = self._dataset_cfgs(runner)
        val_set = DATASETS.build(copy.deepcopy(val_cfg))
        train_set = DATASETS.build(copy.deepcopy(train_cfg))
        self._choose_num_clusters(self._model(runner), val_set)
        if len(val_set) < self.num_clusters:
            raise ValueError(
                f'DRHook: the validation split has {len(val_set)} samples, '
                f'fewer than the {self._k_text} (k-means clusters); '
                'diagnosis needs at least one sample per cluster. '
                f'{self._larger_val_remedy()}')
        cap = self.max_train_samples
        if cap == 'val':
            cap = len(val_set)
        if cap is not None and cap < len(train_set):
            rng = np.random.default_rng(self.seed)
            indices = np.sort(rng.choice(len(train_set), cap, replace=False))
            train_set = self._subset(train_set, indices.tolist())
        if len(train_set) < self.num_clusters:
            raise ValueError(
                f'DRHook: {len(train_set)} training samples are fewer than '
                f'the {self._k_text}. {self._larger_train_remedy()}')
        for side, dataset, remedy in (('validation', val_set,
                                       self._larger_val_remedy()),
                                      ('training', train_set,
                                       self._larger_train_remedy())):
            warning = small_split_warning(side, len(dataset),
                                          self.num_clusters, self.lam, remedy)
            if warning is not None:
                runner.logger.warning(warning)
        batch_size = self.batch_size or val_loader_cfg.get('batch_size', 32)
        num_workers = self.num_workers
        if num_workers is None:
            num_workers = val_loader_cfg.get('num_workers', 0)
        self._loaders = {}
        for side, dataset in (('train', train_set), ('val', val_set)):
            self._loaders[side] = Runner.build_dataloader(
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

    def _val_where(self) -> str:
        """Where the validation data set is in the config."""
        return ('custom_hooks DRHook(val_dataset=...)'
                if self.val_dataset_cfg else 'val_dataloader.dataset')

    def _choose_num_clusters(self, model, val_set: Dataset) -> None:
        """Set k: ``num_clusters`` if configured, else the validation data
        set's classes, else the head's ``num_classes``; and its origin, in
        words, for the log and messages."""
        head_classes = getattr(
            getattr(model, 'cls_head', None), 'num_classes', None)
        data_classes = num_dataset_classes(val_set)
        if self.num_clusters_cfg is not None:
            k = self.num_clusters_cfg
            self._k_text = f'k = {k} clusters of DRHook(num_clusters={k})'
        elif data_classes is not None:
            k = data_classes
            self._k_text = describe_classes(val_set, self._val_where())
        elif head_classes is not None:
            k = head_classes
            self._k_text = f'{k} classes of model.cls_head (num_classes)'
        else:
            raise ValueError(
                'DRHook: set num_clusters (k of k-means); neither '
                f'{describe_dataset(val_set, self._val_where())} names '
                "classes in its metainfo['classes'] nor has the model head "
                'a num_classes')
        self.num_clusters = k

    def _larger_val_remedy(self) -> str:
        """How to diagnose on a larger validation split, in words."""
        hint = (f'{self._val_where()} with an annotation file that lists '
                "more samples (e.g. the preparation tool's option for the "
                'size of the validation carve)')
        return (f'Diagnose on a larger validation split (at least '
                f'{MIN_SAMPLES_PER_CLUSTER * self.num_clusters} samples): '
                f'{hint}. DRHook(max_train_samples=...) caps the training '
                'side only and does not help.')

    def _larger_train_remedy(self) -> str:
        """How to diagnose more training samples, in words."""
        enough = MIN_SAMPLES_PER_CLUSTER * self.num_clusters
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

    @staticmethod
    def _subset(dataset: Dataset, indices: List[int]) -> Dataset:
        if hasattr(dataset, 'get_subset'):
            return dataset.get_subset(indices)
        return Subset(dataset, indices)

    def _extract(self, model, side: str, epoch: int) -> tuple:
        """Features and labels of one side, in data set order.

        Args:
            model (nn.Module): The unwrapped model.
            side (str): ``'train'`` or ``'val'``.
            epoch (int): The diagnosed epoch, which seeds the loader.

        Returns:
            tuple: ``{modality: (N, D) array}`` and the (N, ) labels on the
            main process; ``(None, None)`` on the others.
        """
        loader = self._loaders[side]
        loader.generator.manual_seed(self.seed * 100003 + epoch)
        bar = ProgressBar(len(loader)) if (self.progress
                                           and is_main_process()) else None
        feats: Dict[str, list] = {m: [] for m in self.modalities}
        labels = []
        for batch in loader:
            batch_feats = model.extract_modality_features(
                batch, self.modalities)
            for m, f in batch_feats.items():
                feats[m].append(f.float())
            labels += [int(s.gt_labels.item) for s in batch['data_samples']]
            if bar is not None:
                bar.update()
        if bar is not None:
            print()
        size = len(loader.dataset)
        device = next(model.parameters()).device
        gathered = {
            m: gather_in_sampler_order(torch.cat(f), size)
            for m, f in feats.items()
        }
        gathered_labels = gather_in_sampler_order(
            torch.tensor(labels, device=device), size)
        if gathered_labels is None:
            return None, None
        return ({
            m: f.cpu().numpy()
            for m, f in gathered.items()
        }, gathered_labels.cpu().numpy())

    # ------------------------------------------------------------------
    # diagnosing and re-learning
    # ------------------------------------------------------------------
    def before_train_epoch(self, runner) -> None:
        """Diagnose and re-learn if due after the epoch just finished.

        Args:
            runner (Runner): The runner; ``runner.epoch`` is the number of
                epochs trained so far.
        """
        if runner.epoch > 0 and self.is_due(runner.epoch):
            self.diagnose_and_relearn(runner)
        elif runner.epoch > 0 and self.is_monitored(runner.epoch):
            self.diagnose_and_relearn(runner, relearn=False)

    def after_train(self, runner) -> None:
        """Monitor the last epoch trained, which no epoch follows.

        Args:
            runner (Runner): The runner.
        """
        if runner.epoch > 0 and self.is_monitored(runner.epoch):
            self.diagnose_and_relearn(runner, relearn=False)

    def diagnose(self, features: dict, labels: dict) -> Dict[str, dict]:
        """Purities, gap and strength of every modality (pure computation).

        Args:
            features (dict): ``{'train': {m: array}, 'val': {m: array}}``.
            labels (dict): ``{'train': array, 'val': array}``.

        Returns:
            dict: Per modality ``train_purity``, ``val_purity``, ``gap`` and
            ``strength``.
        """
        matrices = {}
        for m in self.modalities:
            for side in ('train', 'val'):
                feats = features[side][m]
                if not np.isfinite(feats).all():
                    raise FloatingPointError(
                        f'DRHook: {int((~np.isfinite(feats)).sum())} '
                        f'non-finite values in the {side} features of '
                        f'modality {m!r}; no weight was changed.')
                matrices[(m, side)] = (feats, labels[side])
        purities = clustering_purities(
            matrices,
            num_clusters=self.num_clusters,
            seed=self.seed,
            n_init=self.kmeans_n_init,
            backend=self.kmeans_backend,
            side_by_side=self.kmeans_side_by_side)
        result = {}
        for m in self.modalities:
            gap = purity_gap(purities[(m, 'train')], purities[(m, 'val')])
            result[m] = dict(
                train_purity=purities[(m, 'train')],
                val_purity=purities[(m, 'val')],
                gap=gap,
                strength=relearn_strength(gap, self.lam))
        return result

    def diagnose_and_relearn(self, runner, relearn: bool = True) -> dict:
        """Diagnose the model as trained so far and re-learn, on every rank.

        Args:
            runner (Runner): The runner; ``runner.epoch`` epochs are done.
            relearn (bool): Blend the encoders toward theta_init; False
                only diagnoses (monitoring) and leaves every rank's model
                as it was. Defaults to True.

        Returns:
            dict: The history record of this step.
        """
        model = self._model(runner)
        epoch = runner.epoch
        with preserved_random_state():
            start = time.perf_counter()
            kept = None if relearn else self._copy_buffers(model)
            self._sync_buffers(model)
            features, labels = {}, {}
            for side in ('train', 'val'):
                features[side], labels[side] = self._extract(
                    model, side, epoch)
            extracted = time.perf_counter()
            payload = self._diagnose_on_main(features, labels)
            diagnosed = time.perf_counter()
            if relearn:
                for m, stats in payload.items():
                    self._relearn(runner, model.encoders[m],
                                  self.init_state[m], stats['strength'])
                self._check_identical_weights(model)
            else:
                self._restore_buffers(model, kept)
            end = time.perf_counter()

        # Re-learning records are those of a run without monitoring; a
        # monitor record says it is one and has no re-learning index.
        head = dict(index=len(self.relearned()) + 1) if relearn else {}
        tail = {} if relearn else dict(relearned=False)
        record = dict(
            **head,
            epoch=epoch,
            time_s=end - start,
            extract_s=extracted - start,
            cluster_s=diagnosed - extracted,
            relearn_s=end - diagnosed,
            num_train_samples=len(self._loaders['train'].dataset),
            num_val_samples=len(self._loaders['val'].dataset),
            world_size=get_world_size(),
            modalities=payload,
            **tail)
        self.history.append(record)
        self._report(runner, record)
        return record

    def _copy_buffers(self, model) -> Optional[List[torch.Tensor]]:
        """This rank's diagnosed encoder buffers, where a sync changes them.

        Returns:
            list[Tensor], optional: Copies in ``buffers()`` order; None in a
            single process, where nothing is synchronised.
        """
        if get_world_size() == 1:
            return None
        return [
            b.detach().clone() for m in self.modalities
            for b in model.encoders[m].buffers()
        ]

    def _restore_buffers(self, model,
                         kept: Optional[List[torch.Tensor]]) -> None:
        """Undo :meth:`_sync_buffers` after a monitor diagnosis."""
        if kept is None:
            return
        buffers = [
            b for m in self.modalities for b in model.encoders[m].buffers()
        ]
        with torch.no_grad():
            for buffer, value in zip(buffers, kept):
                buffer.copy_(value)

    def _sync_buffers(self, model) -> None:
        """Give every rank the main process's encoder buffers."""
        if get_world_size() == 1:
            return
        for m in self.modalities:
            for buffer in model.encoders[m].buffers():
                broadcast(buffer, 0)

    def _diagnose_on_main(self, features: dict, labels: dict) -> dict:
        """Diagnose on the main process and share the result (or error).

        No rank waits forever or blends differently: an error on the main
        process is raised on every rank.
        """
        message = [None]
        error = None
        if is_main_process():
            try:
                message = [('ok', self.diagnose(features, labels))]
            except Exception as err:  # noqa: B902 - re-raised on all ranks
                error = err
                message = [('error', f'{type(err).__name__}: {err}')]
        broadcast_object_list(message, 0)
        status, payload = message[0]
        if status == 'error':
            if error is not None:
                raise RuntimeError(payload) from error
            raise RuntimeError(f'{payload} (raised on the main process)')
        return payload

    def _relearn(self, runner, encoder: torch.nn.Module, init: StateDict,
                 strength: float) -> None:
        current = dict(encoder.named_parameters())
        if self.blend_buffers:
            current.update(encoder.named_buffers())
        blend_toward_init(current, {k: init[k] for k in current}, strength)
        if self.reset_optimizer_state and strength > 0:
            wrappers = getattr(runner.optim_wrapper, 'values', None)
            wrappers = wrappers() if wrappers else [runner.optim_wrapper]
            for wrapper in wrappers:
                for param in encoder.parameters():
                    wrapper.optimizer.state.pop(param, None)

    def _check_identical_weights(self, model) -> None:
        """Compare the ranks' re-learned encoders by a fingerprint."""
        if get_world_size() == 1:
            return
        fingerprints = {
            m: tensors_fingerprint(model.encoders[m].state_dict().values())
            for m in self.modalities
        }
        gathered = all_gather_object(fingerprints)
        differ = [
            m for m in self.modalities
            if any(g[m] != fingerprints[m] for g in gathered)
        ]
        if differ:
            raise RuntimeError(
                'DRHook: the encoders of modalities '
                f'{differ} differ between ranks after re-learning')

    def _report(self, runner, record: dict) -> None:
        samples = (f'{record["num_train_samples"]} train / '
                   f'{record["num_val_samples"]} val samples, '
                   f'{record["time_s"]:.2f} s')
        if record.get('relearned', True):
            lines = [
                f'D&R diagnosis {record["index"]}/{self.max_times} after '
                f'epoch {record["epoch"]} ({samples}); re-learned encoders '
                f'train in epoch {record["epoch"] + 1}:'
            ]
        else:
            lines = [
                f'D&R monitoring after epoch {record["epoch"]} ({samples}); '
                'not re-learned, strengths not applied:'
            ]
        scalars = {}
        for m, stats in record['modalities'].items():
            lines.append(
                f'  {m}: train purity {stats["train_purity"]:.4f}, val '
                f'purity {stats["val_purity"]:.4f}, gap {stats["gap"]:.4f}, '
                f'strength {stats["strength"]:.4f}')
            for key, value in stats.items():
                scalars[f'dr/{m}/{key}'] = value
        scalars['dr/time_s'] = record['time_s']
        runner.logger.info('\n'.join(lines))
        runner.visualizer.add_scalars(scalars, step=record['epoch'])
        if is_main_process():
            path = osp.join(runner.work_dir, self.history_file)
            with open(path, 'w') as f:
                json.dump(self.history, f, indent=2)
                f.write('\n')
