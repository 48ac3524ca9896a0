"""What every balancer inherits from BaseBalancer.check_model: a model with
more modalities than the method is defined for is refused at build, and
the benchmark excludes such methods from three-modality settings."""
import os.path as osp
from glob import glob

import pytest
from balancer_models import THREE_ENCODERS, build
from conftest import REPO
from mmengine.config import Config

from mmdr.models.balancers import BaseBalancer
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()

METHODS_DIR = osp.join(REPO, 'configs', '_base_', 'methods')


def _balancer_classes() -> dict:
    return {
        name: cls
        for name, cls in MODELS.module_dict.items()
        if isinstance(cls, type) and issubclass(cls, BaseBalancer)
    }


TWO_MODALITY_CLASSES = sorted(name
                              for name, cls in _balancer_classes().items()
                              if cls.max_modalities == 2)

#: The balancer each method fragment switches on, by method name.
FRAGMENT_BALANCERS = {
    osp.splitext(osp.basename(path))[0]:
    Config.fromfile(path).model.balancer.to_dict()
    for path in sorted(glob(osp.join(METHODS_DIR, '*.py')))
}

TWO_MODALITY_METHODS = sorted(
    method for method, balancer in FRAGMENT_BALANCERS.items()
    if balancer['type'] in TWO_MODALITY_CLASSES)


def test_the_two_modality_methods_are_the_papers_ones():
    # A method joins this list only when its paper and code define it for
    # an audio and a visual branch; a change here is a change of the docs.
    assert TWO_MODALITY_CLASSES == [
        'ARL', 'Greedy', 'InfoReg', 'OGMGE', 'OPM', 'PMR', 'SampleValuation'
    ]


@pytest.mark.parametrize('method', TWO_MODALITY_METHODS)
def test_three_modalities_are_refused_at_build_naming_them(method):
    balancer = FRAGMENT_BALANCERS[method]
    with pytest.raises(
            ValueError,
            match=f"{balancer['type']} is defined for at most 2 modalities, "
            r"but model.encoders has 3: \['audio', 'visual', 'text'\]"):
        build(encoders=THREE_ENCODERS, balancer=balancer)


def test_the_benchmark_excludes_exactly_the_two_modality_methods():
    benchmark = Config.fromfile(osp.join(REPO, 'configs/benchmark/cpu.py'))
    assert sorted(benchmark.two_modality_only) == TWO_MODALITY_METHODS
    for setting in benchmark.settings:
        config = Config.fromfile(osp.join(REPO, setting['config']))
        if len(config.model.encoders) > 2:
            assert set(setting.get(
                'exclude_methods',
                ())) >= set(TWO_MODALITY_METHODS), setting['config']
