import pytest
import torch
from mmaction.structures import ActionDataSample

from mmdr.registry import METRICS
from mmdr.utils import register_all_modules

register_all_modules()


def _samples(preds, labels, num_classes=3):
    samples = []
    for pred, label in zip(preds, labels):
        sample = ActionDataSample().set_gt_labels(label)
        scores = torch.full((num_classes, ), 0.1)
        scores[pred] = 0.8
        sample.set_pred_score(scores)
        samples.append(sample.to_dict())
    return samples


def test_macro_and_weighted_f1_by_hand():
    # Class 0: tp 2, fp 1, fn 0 -> F1 0.8; class 1: tp 1, fp 1, fn 1 ->
    # 0.5; class 2: tp 0, fp 0, fn 1 -> 0.
    preds = [0, 0, 0, 1, 1]
    labels = [0, 0, 1, 1, 2]
    metric = METRICS.build(dict(type='F1Metric'))
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    metric.process({}, _samples(preds, labels))
    results = metric.evaluate(len(preds))
    assert results['f1/macro'] == pytest.approx((0.8 + 0.5 + 0) / 3)
    # Supports 2, 2, 1 of 5.
    assert results['f1/weighted'] == pytest.approx((2 * 0.8 + 2 * 0.5 + 0) / 5)


def test_one_average_and_bad_arguments():
    metric = METRICS.build(dict(type='F1Metric', average='macro'))
    metric.process({}, _samples([1, 1], [1, 1]))
    assert metric.evaluate(2) == {'f1/macro': 1.0}
    with pytest.raises(ValueError, match="average='micro'"):
        METRICS.build(dict(type='F1Metric', average='micro'))
