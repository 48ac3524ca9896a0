"""The benchmark's report: a markdown table per setting and a CSV row per
run, from the runs' ``result.json`` contents.

Per setting and method the table gives the test metric (the one the
checkpoint was selected on in validation) as mean and sample standard
deviation over seeds; the paired difference to joint training (``jt``)
with its 95 % t-interval; each encoder's uni-modal probe on the test
split; and the imbalance of each modality: the probe of the encoder trained
alone minus its probe under the method, same seed (see
:mod:`mmdr.analysis.benchmark_statistics`). Values are in percent and
percentage points.
"""
import csv
import math
from typing import Dict, List, Optional, Sequence

from mmdr.utils.atomic_write import open_atomic
from .benchmark_statistics import (Summary, imbalance, paired_difference,
                                   summarize)

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


def setting_modalities(results: Sequence[dict]) -> List[str]:
    """The modalities of a setting's runs, in encoder order."""
    modalities: List[str] = []
    ordered = sorted(results, key=lambda r: r['method'].startswith('alone-'))
    for r in ordered:
        for m in r['probe']:
            if m not in modalities:
                modalities.append(m)
    return modalities


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
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    jt = _by_seed(results, 'jt', _test)
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
        'mean [95 % t-interval]; positive: the method leaves m behind.', ''
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
    """Columns of runs.csv: the run, its metrics, the probes of every
    modality that any setting has."""
    modalities: List[str] = []
    for r in results:
        for m in r['probe']:
            if m not in modalities:
                modalities.append(m)
    return [
        'setting', 'method', 'seed', 'metric', 'best_epoch', 'val', 'test',
        *(f'probe_{split}_{m}' for m in modalities
          for split in ('val', 'test')), 'wall_s'
    ]


def csv_rows(results: Sequence[dict]) -> List[dict]:
    """One row per run: fractions as the runs stored them, blank where the
    run has no such modality."""
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
