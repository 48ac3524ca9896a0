"""The numbers behind training curves (the paper's Figure 4), read from a
work dir: per-modality clustering purities and gaps of the D&R history, the
re-learning epochs, and a per-epoch validation metric of mmengine's scalar
log. Pure Python: nothing is drawn here (see
:mod:`mmdr.visualization.training_curves_plot`)."""
import glob
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

#: Purity statistics of a history record that the curves show.
PURITY_KEYS = ('train_purity', 'val_purity', 'gap')


@dataclass
class TrainingCurves:
    """Curves of one run; epochs are counted from 1, as mmengine's log.

    Attributes:
        label (str): Name of the run in legends.
        purities (dict): Modality to ``{'epoch': [...], 'train_purity':
            [...], 'val_purity': [...], 'gap': [...]}``, one entry per
            diagnosis after that epoch, in epoch order.
        relearn_epochs (list[int]): Epochs after which the encoders were
            re-learned (the next epoch trains the result).
        metric (str): Name of the validation metric.
        val_metric (dict): ``{'epoch': [...], 'value': [...]}`` of the
            validation metric, in epoch order.
    """
    label: str
    purities: Dict[str, Dict[str, list]] = field(default_factory=dict)
    relearn_epochs: List[int] = field(default_factory=list)
    metric: str = 'acc/top1'
    val_metric: Dict[str, list] = field(
        default_factory=lambda: dict(epoch=[], value=[]))


def read_dr_history(
        work_dir: str,
        history_file: str = 'dr_history.json') -> Optional[List[dict]]:
    """The D&R history that :class:`DRHook` wrote, if any.

    Args:
        work_dir (str): The run's work dir.
        history_file (str): Its name there. Defaults to
            ``'dr_history.json'``.

    Returns:
        list[dict], optional: The records; None if the file is absent (a
        run without DRHook).
    """
    path = osp.join(work_dir, history_file)
    if not osp.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def purity_series(history: List[dict]) -> Dict[str, Dict[str, list]]:
    """Per-modality purity and gap series of a D&R history.

    Args:
        history (list[dict]): Records of ``dr_history.json``, monitor
            records (``relearned: False``) and re-learnings alike.

    Returns:
        dict: Modality (in order of first appearance) to ``epoch``,
        ``train_purity``, ``val_purity`` and ``gap`` lists, sorted by epoch.
    """
    series: Dict[str, Dict[str, list]] = {}
    for record in sorted(history, key=lambda r: r['epoch']):
        for modality, stats in record['modalities'].items():
            entry = series.setdefault(
                modality, dict(epoch=[], **{k: []
                                            for k in PURITY_KEYS}))
            entry['epoch'].append(record['epoch'])
            for key in PURITY_KEYS:
                entry[key].append(stats[key])
    return series


def relearn_epochs(history: List[dict]) -> List[int]:
    """Epochs after which a D&R history re-learned.

    Args:
        history (list[dict]): Records of ``dr_history.json``; a record is a
            re-learning unless it says ``relearned: False``.

    Returns:
        list[int]: Sorted epochs.
    """
    return sorted(r['epoch'] for r in history if r.get('relearned', True))


def scalar_logs(work_dir: str) -> List[str]:
    """mmengine's scalar logs of a work dir, oldest run first.

    A run writes ``<work_dir>/<timestamp>/vis_data/scalars.json``; a resumed
    run adds a folder with a later timestamp (``YYYYMMDD_HHMMSS``, so the
    names sort by time).

    Args:
        work_dir (str): The work dir.

    Returns:
        list[str]: Paths, sorted by their timestamp folder.
    """
    return sorted(
        glob.glob(
            osp.join(glob.escape(work_dir), '*', 'vis_data', 'scalars.json')))


def read_epoch_scalars(work_dir: str,
                       key: str = 'acc/top1') -> Dict[int, float]:
    """A validation metric per epoch, merged over a run's scalar logs.

    Validation lines of ``scalars.json`` carry the metric and the epoch as
    ``step``; where several logs (an interrupted run and its resumption)
    hold the same epoch, the later log wins.

    Args:
        work_dir (str): The work dir.
        key (str): The metric. Defaults to ``'acc/top1'``.

    Returns:
        dict[int, float]: Epoch to value, sorted by epoch.
    """
    values: Dict[int, float] = {}
    for path in scalar_logs(work_dir):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                entry = json.loads(line)
                if key in entry:
                    values[int(entry['step'])] = float(entry[key])
    return dict(sorted(values.items()))


def load_training_curves(
        work_dir: str,
        metric: str = 'acc/top1',
        label: Optional[str] = None,
        history_file: str = 'dr_history.json') -> TrainingCurves:
    """Everything the curves of one run show.

    Args:
        work_dir (str): The run's work dir.
        metric (str): Validation metric of ``scalars.json``. Defaults to
            ``'acc/top1'``.
        label (str, optional): Name of the run. Defaults to the work dir's
            base name.
        history_file (str): Name of the D&R history. Defaults to
            ``'dr_history.json'``.

    Returns:
        TrainingCurves: The series; without a D&R history the purities and
        re-learning epochs are empty.

    Raises:
        FileNotFoundError: If ``work_dir`` is not a directory, or holds
            neither a D&R history nor a scalar log.
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'{work_dir} is not a directory')
    history = read_dr_history(work_dir, history_file)
    scalars = read_epoch_scalars(work_dir, metric)
    if history is None and not scalar_logs(work_dir):
        raise FileNotFoundError(
            f'{work_dir} holds neither {history_file} nor */vis_data/'
            'scalars.json: is it the work dir of a training run?')
    return TrainingCurves(
        label=label or osp.basename(osp.normpath(work_dir)),
        purities=purity_series(history or []),
        relearn_epochs=relearn_epochs(history or []),
        metric=metric,
        val_metric=dict(epoch=list(scalars), value=list(scalars.values())))


def read_test_metrics(
    work_dir: str, exclude: Sequence[str] = ()) -> Optional[dict]:
    """The metrics of the latest test in a work dir, from mmengine's log.

    After a test epoch mmengine's ``LoggerHook`` writes the metrics as one
    JSON object to ``<work_dir>/<timestamp>/<timestamp>.json``, with the
    epoch's mean ``time`` and ``data_time``, which are left out here.

    Args:
        work_dir (str): The work dir.
        exclude (Sequence[str]): Timestamp folders to pass over (those of
            earlier runs in the same work dir).

    Returns:
        dict, optional: Metric name to value; None if no test wrote one.
    """
    logs = [
        path for path in sorted(
            glob.glob(osp.join(glob.escape(work_dir), '*', '*.json')))
        if osp.basename(path) == osp.basename(osp.dirname(path)) +
        '.json' and osp.basename(osp.dirname(path)) not in exclude
    ]
    if not logs:
        return None
    with open(logs[-1]) as f:
        metrics = json.load(f)
    return {
        key: value
        for key, value in metrics.items() if key not in ('time', 'data_time')
    }
