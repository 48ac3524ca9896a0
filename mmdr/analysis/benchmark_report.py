"""The benchmark's report: a markdown table per setting and a CSV row per
run, from the runs' ``result.json`` contents.

Per setting and method the table gives the test metric (the one the
checkpoint was selected on in validation) as mean and sample standard
deviation over seeds; the paired difference to joint training (``jt``)
with its 95 % t-interval; each encoder's uni-modal probe on the test
split; the imbalance of each modality: the probe of the encoder trained
alone minus its probe under the method, same seed (see
:mod:`mmdr.analysis.benchmark_statistics`); and each modality's Shapley
contribution to the test accuracy (:mod:`mmdr.analysis.modality_shapley`).
Values are in percent and percentage points. The complexity follows:
parameters, FLOPs per test sample, training seconds per epoch and their
ratio to joint training's, same seed. Runs that lack the Shapley
contributions or the complexity (of earlier versions) show ``–`` there.
"""
import csv
import math
from typing import Dict, List, Optional, Sequence

from mmdr.utils.atomic_write import open_atomic
from .benchmark_statistics import (Summary, imbalance, paired_difference,
                                   paired_ratio, summarize)

NA = '–'


def fmt_mean_std(summary: Summary) -> str:
    """``mean ± std`` (two decimals); ``mean`` alone for one value."""
    if math.isnan(summary.std):
        return f'{summary.mean:.2f}'
    return f'{summary.mean:.2f} ± {summary.std:.2f}'


def fmt_interval(summary: Optional[Summary],
                 seeds: Optional[int] = None) -> str:
    """``+mean [low, high]``, signed; the pairs' number when it is not
    ``seeds``; ``–`` for nothing to compare."""
    if summary is None:
        return NA
    text = f'{summary.mean:+.2f}'
    if not math.isnan(summary.low):
        text += f' [{summary.low:+.2f}, {summary.high:+.2f}]'
    if seeds is None or summary.n != seeds:
        text += f' (n={summary.n})'
    return text


def _by_seed(results: Sequence[dict], method: str, value) -> Dict[int, float]:
    return {
        r['seed']: value(r)
        for r in results if r['method'] == method and value(r) is not None
    }


def _test(r: dict) -> float:
    return 100 * r['test'][r['metric']]


def _probe(modality: str):

    def value(r: dict) -> Optional[float]:
        probe = r['probe'].get(modality)
        return None if probe is None else 100 * probe['test']

    return value


def _shapley(modality: str):

    def value(r: dict) -> Optional[float]:
        contribution = (r.get('shapley') or {}).get('dataset', {})
        if modality not in contribution:
            return None
        return 100 * contribution[modality]

    return value


def _epoch_s(r: dict) -> Optional[float]:
    return r.get('epoch_s')


def fmt_count(count: Optional[float]) -> str:
    """A count with an SI prefix (``72.75 K``, ``1.20 G``); ``–`` for
    none."""
    if count is None:
        return NA
    for factor, prefix in ((1e12, 'T'), (1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(count) >= factor:
            return f'{count / factor:.2f} {prefix}'
    return f'{count:.0f}'


def fmt_ratio(summary: Optional[Summary], seeds: Optional[int] = None) -> str:
    """``×mean [low, high]``; the pairs' number when it is not ``seeds``;
    ``–`` for nothing to compare."""
    if summary is None:
        return NA
    text = f'×{summary.mean:.2f}'
    if not math.isnan(summary.low):
        text += f' [{summary.low:.2f}, {summary.high:.2f}]'
    if seeds is None or summary.n != seeds:
        text += f' (n={summary.n})'
    return text


def setting_modalities(results: Sequence[dict]) -> List[str]:
    """The modalities of a setting's runs, in encoder order."""
    modalities: List[str] = []
    ordered = sorted(results, key=lambda r: r['method'].startswith('alone-'))
    for r in ordered:
        for m in r['probe']:
            if m not in modalities:
                modalities.append(m)
    return modalities


def _complexity_cells(runs: Sequence[dict],
                      jt_epoch_s: Dict[int, float]) -> List[str]:
    """Parameters and FLOPs of a method's model (the same for every seed:
    the first measured run's), its mean training seconds per epoch and
    their ratio to joint training's, paired by seed."""
    params = next((r['params'] for r in runs if 'params' in r), None)
    flops = next((r['flops'] for r in runs if 'flops' in r), None)
    epoch_s = _by_seed(runs, runs[0]['method'], _epoch_s)
    return [
        fmt_count(params),
        fmt_count(flops),
        fmt_mean_std(summarize(list(epoch_s.values()))) if epoch_s else NA,
        NA if runs[0]['method'] == 'jt' or not epoch_s else fmt_ratio(
            paired_ratio(epoch_s, jt_epoch_s), len(epoch_s))
    ]


def setting_table(results: Sequence[dict]) -> str:
    """The markdown table of one setting's runs.

    Args:
        results (Sequence[dict]): The setting's ``result.json`` contents.

    Returns:
        str: The table.
    """
    methods = list(dict.fromkeys(r['method'] for r in results))
    modalities = setting_modalities(results)
    metric = results[0]['metric']
    header = ['method', 'seeds', f'test {metric} (%)', f'{metric} − jt (pp)']
    header += [f'probe {m} (%)' for m in modalities]
    header += [f'imbalance {m} (pp)' for m in modalities]
    header += [f'Shapley {m} (pp)' for m in modalities]
    header += ['params', 'FLOPs / sample', 'train s / epoch', 's / epoch ÷ jt']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    jt = _by_seed(results, 'jt', _test)
    jt_epoch_s = _by_seed(results, 'jt', _epoch_s)
    for method in methods:
        test = _by_seed(results, method, _test)
        seeds = len(test)
        cells = [
            method,
            str(seeds),
            fmt_mean_std(summarize(list(test.values())))
        ]
        cells.append(NA if method == 'jt' or not jt else fmt_interval(
            paired_difference(test, jt), seeds))
        probes = {m: _by_seed(results, method, _probe(m)) for m in modalities}
        cells += [
            fmt_mean_std(summarize(list(probes[m].values())))
            if probes[m] else NA for m in modalities
        ]
        for m in modalities:
            alone = _by_seed(results, f'alone-{m}', _probe(m))
            if method.startswith('alone-') or not probes[m] or not alone:
                cells.append(NA)
            else:
                cells.append(fmt_interval(imbalance(alone, probes[m]), seeds))
        for m in modalities:
            shapley = _by_seed(results, method, _shapley(m))
            cells.append(
                fmt_mean_std(summarize(list(shapley.values()))
                             ) if shapley else NA)
        cells += _complexity_cells(
            [r for r in results if r['method'] == method], jt_epoch_s)
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def markdown(results: Sequence[dict],
             header: Sequence[str],
             notes: Optional[Dict[str, Sequence[str]]] = None) -> str:
    """The whole report: header lines, then a section per setting.

    Args:
        results (Sequence[dict]): Every finished run's result, in run order.
        header (Sequence[str]): Lines above the tables (command, seeds,
            times).
        notes (dict, optional): Setting to lines printed under its table.

    Returns:
        str: Markdown.
    """
    notes = notes or {}
    parts = ['# Benchmark', '', *header, '']
    parts += [
        'Test metric: the checkpoint selected on the validation split, '
        'tested once; mean ± sample standard deviation over seeds. '
        '"− jt": paired difference to joint training, same seed, mean '
        '[95 % t-interval]. "probe m": a linear probe on the frozen encoder '
        'm of the selected checkpoint, test split. "imbalance m": probe of '
        'm trained alone minus probe of m under the method, same seed, '
        'mean [95 % t-interval]; positive: the method leaves m behind. '
        '"Shapley m": the exact Shapley value of m in the top-1 test '
        'accuracy of the selected checkpoint evaluated with every subset of '
        'its modalities, the encoder features of a missing one zero before '
        'the fusion (they add up to the accuracy with every modality minus '
        'the accuracy with none). Complexity: parameters of the model, '
        'FLOPs of its prediction of one test sample (torch\'s '
        'FlopCounterMode: 2 per multiply-add of matrix products and '
        'convolutions), training seconds per epoch (wall clock of the '
        'training log, validation excluded) and their ratio to joint '
        'training\'s, same seed, mean [95 % t-interval]. "–": not measured '
        '(runs of earlier versions whose measures could not be taken).', ''
    ]
    settings = list(dict.fromkeys(r['setting'] for r in results))
    for setting in settings:
        parts += [f'## {setting}', '']
        parts.append(
            setting_table([r for r in results if r['setting'] == setting]))
        parts += ['', *notes.get(setting, [])]
        if notes.get(setting):
            parts.append('')
    for setting in notes:
        if setting not in settings:
            parts += [
                f'## {setting}', '', 'No finished run.', *notes[setting], ''
            ]
    return '\n'.join(parts).rstrip() + '\n'


def csv_columns(results: Sequence[dict]) -> List[str]:
    """Columns of runs.csv: the run, its metrics, the probes and Shapley
    contributions of every modality that any setting has, the complexity."""
    modalities: List[str] = []
    for r in results:
        for m in r['probe']:
            if m not in modalities:
                modalities.append(m)
    return [
        'setting', 'method', 'seed', 'metric', 'best_epoch', 'val', 'test',
        *(f'probe_{split}_{m}' for m in modalities
          for split in ('val', 'test')), *(f'shapley_{m}' for m in modalities),
        'params', 'flops', 'epoch_s', 'wall_s'
    ]


def csv_rows(results: Sequence[dict]) -> List[dict]:
    """One row per run: fractions as the runs stored them, blank where the
    run has no such modality or measure."""
    columns = csv_columns(results)
    rows = []
    for r in results:
        row = dict.fromkeys(columns, '')
        row.update(
            setting=r['setting'],
            method=r['method'],
            seed=r['seed'],
            metric=r['metric'],
            best_epoch=r['best_epoch'],
            val=r['val'],
            test=r['test'][r['metric']],
            wall_s=r['wall_s'])
        for m, probe in r['probe'].items():
            for split, acc in probe.items():
                row[f'probe_{split}_{m}'] = acc
        for m, value in ((r.get('shapley') or {}).get('dataset')
                         or {}).items():
            row[f'shapley_{m}'] = value
        for key in ('params', 'flops', 'epoch_s'):
            if r.get(key) is not None:
                row[key] = r[key]
        rows.append(row)
    return rows


def write_csv(path: str, results: Sequence[dict]) -> None:
    """Write runs.csv atomically.

    Args:
        path (str): The file.
        results (Sequence[dict]): Every finished run's result.
    """
    with open_atomic(path, newline='') as f:
        writer = csv.DictWriter(f, fieldnames=csv_columns(results))
        writer.writeheader()
        writer.writerows(csv_rows(results))
