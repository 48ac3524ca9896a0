import pytest
import torch
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import DefaultScope

from mmdr.registry import DATASETS, HOOKS, MODELS, TRANSFORMS
from mmdr.utils import register_all_modules

register_all_modules()


def test_mmdr_and_mmaction_types_from_one_registry():
    assert MODELS.get('MultiModalRecognizer').__module__.startswith('mmdr.')
    assert MODELS.get('ResNetTSM').__module__.startswith('mmaction.')
    assert TRANSFORMS.get('PackActionInputs').__module__.startswith(
        'mmaction.')
    assert TRANSFORMS.get('PackMultiModalInputs').__module__.startswith(
        'mmdr.')
    assert DATASETS.get('MultipleFeaturesDataset') is not None
    assert HOOKS.get('ModalityCheckHook') is not None
    assert HOOKS.get('CheckpointHook') is not None  # mmengine's


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
