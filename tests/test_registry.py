import pytest
import torch
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import DefaultScope

from mmdr.registry import DATASETS, HOOKS, MODELS, TRANSFORMS
from mmdr.utils import register_all_modules

register_all_modules()


@pytest.mark.parametrize('registry, name, package', [
    (MODELS, 'MultiModalRecognizer', 'mmdr'),
    (MODELS, 'ResNetTSM', 'mmaction'),
    (TRANSFORMS, 'PackActionInputs', 'mmaction'),
    (TRANSFORMS, 'PackMultiModalInputs', 'mmdr'),
    (DATASETS, 'MultipleFeaturesDataset', 'mmdr'),
    (HOOKS, 'ModalityCheckHook', 'mmdr'),
    (HOOKS, 'CheckpointHook', 'mmengine'),
])
def test_one_registry_resolves_each_name_to_its_package(
        registry, name, package):
    """mmdr's registries reach mmaction2's and mmengine's types, and no
    name of theirs is shadowed by another class."""
    assert registry.get(name).__module__.split('.')[0] == package


def test_root_registry_builds_mmdr_types_in_the_mmdr_scope():
    # The Runner builds from mmengine's root registry with the default scope.
    assert DefaultScope.get_current_instance().scope_name == 'mmdr'
    fusion = MMENGINE_MODELS.build(
        dict(type='ConcatFusion', in_dims=dict(a=2, b=3)))
    assert fusion.out_dim == 5


@pytest.mark.parametrize('backbone, shape', [
    (dict(type='ResNet', depth=18, pretrained=None), (1, 2, 3, 32, 32)),
    (dict(type='ResNetTSM', depth=18, num_segments=2, pretrained=None),
     (1, 2, 3, 32, 32)),
])
def test_backbone_is_swapped_by_config_alone(backbone, shape):
    encoder = MODELS.build(
        dict(type='FrameEncoder', backbone=backbone, feat_dim=512))
    assert type(encoder.backbone).__name__ == backbone['type']
    assert encoder(torch.rand(shape)).shape == (1, 512)
