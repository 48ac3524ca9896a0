"""The README's results table quotes the benchmark's reports."""
import os.path as osp

from benchmark_report import REPORTS, benchmark_results, report_results
from conftest import REPO

#: The README's rows, as the benchmark names the methods.
METHODS = ('jt', 'dr', 'ogm_ge', 'mmpareto', 'pmr', 'unimodal_aux_loss',
           'gradient_blending', 'greedy', 'agm', 'mla', 'reconboost', 'opm',
           'mmcosine', 'ume', 'umt', 'cml', 'inforeg', 'arl',
           'sample_valuation', 'modality_valuation', 'amco', 'mbsd', 'lfm')


def readme_results_rows() -> list:
    with open(osp.join(REPO, 'README.md'), encoding='utf-8') as f:
        section = f.read().split('## Results', 1)[1].split('\n## ', 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip('|').split('|')]
            for line in section.splitlines() if line.startswith('| ')]
    return rows[1:]  # below the header


def test_readme_results_are_the_reports_in_their_order():
    report = benchmark_results()
    settings = list(dict.fromkeys(setting for setting, _ in report))
    rows = readme_results_rows()

    assert len(rows) == len(METHODS)
    for method, row in zip(METHODS, rows):
        expected = [
            '{} ± {}'.format(*report[(setting, method)][:2]) if
            (setting, method) in report else '–' for setting in settings
        ]
        assert row[1:] == expected, row[0]


def test_the_reports_share_their_reference_runs():
    # Joint training and each modality alone are in every report, so that
    # each report's paired differences and imbalance stand on their own.
    first, *others = (report_results(path) for path in REPORTS)
    shared = {
        key
        for key in first if key[1] == 'jt' or key[1].startswith('alone-')
    }
    assert shared
    for other in others:
        assert {key: other[key] for key in shared} == \
            {key: first[key] for key in shared}
