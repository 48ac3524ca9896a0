"""Per-sample correctness of every coalition of modalities, against the
model's own prediction with a modality's features or input zeroed."""
import copy

import pytest
import torch
from balancer_models import batch, build

from mmdr.analysis.modality_shapley import (coalition_correctness,
                                            predicted_labels)
from mmdr.analysis.shapley import coalitions
from mmdr.utils import register_all_modules


@pytest.fixture
def model():
    register_all_modules()
    return build(seed=3).eval()


def _labels(data):
    return torch.stack([s.gt_labels.item
                        for s in data['data_samples']]).view(-1)


def test_zero_features_drop_the_modality_from_the_head(model):
    batches = [batch(12, seed=1), batch(5, seed=2)]
    correct, labels = coalition_correctness(model, batches, 'features')
    assert list(correct) == coalitions(['audio', 'visual'])
    weight = model.cls_head.fc_cls.weight
    bias = model.cls_head.fc_cls.bias
    expected = {c: [] for c in correct}
    for data in batches:
        feats = model.extract_modality_features(data)
        for c in correct:
            # The concatenation of the features, a missing one zero,
            # through the linear head.
            fused = torch.cat([
                feats[m] if m in c else torch.zeros_like(feats[m])
                for m in ('audio', 'visual')
            ], 1)
            hits = (fused @ weight.t() + bias).argmax(1) == _labels(data)
            expected[c] += hits.tolist()
    for c in correct:
        assert correct[c].tolist() == [float(x) for x in expected[c]]
    assert labels.tolist() == torch.cat([_labels(d) for d in batches]).tolist()
    # With every modality: the model's prediction.
    predicted = [
        s.pred_labels.item.item() == s.gt_labels.item.item()
        for s in model.test_step(batches[0]) + model.test_step(batches[1])
    ]
    assert correct[frozenset(['audio', 'visual'])].tolist() == predicted


def test_zero_inputs_as_balancebenchmark(model):
    data = batch(12, seed=1)
    correct, _ = coalition_correctness(model, [data], 'inputs')
    for c in correct:
        zeroed = copy.deepcopy(data)
        for m in ('audio', 'visual'):
            if m not in c:
                zeroed['inputs'][m] = [
                    torch.zeros_like(x) for x in zeroed['inputs'][m]
                ]
        predicted = [
            s.pred_labels.item.item() == s.gt_labels.item.item()
            for s in model.test_step(zeroed)
        ]
        assert correct[c].tolist() == predicted


def test_unknown_replacement(model):
    with pytest.raises(
            ValueError,
            match="replace='mean': a missing "
            'modality is replaced by zero features or inputs'):
        coalition_correctness(model, [batch()], 'mean')


def test_the_clips_of_a_sample_are_averaged_as_the_head_predicts(model):
    # Two samples of three clips: sample 0's clips favour classes 1, 1, 2
    # (probabilities averaged: 1), sample 1's 3, 0 and 0 faintly (0 wins
    # two to one but 3 by far: its averaged probability is the largest).
    scores = torch.zeros(6, 4)
    scores[0, 1] = scores[1, 1] = scores[2, 2] = 2.
    scores[3, 3] = 20.
    scores[4, 0] = scores[5, 0] = 0.1
    assert predicted_labels(model, scores, 2).tolist() == [1, 3]
    samples = model.cls_head.predict_by_feat(scores, batch(2)['data_samples'])
    assert [s.pred_labels.item.item() for s in samples] == [1, 3]
