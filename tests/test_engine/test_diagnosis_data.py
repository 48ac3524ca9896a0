import numpy as np
import pytest
from mmengine.dataset import BaseDataset
from torch.utils.data import Subset

from mmdr.engine.diagnosis_data import _subset


class NumberDataset(BaseDataset):
    """Ten samples ``{'x': i}`` with an identity pipeline."""

    def load_data_list(self):
        return [dict(x=i) for i in range(10)]


@pytest.mark.parametrize('serialize_data', [True, False])
def test_subset_keeps_the_samples_and_the_pipeline(serialize_data):
    dataset = NumberDataset(
        pipeline=[lambda results: results], serialize_data=serialize_data)
    pipeline = dataset.pipeline
    # What a freed object's address left in mmengine's shared deep-copy
    # memo (a mutable default argument): get_subset would return this stale
    # copy in place of the pipeline that now has that address.
    shared_memo = BaseDataset._copy_without_annotation.__defaults__[0]
    shared_memo[id(pipeline)] = 'a stale copy'
    try:
        subset = _subset(dataset, [7, 2, 5])
    finally:
        shared_memo.pop(id(pipeline), None)
    assert [subset[i]['x'] for i in range(len(subset))] == [7, 2, 5]
    assert subset.pipeline is pipeline


def test_subset_of_a_plain_dataset_is_a_torch_subset():
    data = np.arange(5)
    subset = _subset(data, [4, 0])
    assert isinstance(subset, Subset) and list(subset) == [4, 0]
