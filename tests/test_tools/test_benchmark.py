"""tools/analysis/benchmark.py as a user runs it: real training runs on the
Multiple Features fixture (2 epochs), the report checked against the runs'
results and the statistics, an interrupted benchmark continued, and bad
lists refused before any run."""
import csv
import glob
import json
import os
import os.path as osp
import re
import shutil
from pathlib import Path

import pytest
import torch
from conftest import REPO, data_root_cfg_options, made_once
from mmengine.config import Config
from runs import run_tool, run_tool_main

from mmdr.analysis import (imbalance, model_complexity, modality_shapley,
                           paired_difference, paired_ratio, summarize,
                           train_epoch_seconds, unimodal_probes)
from mmdr.analysis.benchmark_report import (fmt_count, fmt_interval,
                                            fmt_mean_std, fmt_ratio)
from mmdr.analysis.benchmark_runs import (BenchmarkError, Run, Setting,
                                          known_methods, plan)
from mmdr.utils import register_all_modules

register_all_modules()

#: What the executor adds to a run's result after the probes.
MEASURES = ('shapley', 'params', 'flops', 'epoch_s', 'measures_wall_s')

CONFIGS = osp.join(REPO, 'configs')
METHODS = osp.join(CONFIGS, '_base_', 'methods')
#: In the plan's order: UMT's runs wait for the alone runs, so come last.
RUNS = [(method, seed) for seed in (0, 1)
        for method in ('jt', 'dr', 'alone-fou', 'alone-mor')] + [('umt', 0),
                                                                 ('umt', 1)]


def _benchmark(work, mfeat_root, methods=('jt', 'dr', 'alone', 'umt')):
    return run_tool('analysis/benchmark.py', '--configs', 'jt_mfeat_fou_mor',
                    '--methods', *methods, '--seeds', 0, 1, '--work-dir', work,
                    '--jobs', 2, '--threads', 1, '--cfg-options',
                    *data_root_cfg_options(mfeat_root),
                    'train_cfg.max_epochs=2')


@pytest.fixture(scope='session')
def benchmark(mfeat_root, tmp_path_factory):
    """The benchmark's 10 runs, made once per test session (read only: a
    test that changes them works on a copy)."""

    def make(folder):
        work = folder / 'work'
        result = _benchmark(work, mfeat_root)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        return dict(work=str(work), stdout=result.stdout)

    made = made_once(tmp_path_factory, 'benchmark_runs', make)
    return Path(made['work']), made['stdout']


def _result(work, method, seed):
    path = work / 'mfeat_fou_mor' / method / f'seed{seed}' / 'result.json'
    return json.load(open(path))


def _table(markdown, setting):
    section = markdown.split(f'## {setting}\n', 1)[1]
    lines = [line for line in section.splitlines() if line.startswith('|')]
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    return [
        dict(zip(header, (c.strip() for c in line.strip('|').split('|'))))
        for line in lines[2:]
    ]


@pytest.mark.slow
def test_report_holds_the_runs_and_their_statistics(benchmark, mfeat_root):
    work, _ = benchmark
    results = {(m, s): _result(work, m, s) for m, s in RUNS}
    for (method, seed), r in results.items():
        run_dir = work / 'mfeat_fou_mor' / method / f'seed{seed}'
        assert (r['setting'], r['method'], r['seed']) == ('mfeat_fou_mor',
                                                          method, seed)
        # Selected on validation: the best checkpoint of the run, trained
        # with the run's seed.
        best = torch.load(run_dir / r['best_ckpt'], weights_only=False)
        assert r['best_ckpt'] == f'best_acc_top1_epoch_{r["best_epoch"]}.pth'
        assert best['meta']['epoch'] == r['best_epoch']
        assert best['meta']['seed'] == seed
        assert r['val'] == best['message_hub']['runtime_info']['best_score']
        assert r['metric'] == 'acc/top1'
        cfg = Config.fromfile(run_dir / 'composed' / 'config.py')
        assert cfg.train_cfg.max_epochs == 2
        hooks = [h.type for h in cfg.get('custom_hooks') or []]
        assert hooks == (['DRHook'] if method == 'dr' else [])
        if method.startswith('alone-'):
            assert cfg.model.modalities == [method[6:]]
            assert list(r['probe']) == [method[6:]]
        else:
            assert 'modalities' not in cfg.model
            assert list(r['probe']) == ['fou', 'mor']
    # UMT distilled from the encoders its seed trained alone.
    for seed in (0, 1):
        log = (work / 'mfeat_fou_mor' / 'umt' / f'seed{seed}' /
               'train.log').read_text()
        for m in ('fou', 'mor'):
            teacher = (
                work / 'mfeat_fou_mor' / f'alone-{m}' / f'seed{seed}' /
                results[f'alone-{m}', seed]['best_ckpt'])
            assert f'UMT: the {m} teacher is {teacher}' in log
    # D&R's first diagnosis is after epoch 7: in 2 epochs the twin trains
    # exactly as joint training with the same seed.
    for seed in (0, 1):
        jt, dr = results['jt', seed], results['dr', seed]
        assert (dr['test'], dr['probe']) == (jt['test'], jt['probe'])
    # The probes are those of the selected checkpoint.
    jt0 = work / 'mfeat_fou_mor' / 'jt' / 'seed0'
    assert unimodal_probes(
        Config.fromfile(jt0 / 'composed' / 'config.py'),
        str(jt0 / results['jt', 0]['best_ckpt'])) == results['jt', 0]['probe']

    # runs.csv: one row per run, the stored values.
    rows = list(csv.DictReader(open(work / 'runs.csv')))
    assert [(row['method'], int(row['seed'])) for row in rows] == RUNS
    for row in rows:
        r = results[row['method'], int(row['seed'])]
        assert row['setting'] == 'mfeat_fou_mor'
        assert int(row['best_epoch']) == r['best_epoch']
        assert float(row['val']) == r['val']
        assert float(row['test']) == r['test']['acc/top1']
        assert float(row['wall_s']) == r['wall_s']
        for m in ('fou', 'mor'):
            for split in ('val', 'test'):
                cell = row[f'probe_{split}_{m}']
                if m in r['probe']:
                    assert float(cell) == r['probe'][m][split]
                else:
                    assert cell == ''

    # results.md: the statistics of those values, in percent.
    markdown = open(work / 'results.md').read()
    assert (
        'Command: `python ' +
        osp.join(REPO, 'tools', 'analysis', 'benchmark.py') +
        ' --configs jt_mfeat_fou_mor --methods jt dr alone umt') in markdown
    assert 'Seeds: 0 1; methods: jt dr alone umt' in markdown
    assert 'Runs: 10 of 10 finished (10 trained)' in markdown
    assert re.search(r'wall time of this command \d+\.\d s', markdown)

    def per_seed(method, value):
        return {s: 100 * value(results[method, s]) for s in (0, 1)}

    def pm(values):
        s = summarize(list(values.values()))
        return f'{s.mean:.2f} ± {s.std:.2f}'

    def ci(s):
        return f'{s.mean:+.2f} [{s.low:+.2f}, {s.high:+.2f}]'

    table = _table(markdown, 'mfeat_fou_mor')
    assert [row['method']
            for row in table] == ['jt', 'dr', 'alone-fou', 'alone-mor', 'umt']
    jt_test = per_seed('jt', lambda r: r['test']['acc/top1'])
    for row in table:
        method = row['method']
        test = per_seed(method, lambda r: r['test']['acc/top1'])
        assert row['seeds'] == '2'
        assert row['test acc/top1 (%)'] == pm(test)
        assert row['acc/top1 − jt (pp)'] == ('–' if method == 'jt' else ci(
            paired_difference(test, jt_test)))
        for m in ('fou', 'mor'):
            if method == f'alone-{"mor" if m == "fou" else "fou"}':
                assert row[f'probe {m} (%)'] == '–'
                continue
            probe = per_seed(method, lambda r: r['probe'][m]['test'])
            assert row[f'probe {m} (%)'] == pm(probe)
            alone = per_seed(f'alone-{m}', lambda r: r['probe'][m]['test'])
            assert row[f'imbalance {m} (pp)'] == (
                '–' if method.startswith('alone') else ci(
                    imbalance(alone, probe)))


def _files(run_dir):
    return {
        p: (os.stat(p).st_mtime_ns, open(p, 'rb').read())
        for p in glob.glob(osp.join(run_dir, '**'), recursive=True)
        if osp.isfile(p)
    }


@pytest.mark.slow
def test_runs_carry_shapley_contributions_and_complexity(benchmark):
    work, _ = benchmark
    rows = {
        (row['method'], int(row['seed'])): row
        for row in csv.DictReader(open(work / 'runs.csv'))
    }
    table = {
        row['method']: row
        for row in _table(open(work / 'results.md').read(), 'mfeat_fou_mor')
    }
    for method, seed in RUNS:
        r = _result(work, method, seed)
        run_dir = work / 'mfeat_fou_mor' / method / f'seed{seed}'
        cfg = Config.fromfile(run_dir / 'composed' / 'config.py')
        # The selected checkpoint's contributions on the test split.
        contributions = modality_shapley(cfg, str(run_dir / r['best_ckpt']))
        assert r['shapley'] == dict(
            split='test',
            replace='features',
            dataset=contributions['dataset'],
            most_share={
                m: s['most_share']
                for m, s in contributions['samples'].items()
            },
            tie_share=contributions['tie_share'])
        assert list(r['shapley']['dataset']) == list(r['probe'])
        complexity = model_complexity(cfg)
        assert (r['params'], r['flops']) == (complexity['params'],
                                             complexity['flops'])
        assert r['epoch_s'] == train_epoch_seconds(
            (run_dir / 'train.log').read_text())
        assert r['wall_s'] == (
            r['train_wall_s'] + r['probe_wall_s'] + r['measures_wall_s'])
        row = rows[method, seed]
        for m in ('fou', 'mor'):
            cell = row[f'shapley_{m}']
            assert (float(cell) if cell else None) == (
                r['shapley']['dataset'].get(m))
        assert (int(row['params']), int(row['flops'])) == (r['params'],
                                                           r['flops'])
        assert float(row['epoch_s']) == r['epoch_s']
    for method, row in table.items():
        for m in ('fou', 'mor'):
            values = [
                100 * _result(work, method, s)['shapley']['dataset'][m]
                for s in (0, 1) if m in _result(work, method, s)['probe']
            ]
            assert row[f'Shapley {m} (pp)'] == (
                fmt_mean_std(summarize(values)) if values else '–')
        assert row['params'] == fmt_count(_result(work, method, 0)['params'])
        assert row['s / epoch ÷ jt'] == ('–' if method == 'jt' else fmt_ratio(
            paired_ratio(*({
                s: _result(work, name, s)['epoch_s']
                for s in (0, 1)
            } for name in (method, 'jt'))), 2))


@pytest.mark.slow
def test_interrupted_benchmark_reruns_only_the_missing_runs(
        benchmark, mfeat_root, tmp_path):
    # On a copy, without UMT: its configs name the teachers' folders in the
    # original, so a copy would not reuse its runs (changed_config).
    work = tmp_path / 'work'
    shutil.copytree(benchmark[0], work)
    setting = work / 'mfeat_fou_mor'
    shutil.rmtree(setting / 'umt')
    runs = [run for run in RUNS if run[0] != 'umt']
    before = {run: _result(work, *run) for run in runs}
    # The benchmark was killed during epoch 2 of jt/seed1 (its checkpoint
    # of epoch 1 is the last), before alone-mor/seed1 began.
    killed = setting / 'jt' / 'seed1'
    for name in ('result.json', 'train.json', 'epoch_2.pth',
                 'best_acc_top1_epoch_2.pth'):
        if (killed / name).exists():
            (killed / name).unlink()
    (killed / 'last_checkpoint').write_text(str(killed / 'epoch_1.pth'))
    for path in (setting / 'alone-mor' / 'seed1').iterdir():
        if path.is_file():
            path.unlink()
    # dr/seed0 finished before the Shapley contributions and complexity
    # were measured: its result lacks them.
    earlier = setting / 'dr' / 'seed0' / 'result.json'
    json.dump({
        k: v
        for k, v in before['dr', 0].items() if k not in MEASURES
    }, open(earlier, 'w'))
    untouched = {
        run: _files(setting / run[0] / f'seed{run[1]}')
        for run in runs if run not in (('jt', 1), ('alone-mor', 1), ('dr', 0))
    }

    result = _benchmark(work, mfeat_root, methods=('jt', 'dr', 'alone'))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert 'mfeat_fou_mor/jt/seed1 (resumed)' in result.stdout
    assert 'mfeat_fou_mor/alone-mor/seed1 (trained)' in result.stdout
    assert result.stdout.count('(reused)') == 6
    for run, files in untouched.items():
        assert _files(setting / run[0] / f'seed{run[1]}') == files, run
    # Resumed from epoch 1 (bit-identical on the CPU) and retrained: the
    # same results as before.
    log = (killed / 'train.log').read_text()
    assert [
        line.endswith('--resume') for line in log.splitlines()
        if line.startswith('$ ')
    ] == [False, True]
    for run in (('jt', 1), ('alone-mor', 1)):
        after = _result(work, *run)
        for key in ('test', 'val', 'best_epoch', 'probe'):
            assert after[key] == before[run][key], (run, key)
    assert _result(work, 'jt', 1)['resumed'] is True
    # The earlier run was measured on reuse, not trained again.
    measured = _result(work, 'dr', 0)
    assert measured.pop('measures_wall_s') > 0
    assert measured == {
        k: v
        for k, v in before['dr', 0].items() if k != 'measures_wall_s'
    }
    markdown = open(work / 'results.md').read()
    assert 'Runs: 8 of 8 finished (1 resumed, 6 reused, 1 trained)' in markdown


def test_bad_lists_fail_before_any_run(tmp_path, monkeypatch, capsys):
    listed = tmp_path / 'list.py'
    listed.write_text(
        'settings = [\n'
        "    dict(config='configs/jt_missing.py'),\n"
        "    dict(config='configs/jt_mfeat.py'),\n"
        "    dict(config='configs/jt_mfeat_noise.py', "
        "exclude_methods=['ogm_ge']),\n"
        "    dict(config='configs/dr_mfeat.py', methods=['dr']),\n"
        ']\n'
        "methods = ['jt', 'dr', 'unimodal_aux_loss', 'ogm_ge', 'foo']\n"
        'seeds = [0]\n')
    work = tmp_path / 'work'
    monkeypatch.chdir(REPO)  # the list names configs from the repository
    with pytest.raises(SystemExit) as exit_info:
        run_tool_main('analysis/benchmark.py', [listed, '--work-dir', work],
                      monkeypatch, capsys)
    err = str(exit_info.value.code)
    assert 'benchmark.py: nothing was run:' in err
    assert (f"{listed}, settings[0]: unknown config 'configs/jt_missing.py'; "
            'joint-training configs: jt_avdigits, ') in err
    (unknown, ) = [
        line for line in err.splitlines()
        if line.startswith("unknown method 'foo'; known methods: ")
    ]
    known = unknown.split('known methods: ')[1].split(' (')[0].split(', ')
    assert known[:3] == ['jt', 'dr', 'alone']
    assert {'ogm_ge', 'unimodal_aux_loss'} <= set(known)
    assert ("method 'ogm_ge' cannot train setting 'mfeat' "
            f"({CONFIGS}/jt_mfeat.py): ValueError: OGMGE is defined for at "
            "most 2 modalities, but model.encoders has 3: ['fou', 'kar', "
            "'mor']") in err
    assert 'exclude_methods=[...]' in err
    # The setting that excludes OGM-GE is not reported.
    assert "setting 'mfeat_noise'" not in err
    assert ("setting 'dr_mfeat': method dr needs a jt_<rest>.py config (its "
            f'twin is dr_<rest>.py); {CONFIGS}/dr_mfeat.py is not one') in err
    # Four problems, all named at once.
    assert len(err.split('nothing was run:\n')[1].strip().splitlines()) == 4
    assert not work.exists()


def test_umt_learns_from_the_alone_runs_of_its_setting_and_seed():
    jt = osp.join(CONFIGS, 'jt_mfeat_fou_mor.py')
    runs, _ = plan([Setting('fm', jt)], ['umt', 'jt', 'alone'], [0, 3], 'wd',
                   METHODS)
    names = [r.name for r in runs]
    # The UMT runs wait for their teachers, so they come last.
    assert names == [
        'fm/jt/seed0', 'fm/alone-fou/seed0', 'fm/alone-mor/seed0',
        'fm/jt/seed3', 'fm/alone-fou/seed3', 'fm/alone-mor/seed3',
        'fm/umt/seed0', 'fm/umt/seed3'
    ]
    for run in runs[-2:]:
        assert run.cfg.model.balancer.teachers == {
            m: osp.abspath(f'wd/fm/alone-{m}/seed{run.seed}')
            for m in ('fou', 'mor')
        }
        assert run.needs == (f'fm/alone-fou/seed{run.seed}',
                             f'fm/alone-mor/seed{run.seed}')
    assert all(r.needs == () for r in runs[:-2])
    with pytest.raises(
            BenchmarkError,
            match="method 'umt' on setting 'fm' distils from the encoders "
            'trained alone: add alone to the methods'):
        plan([Setting('fm', jt)], ['jt', 'umt'], [0], 'wd', METHODS)


def test_methods_compose_the_joint_training_config():
    jt = osp.join(CONFIGS, 'jt_mfeat_fou_mor.py')
    options = {'train_cfg.max_epochs': 2}
    runs, skipped = plan([
        Setting('fm', jt, exclude_methods=['dr']),
        Setting('noise', osp.join(CONFIGS, 'jt_mfeat_noise.py'))
    ], ['jt', 'dr', 'unimodal_aux_loss', 'ogm_ge', 'alone'], [0, 3],
                         'wd',
                         METHODS,
                         cfg_options=options,
                         check_models=False)
    assert skipped == {'fm': ['dr'], 'noise': []}
    names = [r.name for r in runs]
    assert names[:8] == [
        'fm/jt/seed0', 'fm/unimodal_aux_loss/seed0', 'fm/ogm_ge/seed0',
        'fm/alone-fou/seed0', 'fm/alone-mor/seed0', 'fm/jt/seed3',
        'fm/unimodal_aux_loss/seed3', 'fm/ogm_ge/seed3'
    ]
    assert runs[0].work_dir == osp.abspath('wd/fm/jt/seed0')
    by_name = {r.name: r.cfg.to_dict() for r in runs}

    def expected(config, extra):
        cfg = Config.fromfile(config)
        cfg.merge_from_dict({**options, **extra})
        return cfg.to_dict()

    fragment = Config.fromfile(osp.join(METHODS, 'unimodal_aux_loss.py'))
    assert by_name['fm/jt/seed0'] == expected(jt, {})
    assert by_name['fm/unimodal_aux_loss/seed3'] == expected(
        jt, fragment.to_dict())
    assert by_name['fm/unimodal_aux_loss/seed3']['model']['balancer'] == dict(
        type='UnimodalAuxLoss', weight=1.0)
    assert by_name['fm/ogm_ge/seed0']['model']['balancer']['type'] == 'OGMGE'
    assert by_name['fm/alone-mor/seed0'] == expected(
        jt, {'model.modalities': ['mor']})
    assert by_name['noise/dr/seed0'] == expected(
        osp.join(CONFIGS, 'dr_mfeat_noise.py'), {})
    assert [n for n in names if n.startswith('noise/alone')] == [
        f'noise/alone-{m}/seed{s}' for s in (0, 3)
        for m in ('fou', 'kar', 'mor')
    ]


def test_interval_cells():
    one = summarize([1.5])
    assert fmt_interval(one, 1) == '+1.50'
    two = summarize([1.0, 2.0])
    assert fmt_interval(two, 2) == '+1.50 [-4.85, +7.85]'
    assert fmt_interval(two, 3) == '+1.50 [-4.85, +7.85] (n=2)'
    assert fmt_interval(None) == '–'


@pytest.mark.parametrize('name', ['cpu', 'paper'])
def test_shipped_lists_compose_and_build(name, monkeypatch):
    import importlib.util

    # As when the script runs: its folder is first on sys.path.
    monkeypatch.syspath_prepend(osp.join(REPO, 'tools', 'analysis'))
    spec = importlib.util.spec_from_file_location(
        'benchmark_tool', osp.join(REPO, 'tools', 'analysis', 'benchmark.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    settings, methods, seeds, problems = tool.load_settings(
        osp.join(CONFIGS, 'benchmark', f'{name}.py'), None)
    assert problems == [] and seeds == [0, 1, 2]
    if name == 'cpu':  # every shipped method, the references included
        assert set(methods) == set(known_methods(METHODS))
    # Every method's model is built on the CPU list's small models; the
    # paper list's (ResNets, transformers) are composed only.
    runs, skipped = plan(
        settings, methods, seeds, 'wd', METHODS, check_models=name == 'cpu')
    three = {'mfeat', 'mfeat_noise'} if name == 'cpu' else {'mosi'}
    two_only = [
        'ogm_ge', 'pmr', 'greedy', 'opm', 'inforeg', 'arl', 'sample_valuation',
        'modality_valuation'
    ] if name == 'cpu' else ['ogm_ge', 'pmr']
    assert skipped == {
        s.name: two_only if s.name in three else []
        for s in settings
    }
    for s in settings:
        got = {r.method for r in runs if r.setting == s.name}
        assert {'jt', 'dr', 'mmpareto', 'unimodal_aux_loss'} <= got
        assert any(m.startswith('alone-') for m in got)


def test_the_best_checkpoint_is_the_one_checkpoint_hook_kept(
        tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO, 'tools', 'analysis'))
    from benchmark_executor import best_checkpoint
    for name in ('epoch_3.pth', 'best_acc_top1_epoch_2.pth',
                 'best_acc_top5_epoch_3.pth'):
        (tmp_path / name).write_bytes(b'')
    assert best_checkpoint(str(tmp_path), 'acc/top1') == str(
        tmp_path / 'best_acc_top1_epoch_2.pth')
    (tmp_path / 'best_acc_top1_epoch_3.pth').write_bytes(b'')
    with pytest.raises(
            RuntimeError,
            match='holds 2 files best_acc_top1_epoch_\\*.pth; expected'):
        best_checkpoint(str(tmp_path), 'acc/top1')
    with pytest.raises(RuntimeError, match='holds 0 files'):
        best_checkpoint(str(tmp_path), 'sentiment/mae')


def test_a_reused_run_that_cannot_be_measured_is_reported_without(
        tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(osp.join(REPO, 'tools', 'analysis'))
    from benchmark_executor import RunExecutor
    cfg = Config.fromfile(osp.join(CONFIGS, 'jt_mfeat.py'))
    run = Run('mfeat', 'jt', 0, cfg, str(tmp_path / 'jt' / 'seed0'))
    os.makedirs(osp.dirname(run.config_file))
    with open(run.config_file, 'w') as f:
        f.write(cfg.dump())
    # An earlier version's result; its checkpoint was removed since.
    earlier = dict(
        setting='mfeat',
        method='jt',
        seed=0,
        metric='acc/top1',
        best_ckpt='best_acc_top1_epoch_2.pth',
        best_epoch=2,
        val=0.5,
        test={'acc/top1': 0.5},
        probe={},
        wall_s=1.0)
    with open(run.result_file, 'w') as f:
        json.dump(earlier, f)
    result, how = RunExecutor('train.py')(run)
    assert (result, how) == (earlier, 'reused')
    assert json.load(open(run.result_file)) == earlier
    assert ('mfeat/jt/seed0: reused without the measures '
            '(FileNotFoundError') in capsys.readouterr().out
