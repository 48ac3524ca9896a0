import math

import pytest
import torch
from mmaction.structures import ActionDataSample

from mmdr.evaluation import SentimentMetric
from mmdr.registry import METRICS
from mmdr.utils import register_all_modules

register_all_modules()

BINARY_KEYS = {
    'acc2', 'f1_weighted', 'f1_macro', 'acc2_nonzero', 'f1_weighted_nonzero',
    'f1_macro_nonzero'
}


def _sample(truth, scores):
    sample = ActionDataSample().set_gt_labels(int(truth >= 0))
    sample.set_metainfo(dict(sentiment=truth, sample_idx=0))
    sample.set_pred_score(torch.tensor(scores, dtype=torch.float32))
    return sample.to_dict()


def _one_hot(cls, num):
    scores = [0.0] * num
    scores[cls] = 1.0
    return scores


def _evaluate(truths, preds):
    metric = METRICS.build(dict(type='SentimentMetric'))
    metric.process({}, [_sample(t, p) for t, p in zip(truths, preds)])
    results = metric.evaluate(len(truths))
    assert all(key.startswith('sentiment/') for key in results)
    return {key.split('/', 1)[1]: value for key, value in results.items()}


def test_regressed_scores_by_hand():
    truth = [-2.0, -0.6, 0.0, 0.4, 1.2, 2.8]
    pred = [-1.0, 0.2, -0.3, 0.0, 1.6, 2.4]
    r = _evaluate(truth, [[p] for p in pred])
    assert set(r) == BINARY_KEYS | {'acc7', 'mae', 'corr'}
    # >= 0: truth 001111, pred 010111.
    assert r['acc2'] == pytest.approx(4 / 6)
    # Class 0: tp 1, fp 1, fn 1 -> 0.5; class 1: tp 3, fp 1, fn 1 -> 0.75.
    assert r['f1_macro'] == pytest.approx((0.5 + 0.75) / 2)
    assert r['f1_weighted'] == pytest.approx((2 * 0.5 + 4 * 0.75) / 6)
    # True 0 left out; > 0: truth 00111, pred 01011 (a predicted 0 is not
    # positive).
    assert r['acc2_nonzero'] == pytest.approx(3 / 5)
    # Class 0: tp 1, fp 1, fn 1 -> 0.5; class 1: tp 2, fp 1, fn 1 -> 2/3.
    assert r['f1_macro_nonzero'] == pytest.approx((0.5 + 2 / 3) / 2)
    assert r['f1_weighted_nonzero'] == pytest.approx((2 * 0.5 + 3 * 2 / 3) / 5)
    # Rounded pred -1 0 -0 0 2 2 against truth -2 -1 0 0 1 3.
    assert r['acc7'] == pytest.approx(2 / 6)
    assert r['mae'] == pytest.approx((1.0 + 0.8 + 0.3 + 0.4 + 0.4 + 0.4) / 6)
    mx, my = sum(pred) / 6, sum(truth) / 6
    cov = sum((x - mx) * (y - my) for x, y in zip(pred, truth))
    var_x = sum((x - mx)**2 for x in pred)
    var_y = sum((y - my)**2 for y in truth)
    assert r['corr'] == pytest.approx(cov / math.sqrt(var_x * var_y), rel=1e-6)


def test_acc7_clips_and_rounds_half_to_even():
    # clip(-4.2) = -3, clip(3.6) = 3 = round(2.6); 0.5 -> 0, 1.5 -> 2,
    # 2.5 -> 2 = round(2.4); 1.4 -> 1 misses round(1.6) = 2.
    truth = [-3.0, 2.6, 0.0, 2.0, 2.4, 1.6]
    pred = [[-4.2], [3.6], [0.5], [1.5], [2.5], [1.4]]
    assert _evaluate(truth, pred)['acc7'] == pytest.approx(5 / 6)


def test_seven_classes_by_hand():
    truth = [-2.2, -0.4, 0.0, 0.6, 2.5, 1.0]
    classes = [1, 3, 3, 4, 6, 0]  # scores -2 0 0 1 3 -3
    r = _evaluate(truth, [_one_hot(c, 7) for c in classes])
    assert set(r) == BINARY_KEYS | {'acc7'}
    # >= 0: truth 001111, pred 011110.
    assert r['acc2'] == pytest.approx(4 / 6)
    assert r['f1_macro'] == pytest.approx((0.5 + 0.75) / 2)
    assert r['f1_weighted'] == pytest.approx((2 * 0.5 + 4 * 0.75) / 6)
    # > 0 without the true 0: truth 00111, pred 00110.
    assert r['acc2_nonzero'] == pytest.approx(4 / 5)
    # Class 0: tp 2, fp 1 -> 0.8; class 1: tp 2, fn 1 -> 0.8.
    assert r['f1_macro_nonzero'] == pytest.approx(0.8)
    assert r['f1_weighted_nonzero'] == pytest.approx(0.8)
    # Truth rounds to -2 -0 0 1 2 1 (2.5 -> 2).
    assert r['acc7'] == pytest.approx(4 / 6)


def test_binary_classes_by_hand():
    truth = [-1.0, -0.2, 0.0, 0.8, 2.0]
    classes = [0, 1, 1, 0, 1]
    r = _evaluate(truth, [_one_hot(c, 2) for c in classes])
    assert set(r) == BINARY_KEYS
    # Truth >= 0: 00111.
    assert r['acc2'] == pytest.approx(3 / 5)
    # Class 0: tp 1, fp 1, fn 1 -> 0.5; class 1: tp 2, fp 1, fn 1 -> 2/3.
    assert r['f1_macro'] == pytest.approx((0.5 + 2 / 3) / 2)
    assert r['f1_weighted'] == pytest.approx((2 * 0.5 + 3 * 2 / 3) / 5)
    # Without the true 0: truth 0011, pred 0101.
    assert r['acc2_nonzero'] == pytest.approx(2 / 4)
    assert r['f1_macro_nonzero'] == pytest.approx(0.5)
    assert r['f1_weighted_nonzero'] == pytest.approx(0.5)


def test_undefined_values_are_nan():
    r = _evaluate([0.0, 0.0, 0.0], [[0.5], [0.5], [0.5]])
    assert r['acc2'] == 1.0 and r['acc7'] == 1.0
    assert math.isnan(r['acc2_nonzero']) and math.isnan(r['f1_macro_nonzero'])
    assert math.isnan(r['corr'])


def test_bad_samples_are_named():
    metric = SentimentMetric()
    sample = ActionDataSample().set_pred_score(torch.zeros(2)).to_dict()
    with pytest.raises(KeyError, match="meta_keys=\\('sample_idx', "):
        metric.process({}, [sample])
    with pytest.raises(ValueError, match='a prediction of 3 values'):
        metric.process({}, [_sample(1.0, [0.0, 1.0, 0.0])])
    metric.process({}, [_sample(1.0, [0.3]), _sample(-1.0, [0.0, 1.0])])
    with pytest.raises(ValueError, match="different kinds.*'binary', 'score'"):
        metric.evaluate(2)
