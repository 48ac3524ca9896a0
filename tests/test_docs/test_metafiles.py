"""model-index.yml and the metafiles: every config in exactly one family,
each with its paper, and results equal to the benchmark report they come
from."""
import glob
import os.path as osp
from collections import Counter

import pytest
import yaml
from benchmark_report import benchmark_results
from conftest import REPO


def load_yaml(path: str):
    with open(osp.join(REPO, path), encoding='utf-8') as f:
        return yaml.safe_load(f)


def metafiles() -> list:
    return load_yaml('model-index.yml')['Import']


def all_models() -> list:
    return [
        model for path in metafiles() for model in load_yaml(path)['Models']
    ]


def benchmark_key(config: str) -> tuple:
    """The benchmark's setting and method of a config.

    ``configs/ogm-ge_avdigits.py`` is method ``ogm_ge`` on setting
    ``avdigits``; a ``jt_`` config is the setting itself, ``dr_`` its twin.
    """
    prefix, setting = osp.splitext(osp.basename(config))[0].split('_', 1)
    return setting, prefix.replace('-', '_')


def test_model_index_imports_metafiles_that_parse():
    paths = metafiles()
    assert len(paths) == len(set(paths))
    for path in paths:
        assert path.endswith('/metafile.yml')
        meta = load_yaml(path)
        assert meta['Collections'] and meta['Models'], path


def test_every_config_is_in_exactly_one_metafile():
    listed = Counter(model['Config'] for model in all_models())
    configs = {
        osp.relpath(path, REPO)
        for path in glob.glob(osp.join(REPO, 'configs', '*.py'))
    }
    assert set(listed) == configs
    assert [c for c, n in listed.items() if n > 1] == []


def test_models_name_their_config_and_collection():
    names = [model['Name'] for model in all_models()]
    assert len(names) == len(set(names))
    for path in metafiles():
        meta = load_yaml(path)
        collections = {c['Name'] for c in meta['Collections']}
        for model in meta['Models']:
            assert osp.isfile(osp.join(REPO, model['Config'])), model
            assert model['Name'] == osp.splitext(
                osp.basename(model['Config']))[0]
            assert model['In Collection'] in collections, model


@pytest.mark.parametrize('path', metafiles())
def test_collections_cite_their_paper(path):
    for collection in load_yaml(path)['Collections']:
        paper = collection['Paper']
        assert paper['Title'] and paper['Venue'], collection['Name']
        assert paper['URL'].startswith('https://'), collection['Name']
        assert osp.isfile(osp.join(REPO, collection['README']))


def test_results_are_the_benchmark_report():
    report = benchmark_results()
    listed = set()
    for model in all_models():
        key = benchmark_key(model['Config'])
        if not model['Results']:
            assert key not in report, f'{model["Name"]} has results'
            continue
        listed.add(key)
        mean, std, seeds = report[key]
        (result, ) = model['Results']
        assert result['Task'] == 'Multimodal Classification'
        assert result['Metrics'] == {
            'Top 1 Accuracy': float(mean),
            'Top 1 Accuracy Std': float(std)
        }, model['Name']
        metadata = model['Metadata']
        assert metadata['Seeds'] == seeds
        # Figures name the hardware and versions they were measured on.
        assert 'CPU' in metadata['Training Resources']
        assert 'torch 2.13.0' in metadata['Measured With']
    # Every run of a shipped config in the report is in a metafile.
    shipped = {benchmark_key(model['Config']) for model in all_models()}
    assert listed == set(report) & shipped
