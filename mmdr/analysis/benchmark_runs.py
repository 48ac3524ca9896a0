"""The plan of a benchmark: settings x methods x seeds, each run composed
from a joint-training config and checked before any is trained (the runs
are trained, tested, probed and measured by
``tools/analysis/benchmark_executor.py``; finished runs are reused).

A *setting* is a joint-training config (``configs/jt_<rest>.py``). A
*method* turns it into the config of a run:

- ``jt``: the config as it is;
- ``dr``: its D&R twin ``configs/dr_<rest>.py``;
- ``alone``: one run per modality ``m`` (named ``alone-<m>``) with
  ``model.modalities=[m]``: the encoder trained on its own, the reference
  of the imbalance measure;
- any other name: the fragment ``configs/_base_/methods/<name>.py`` merged
  into the config (e.g. ``ogm_ge``, ``unimodal_aux_loss``). A method that
  distils from teachers trained alone (UMT) gets the ``alone`` runs of its
  setting and seed as teachers, and runs after them.

Run folders are ``WORK_DIR/<setting>/<method>/seed<N>/``:
``composed/config.py`` (the composed config; mmengine's Runner writes its
own ``config.py``, with the seed and work dir, next to its checkpoints),
``train.log`` (the training process's output),
``train.json`` (selected checkpoint and its metrics, once training and
testing finished) and ``result.json`` (everything, once the probes are
fitted and the measures taken), both written atomically.
"""
import copy
import glob
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

from mmdr.registry import MODELS

#: Methods that are not fragments.
BUILTIN_METHODS = ('jt', 'dr', 'alone')


class BenchmarkError(Exception):
    """A benchmark that cannot start; the message names every problem."""


@dataclass
class Setting:
    """A joint-training config and what the list file says about it.

    Attributes:
        name (str): Folder and table name.
        config (str): The joint-training config file.
        methods (list[str], optional): Only these methods (None: all).
        exclude_methods (list[str]): Never these methods.
        cfg_options (dict): Config overrides of this setting's runs.
        note (str): A line printed under the setting's table.
    """
    name: str
    config: str
    methods: Optional[List[str]] = None
    exclude_methods: List[str] = field(default_factory=list)
    cfg_options: dict = field(default_factory=dict)
    note: str = ''

    def takes(self, method: str) -> bool:
        """Whether the list file lets this setting run ``method``."""
        return ((self.methods is None or method in self.methods)
                and method not in self.exclude_methods)


@dataclass
class Run:
    """One training run of the benchmark.

    Attributes:
        setting (str): Setting name.
        method (str): Method name of the run (``alone-<m>`` for alone runs).
        seed (int): Seed.
        cfg (Config): The composed config.
        work_dir (str): The run's folder (absolute).
        needs (tuple[str]): Names of the runs that must have finished
            before this one starts (a UMT run's teachers).
    """
    setting: str
    method: str
    seed: int
    cfg: Config
    work_dir: str
    needs: Tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """str: ``<setting>/<method>/seed<N>``."""
        return f'{self.setting}/{self.method}/seed{self.seed}'

    @property
    def result_file(self) -> str:
        return osp.join(self.work_dir, 'result.json')

    @property
    def config_file(self) -> str:
        # Not <work_dir>/<name>.py: the Runner dumps its own config there.
        return osp.join(self.work_dir, 'composed', 'config.py')


def method_fragments(methods_dir: str) -> List[str]:
    """The fragment methods: ``<methods_dir>/<name>.py`` files.

    Args:
        methods_dir (str): ``configs/_base_/methods``.

    Returns:
        list[str]: Their names, sorted.
    """
    return sorted(
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(osp.join(methods_dir, '*.py')))


def known_methods(methods_dir: str) -> List[str]:
    """jt, dr, alone and the fragments."""
    return [*BUILTIN_METHODS, *method_fragments(methods_dir)]


def joint_training_configs(configs_dir: str) -> List[str]:
    """The names of the ``jt_*.py`` configs in ``configs_dir``."""
    return sorted(
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(osp.join(configs_dir, 'jt_*.py')))


def resolve_config(config: str, configs_dir: str) -> Optional[str]:
    """The file of a config named by a path or by its name.

    Args:
        config (str): ``configs/jt_mfeat.py``, ``jt_mfeat.py`` or
            ``jt_mfeat``; a relative path is tried from the working
            directory, then from the folder above ``configs_dir``.
        configs_dir (str): The ``configs`` folder.

    Returns:
        str, optional: The absolute path, or None when there is no such
        file.
    """
    candidates = [config, osp.join(osp.dirname(configs_dir), config)]
    if not osp.isabs(config):
        name = config if config.endswith('.py') else config + '.py'
        candidates.append(osp.join(configs_dir, name))
    for path in candidates:
        if osp.isfile(path):
            return osp.abspath(path)
    return None


def setting_name(config: str) -> str:
    """The default name of a setting: the config's name without ``jt_``."""
    name = osp.splitext(osp.basename(config))[0]
    return name[3:] if name.startswith('jt_') else name


def dr_twin(config: str) -> str:
    """``<dir>/dr_<rest>.py`` of ``<dir>/jt_<rest>.py``.

    Raises:
        BenchmarkError: If ``config`` is not a ``jt_`` config or its twin is
            missing.
    """
    name = osp.basename(config)
    if not name.startswith('jt_'):
        raise BenchmarkError(f'method dr needs a jt_<rest>.py config (its '
                             f'twin is dr_<rest>.py); {config} is not one')
    twin = osp.join(osp.dirname(config), 'dr_' + name[3:])
    if not osp.isfile(twin):
        raise BenchmarkError(f'method dr: {config} has no D&R twin {twin}')
    return twin


def compose(config: str, method: str,
            methods_dir: str) -> List[Tuple[str, Config]]:
    """The run configs of a method on a setting.

    Args:
        config (str): The joint-training config file.
        method (str): ``jt``, ``dr``, ``alone`` or a fragment's name.
        methods_dir (str): ``configs/_base_/methods``.

    Returns:
        list[tuple[str, Config]]: Run method name and config; one pair, or
        one per modality for ``alone``.
    """
    if method == 'jt':
        return [('jt', Config.fromfile(config))]
    if method == 'dr':
        return [('dr', Config.fromfile(dr_twin(config)))]
    if method == 'alone':
        base = Config.fromfile(config)
        runs = []
        for m in base.model.encoders:
            cfg = Config.fromfile(config)
            cfg.merge_from_dict({'model.modalities': [m]})
            runs.append((f'alone-{m}', cfg))
        return runs
    fragment = Config.fromfile(osp.join(methods_dir, f'{method}.py'))
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(fragment.to_dict())
    return [(method, cfg)]


def distils_from_alone_runs(cfg: Config) -> bool:
    """Whether the config's method takes teachers trained alone (UMT)."""
    balancer = cfg.model.get('balancer') or {}
    return balancer.get('type') == 'UMT'


def alone_teachers(cfg: Config, work_dir: str, setting: str,
                   seed: int) -> Dict[str, str]:
    """The ``alone`` run folders of a setting and seed, by modality: a UMT
    run's teachers (each folder's one ``best_*.pth``).

    Args:
        cfg (Config): The run's config.
        work_dir (str): The benchmark's folder.
        setting (str): The setting's name.
        seed (int): The seed.

    Returns:
        dict[str, str]: Modality to the absolute run folder.
    """
    modalities = cfg.model.get('modalities') or list(cfg.model.encoders)
    return {
        m:
        osp.abspath(osp.join(work_dir, setting, f'alone-{m}', f'seed{seed}'))
        for m in modalities
    }


def selection_metric(cfg: Config) -> str:
    """The validation metric the checkpoint is selected on (and reported
    on the test split), e.g. ``acc/top1``."""
    save_best = cfg.default_hooks.checkpoint.get('save_best')
    if isinstance(save_best, (list, tuple)):
        save_best = save_best[0]
    if not save_best or save_best == 'auto':
        raise BenchmarkError('the benchmark selects checkpoints on '
                             'validation: default_hooks.checkpoint.save_best '
                             f'must name a metric, not {save_best!r}')
    return save_best


def plan(settings: Sequence[Setting],
         methods: Sequence[str],
         seeds: Sequence[int],
         work_dir: str,
         methods_dir: str,
         cfg_options: Optional[dict] = None,
         check_models: bool = True) -> Tuple[List[Run], Dict[str, list]]:
    """Compose and check every run before any is trained.

    Every problem is collected: unknown methods (named with the known
    ones), a missing D&R twin, and methods whose model cannot be built on a
    setting (e.g. OGM-GE on three modalities), unless the setting excludes
    them.

    Args:
        settings (Sequence[Setting]): The settings (configs resolved).
        methods (Sequence[str]): Method names.
        seeds (Sequence[int]): Seeds.
        work_dir (str): The benchmark's folder.
        methods_dir (str): ``configs/_base_/methods``.
        cfg_options (dict, optional): Overrides of every run (before the
            setting's own).
        check_models (bool): Build every composed model once. Defaults to
            True.

    Returns:
        tuple: The runs (by setting, seed, method) and, per setting, the
        methods its list entry left out.

    Raises:
        BenchmarkError: Naming every problem found.
    """
    known = known_methods(methods_dir)
    problems = []
    for method in methods:
        if method not in known:
            problems.append(
                f'unknown method {method!r}; known methods: '
                f'{", ".join(known)} (a method other than jt, dr and alone '
                f'is a fragment {methods_dir}/<name>.py)')
    names = [s.name for s in settings]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f'two settings are named {name!r}; give them '
                        'distinct names in the list file')
    for setting in settings:
        for method in [*(setting.methods or []), *setting.exclude_methods]:
            if method not in known:
                problems.append(f'setting {setting.name!r} names unknown '
                                f'method {method!r}; known methods: '
                                f'{", ".join(known)}')
    skipped = {s.name: [] for s in settings}
    composed = []
    for setting in settings:
        for method in methods:
            if method not in known:
                continue
            if not setting.takes(method):
                skipped[setting.name].append(method)
                continue
            try:
                runs = compose(setting.config, method, methods_dir)
            except BenchmarkError as err:
                problems.append(f'setting {setting.name!r}: {err}')
                continue
            for run_method, cfg in runs:
                if cfg_options:
                    cfg.merge_from_dict(cfg_options)
                if setting.cfg_options:
                    cfg.merge_from_dict(setting.cfg_options)
                if distils_from_alone_runs(cfg):
                    if 'alone' not in methods or not setting.takes('alone'):
                        problems.append(
                            f'method {method!r} on setting {setting.name!r} '
                            'distils from the encoders trained alone: add '
                            'alone to the methods (and let the setting take '
                            'it)')
                        continue
                    # The first seed's teachers: the model is only built.
                    cfg.model.balancer.teachers = alone_teachers(
                        cfg, work_dir, setting.name, seeds[0] if seeds else 0)
                problem = _check(cfg, check_models)
                if problem:
                    problems.append(
                        f'method {method!r} cannot train setting '
                        f'{setting.name!r} ({setting.config}'
                        f'{", " + run_method if run_method != method else ""}'
                        f'): {problem.rstrip(".")}. Leave it out '
                        '(--methods), or exclude it in the list file: '
                        'exclude_methods=[...] of the setting.')
                    continue
                composed.append((setting, run_method, cfg))
    if problems:
        raise BenchmarkError('\n'.join(problems))
    runs = [
        _run(setting.name, run_method, seed, cfg, work_dir)
        for setting in settings for seed in seeds
        for s, run_method, cfg in composed if s is setting
    ]
    # Runs that wait for others come last, so that what they wait for has
    # started before them with any number of jobs.
    runs.sort(key=lambda run: bool(run.needs))
    return runs, skipped


def _run(setting: str, method: str, seed: int, cfg: Config,
         work_dir: str) -> Run:
    """A run of the plan; a UMT run with its teachers and what it needs."""
    needs = ()
    if distils_from_alone_runs(cfg):
        cfg = copy.deepcopy(cfg)
        teachers = alone_teachers(cfg, work_dir, setting, seed)
        cfg.model.balancer.teachers = teachers
        needs = tuple(f'{setting}/alone-{m}/seed{seed}' for m in teachers)
    return Run(setting, method, seed, cfg,
               osp.abspath(osp.join(work_dir, setting, method, f'seed{seed}')),
               needs)


def _check(cfg: Config, check_model: bool) -> str:
    """What keeps a composed config from training, or ''."""
    try:
        selection_metric(cfg)
        if check_model:
            # Building the recogniser runs the balancer's own checks (number
            # of modalities, heads it needs); no weights are loaded.
            MODELS.build(cfg.model)
    except Exception as err:  # any build error is the method's reason
        return f'{type(err).__name__}: {err}'
    return ''


def changed_config(run: Run) -> str:
    """What keeps an earlier run in ``run.work_dir`` from being reused.

    Args:
        run (Run): The run.

    Returns:
        str: The problem, or '' (no earlier run, or one of the same
        config).
    """
    config_file = run.config_file
    if not osp.isfile(config_file):
        return ''
    with open(config_file) as f:
        if f.read() == run.cfg.dump():
            return ''
    return (f'{run.name}: the composed config differs from the one this run '
            f'was started with ({config_file}); give another --work-dir (or '
            'remove the run) to train it anew')
