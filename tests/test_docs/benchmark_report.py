"""The test-accuracy rows of the CPU benchmark's report,
docs/benchmark/cpu_results.md, that the README and the metafiles quote."""
import os.path as osp
import re
from typing import Dict, Tuple

from conftest import REPO

ROW = re.compile(r'\| (\w+) \| (\d+) \| ([\d.]+) ± ([\d.]+) \|')


def benchmark_results() -> Dict[Tuple[str, str], Tuple[str, str, int]]:
    """Every method's test accuracy per setting, as the report writes it.

    Returns:
        dict: ``(setting, method)`` to ``(mean, std, seeds)``, mean and std
        as written, in the report's order.
    """
    rows, setting = {}, None
    with open(osp.join(REPO, 'docs/benchmark/cpu_results.md')) as f:
        for line in f:
            heading = re.match(r'## (\S+)$', line.strip())
            if heading:
                setting = heading.group(1)
            row = ROW.match(line)
            if row and setting:
                rows[(setting, row.group(1))] = (row.group(3), row.group(4),
                                                 int(row.group(2)))
    return rows
