import numpy as np
import pytest
import torch

from mmdr.datasets.transforms import PackMultiModalInputs


def _sample():
    return dict(
        audio=np.ones((1, 4, 3), dtype=np.float32),
        visual=np.zeros((2, 3, 5, 5), dtype=np.float32),
        label=7,
        sample_idx=11,
        modalities=('audio', 'visual'))


def test_packs_the_sample_modalities():
    packed = PackMultiModalInputs()(_sample())
    assert set(packed['inputs']) == {'audio', 'visual'}
    assert packed['inputs']['audio'].shape == (1, 4, 3)
    assert torch.equal(packed['inputs']['visual'], torch.zeros(2, 3, 5, 5))
    sample = packed['data_samples']
    assert sample.gt_labels.item.tolist() == [7]
    assert sample.metainfo == dict(sample_idx=11)


def test_explicit_keys_and_missing_modality():
    packed = PackMultiModalInputs(keys=('audio', ))(_sample())
    assert list(packed['inputs']) == ['audio']
    with pytest.raises(
            KeyError, match=r"sample 11 lacks the modalities \['text'\]"):
        PackMultiModalInputs(keys=('audio', 'text'))(_sample())
    sample = _sample()
    del sample['modalities']
    with pytest.raises(KeyError, match='names no "modalities"'):
        PackMultiModalInputs()(sample)
