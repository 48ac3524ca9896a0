"""The test-accuracy rows of the CPU benchmark's reports in docs/benchmark,
that the README and the metafiles quote."""
import os.path as osp
import re
from typing import Dict, Tuple

from conftest import REPO

ROW = re.compile(r'\| (\w+) \| (\d+) \| ([\d.]+) ± ([\d.]+) \|')

#: The reports, oldest first: the methods of mmdr 0.5.0 and those added in
#: 0.8.0 and 0.9.0, each with joint training and the `alone` runs of the
#: same seeds.
REPORTS = ('docs/benchmark/cpu_results.md',
           'docs/benchmark/cpu_results_0.8.0.md',
           'docs/benchmark/cpu_results_0.9.0.md')

Results = Dict[Tuple[str, str], Tuple[str, str, int]]


def report_results(path: str) -> Results:
    """Every method's test accuracy per setting, as one report writes it.

    Args:
        path (str): The report, relative to the repository.

    Returns:
        dict: ``(setting, method)`` to ``(mean, std, seeds)``, mean and std
        as written, in the report's order.
    """
    rows, setting = {}, None
    with open(osp.join(REPO, path), encoding='utf-8') as f:
        for line in f:
            heading = re.match(r'## (\S+)$', line.strip())
            if heading:
                setting = heading.group(1)
            row = ROW.match(line)
            if row and setting:
                rows[(setting, row.group(1))] = (row.group(3), row.group(4),
                                                 int(row.group(2)))
    return rows


def benchmark_results() -> Results:
    """The rows of every report, in the first report's setting order.

    A row that two reports both have (joint training, each modality alone)
    must be the same in both: the later version reproduced the runs.

    Returns:
        dict: As :func:`report_results`, over all reports.
    """
    merged: Results = {}
    for path in REPORTS:
        for key, row in report_results(path).items():
            assert merged.setdefault(key, row) == row, (path, key)
    settings = list(dict.fromkeys(setting for setting, _ in merged))
    return {
        (setting, method): row
        for setting in settings
        for (s, method), row in merged.items() if s == setting
    }
