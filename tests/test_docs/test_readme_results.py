"""The README's results table quotes the benchmark's report."""
import os.path as osp

from benchmark_report import benchmark_results
from conftest import REPO

#: The README's columns, as the benchmark names the methods.
COLUMNS = ('jt', 'dr', 'ogm_ge', 'mmpareto', 'pmr', 'unimodal_aux_loss')


def readme_results_rows() -> list:
    with open(osp.join(REPO, 'README.md'), encoding='utf-8') as f:
        section = f.read().split('## Results', 1)[1].split('\n## ', 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip('|').split('|')]
            for line in section.splitlines() if line.startswith('| ')]
    return rows[1:]  # below the header


def test_readme_results_are_the_report_in_its_order():
    report = benchmark_results()
    settings = list(dict.fromkeys(setting for setting, _ in report))
    rows = readme_results_rows()

    assert len(rows) == len(settings)
    for setting, row in zip(settings, rows):
        expected = [
            '{} ± {}'.format(*report[(setting, method)][:2]) if
            (setting, method) in report else '–' for method in COLUMNS
        ]
        assert row[1:] == expected, row[0]
