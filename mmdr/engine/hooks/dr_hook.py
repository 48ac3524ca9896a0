import json
import os.path as osp
import time
from functools import partial
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.dist import broadcast, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop

from mmdr.diagnosis import (KMEANS_BACKENDS, blend_toward_init,
                            check_kmeans_backend, diagnose_modalities,
                            format_dr_record)
from mmdr.diagnosis.schedule import DRSchedule, is_int, relearned
from mmdr.registry import HOOKS
from mmdr.utils.atomic_write import write_text_atomic
from mmdr.utils.dist_utils import (check_same_on_ranks, main_process_buffers,
                                   main_process_result)
from mmdr.utils.random_state import preserved_random_state
from ..diagnosis_data import DiagnosisData, DiagnosisDataBuilder
from ..dr_checkpoint import (StateDict, checkpoint_entry, resume_entry,
                             take_init_state)


@HOOKS.register_module()
class DRHook(Hook):
    """Diagnosing & Re-learning (Wei et al., ECCV 2024).

    After epoch ``E`` (counted from 1) with ``E >= begin`` and
    ``(E - begin) % interval == 0``, at most ``max_times`` times, every
    encoder is diagnosed on the training and the validation split: the gap
    ``g = |P_train - P_val|`` of its k-means clustering purities gives the
    strength ``a = tanh(lam * g)``, and the encoder is blended
    ``theta <- (1 - a) * theta + a * theta_init`` toward its weights when
    training started. The re-learning runs when epoch ``E + 1`` starts, so
    epoch ``E`` is checkpointed and validated as it was trained. Every
    diagnosis is logged, written to the visualizer (``dr/<modality>/...``
    at step ``E``) and to ``<work_dir>/<history_file>``.

    The order of diagnosis and re-learning, the rules of distributed runs,
    resuming and monitoring are described in docs/user_guides/dr_hook.md.

    Args:
        interval (int): Epochs between diagnoses (H). Defaults to 20.
        begin (int, optional): First epoch (1-based) after which to
            diagnose. Defaults to ``interval + 1``, as the reference code.
        max_times (int): Most re-learnings in a run (N). Defaults to 3.
        lam (float): lambda in ``a = tanh(lambda * g)``. Defaults to 3.
        modalities (Sequence[str], optional): Modalities to diagnose and
            re-learn. Defaults to all of the model's.
        max_train_samples (int or str, optional): Cap on the training
            samples diagnosed (a seeded random subset, the same every time):
            a number, or ``'val'`` for the size of the validation split.
            Defaults to None (all, as the reference code).
        num_clusters (int, optional): k of k-means. Defaults to the number
            of classes of the validation data set (``metainfo['classes']``),
            or where it names none to the head's ``num_classes``.
        kmeans_n_init (int): k-means restarts. Defaults to 10.
        kmeans_backend (str): k-means implementation: ``'sklearn'`` (the
            reference) or ``'faiss'`` (faiss-cpu, see
            :mod:`mmdr.diagnosis.kmeans`). Defaults to ``'sklearn'``.
        kmeans_side_by_side (bool): Run the clusterings of a diagnosis at
            once, torch's threads shared among them
            (:func:`mmdr.diagnosis.clustering_purities`); False runs them
            one after the other. Defaults to True.
        seed (int): Seed of k-means, of the training subset and of the
            diagnosis data loaders. Defaults to 0.
        blend_buffers (bool): Also blend floating-point buffers (BatchNorm
            running statistics). Defaults to False, as the reference code.
        reset_optimizer_state (bool): Drop the optimizer state (e.g.
            momentum) of a re-learned encoder's parameters. Defaults to
            False, as the reference code.
        init_state_device (str): Where ``theta_init`` is kept: ``'cpu'`` or
            ``'model'`` (the encoder's device, a faster blend on a GPU).
            Defaults to ``'cpu'``.
        train_dataset (dict, optional): Data set config of the diagnosed
            training samples. Defaults to ``train_dataloader.dataset`` with
            ``val_dataloader.dataset.pipeline`` (no augmentation).
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

    # Before IterTimerHook (NORMAL) starts the epoch's clock, so that the
    # diagnosis is not timed as the epoch's first iteration, and before
    # BalancerHook (ABOVE_NORMAL), whose epoch step must see the re-learned
    # encoders.
    priority = 'HIGH'

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
        self.schedule = DRSchedule(interval, begin, max_times,
                                   monitor_interval)
        if not (isinstance(lam, (int, float)) and lam >= 0):
            raise ValueError(f'DRHook: lam={lam!r} must be a number >= 0')
        if not is_int(kmeans_n_init, 1):
            raise ValueError(f'DRHook: kmeans_n_init={kmeans_n_init!r} '
                             'must be an int >= 1')
        if kmeans_backend not in KMEANS_BACKENDS:
            raise ValueError(f'DRHook: kmeans_backend={kmeans_backend!r} '
                             f'must be one of {list(KMEANS_BACKENDS)}')
        if not isinstance(kmeans_side_by_side, bool):
            raise ValueError('DRHook: kmeans_side_by_side='
                             f'{kmeans_side_by_side!r} must be a bool')
        if init_state_device not in ('cpu', 'model'):
            raise ValueError(
                f'DRHook: init_state_device={init_state_device!r} must be '
                "'cpu' or 'model'")
        # A missing library fails here, before training, not at the first
        # diagnosis epochs later.
        check_kmeans_backend(kmeans_backend)
        self.lam = float(lam)
        self.data_builder = DiagnosisDataBuilder(train_dataset, val_dataset,
                                                 num_clusters,
                                                 max_train_samples, seed,
                                                 self.lam, batch_size,
                                                 num_workers)
        self.modalities = None if modalities is None else tuple(modalities)
        self.num_clusters = num_clusters  # the run's k from before_train on
        self.kmeans_n_init = kmeans_n_init
        self.kmeans_backend = kmeans_backend
        self.kmeans_side_by_side = kmeans_side_by_side
        self.seed = seed
        self.blend_buffers = blend_buffers
        self.reset_optimizer_state = reset_optimizer_state
        self.init_state_device = init_state_device
        self.history_file = history_file
        self.progress = progress
        self.history: List[dict] = []
        self.init_state: Optional[Dict[str, StateDict]] = None
        self._loaded: Optional[dict] = None
        self.data: Optional[DiagnosisData] = None

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(
            runner.model) else runner.model

    # ------------------------------------------------------------------
    # set-up, checkpoints and resume
    # ------------------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Save theta_init and the history with every checkpoint.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint being saved.
        """
        if self.init_state is not None:
            checkpoint['dr_hook'] = checkpoint_entry(self.init_state,
                                                     self.history)

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
        """Check the set-up, build the diagnosis data and take theta_init
        (from the checkpoint when the run resumes).

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
        self.data = self.data_builder.build(runner, model)
        self.num_clusters = self.data.num_clusters

        loaded, self._loaded = self._loaded or {}, None
        resumed = runner.epoch > 0 and loaded.get('epoch') == runner.epoch
        device = None
        if self.init_state_device == 'model':
            device = next(model.parameters()).device
        if resumed and loaded.get('state') is not None:
            self.init_state, self.history = resume_entry(
                loaded['state'], self.modalities, device)
            runner.logger.info(
                f'DRHook: resumed theta_init and {len(self.history)} '
                'earlier diagnoses from the checkpoint.')
        else:
            if resumed:
                runner.logger.warning(
                    'DRHook: the resumed checkpoint holds no D&R state; '
                    'theta_init is taken from the resumed weights.')
            self.init_state = take_init_state(
                {m: model.encoders[m]
                 for m in self.modalities}, device)
            self.history = []
        # Every rank must blend toward the very same theta_init.
        for init in self.init_state.values():
            for tensor in init.values():
                broadcast(tensor, 0)
        # The history file tells what the run holds: after a resume, not
        # the diagnoses of epochs that it has not trained again yet.
        if self.history or osp.exists(self._history_path(runner)):
            self._write_history(runner)
        monitor = ''
        if self.schedule.monitor_interval is not None:
            monitor = (f'; monitoring (no re-learning) after every '
                       f'{self.schedule.monitor_interval} epoch(s)')
        runner.logger.info(
            f'DRHook: diagnoses after epochs '
            f'{self.schedule.planned_epochs(runner.max_epochs)} of '
            f'{runner.max_epochs} (counted from 1; done: '
            f'{[r["epoch"] for r in relearned(self.history)]}){monitor}, '
            f'modalities {list(self.modalities)}, k={self.num_clusters} '
            f'({self.data.k_text}), k-means n_init={self.kmeans_n_init} '
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
    # diagnosing and re-learning
    # ------------------------------------------------------------------
    def before_train_epoch(self, runner) -> None:
        """Diagnose and re-learn if due after the epoch just finished.

        Args:
            runner (Runner): The runner; ``runner.epoch`` is the number of
                epochs trained so far.
        """
        epoch = runner.epoch
        if epoch > 0 and self.schedule.is_due(epoch, self.history):
            self.diagnose_and_relearn(runner)
        elif epoch > 0 and self.schedule.is_monitored(epoch, self.history):
            self.diagnose_and_relearn(runner, relearn=False)

    def after_train(self, runner) -> None:
        """Monitor the last epoch trained, which no epoch follows.

        Args:
            runner (Runner): The runner.
        """
        if runner.epoch > 0 and self.schedule.is_monitored(
                runner.epoch, self.history):
            self.diagnose_and_relearn(runner, relearn=False)

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
        encoders = [model.encoders[m] for m in self.modalities]
        with preserved_random_state():
            start = time.perf_counter()
            with main_process_buffers(encoders, restore=not relearn):
                features, labels = self.data.extract(model, self.modalities,
                                                     self.seed, epoch,
                                                     self.progress)
                extracted = time.perf_counter()
                payload = main_process_result(
                    partial(
                        diagnose_modalities,
                        features,
                        labels,
                        self.modalities,
                        self.num_clusters,
                        lam=self.lam,
                        seed=self.seed,
                        n_init=self.kmeans_n_init,
                        backend=self.kmeans_backend,
                        side_by_side=self.kmeans_side_by_side))
                diagnosed = time.perf_counter()
            if relearn:
                for m, stats in payload.items():
                    self._relearn(runner, model.encoders[m],
                                  self.init_state[m], stats['strength'])
                check_same_on_ranks(
                    {
                        m: model.encoders[m].state_dict().values()
                        for m in self.modalities
                    }, 'DRHook: after re-learning, the encoders of modalities')
            end = time.perf_counter()

        # Re-learning records are those of a run without monitoring; a
        # monitor record says it is one and has no re-learning index.
        head = dict(index=len(relearned(self.history)) + 1) if relearn else {}
        tail = {} if relearn else dict(relearned=False)
        record = dict(
            **head,
            epoch=epoch,
            time_s=end - start,
            extract_s=extracted - start,
            cluster_s=diagnosed - extracted,
            relearn_s=end - diagnosed,
            num_train_samples=len(self.data.loaders['train'].dataset),
            num_val_samples=len(self.data.loaders['val'].dataset),
            world_size=get_world_size(),
            modalities=payload,
            **tail)
        self.history.append(record)
        self._report(runner, record)
        return record

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

    def _report(self, runner, record: dict) -> None:
        scalars = {
            f'dr/{m}/{key}': value
            for m, stats in record['modalities'].items()
            for key, value in stats.items()
        }
        scalars['dr/time_s'] = record['time_s']
        runner.logger.info(format_dr_record(record, self.schedule.max_times))
        runner.visualizer.add_scalars(scalars, step=record['epoch'])
        self._write_history(runner)

    def _history_path(self, runner) -> str:
        return osp.join(runner.work_dir, self.history_file)

    def _write_history(self, runner) -> None:
        """Write the history file (main process), atomically."""
        if is_main_process():
            write_text_atomic(
                self._history_path(runner),
                json.dumps(self.history, indent=2) + '\n')
