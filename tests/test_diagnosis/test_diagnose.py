"""One D&R diagnosis of several modalities: each argument reaches its
effect."""
import math

import numpy as np
import pytest

import mmdr.diagnosis.side_by_side as side_by_side
from mmdr.diagnosis import clustering_purity, diagnose_modalities


def _sides(seed=0):
    rng = np.random.default_rng(seed)
    labels = {'train': np.repeat(np.arange(3), 10), 'val': np.arange(15) % 3}
    features = {
        side: {
            # 'a' separates the classes on the training side only (a gap),
            # 'b' separates neither.
            'a': (rng.normal(size=(len(y), 4)) +
                  (4 * y[:, None] if side == 'train' else 0)),
            'b':
            rng.normal(size=(len(y), 2)),
        }
        for side, y in labels.items()
    }
    return features, labels


def test_purities_gap_and_strength_of_every_modality():
    features, labels = _sides()
    result = diagnose_modalities(
        features,
        labels, ['a', 'b'],
        num_clusters=3,
        lam=1.5,
        seed=2,
        n_init=3)
    assert list(result) == ['a', 'b']
    for m, stats in result.items():
        for side in ('train', 'val'):
            assert stats[f'{side}_purity'] == clustering_purity(
                features[side][m], labels[side], 3, seed=2, n_init=3)
        assert stats['gap'] == abs(stats['train_purity'] - stats['val_purity'])
        assert stats['strength'] == math.tanh(1.5 * stats['gap'])
    assert result['a']['train_purity'] == 1.0 and result['a']['gap'] > 0.3
    # lam scales the strength only.
    other = diagnose_modalities(
        features, labels, ['a'], num_clusters=3, lam=3.0, seed=2, n_init=3)
    assert other['a']['gap'] == result['a']['gap']
    assert other['a']['strength'] == math.tanh(3.0 * result['a']['gap'])


def test_kmeans_arguments_reach_every_clustering(monkeypatch):
    calls = []

    def recording(features, labels, num_clusters, **kwargs):
        calls.append((num_clusters, kwargs))
        return 0.5

    monkeypatch.setattr(side_by_side, 'clustering_purity', recording)
    features, labels = _sides()
    diagnose_modalities(
        features,
        labels, ['b'],
        num_clusters=4,
        seed=7,
        n_init=2,
        backend='faiss',
        side_by_side=False)
    assert calls == [
        (4, dict(seed=7, n_init=2, backend='faiss', num_threads=None))
    ] * 2


def test_non_finite_features_are_refused_before_any_clustering(monkeypatch):
    monkeypatch.setattr(side_by_side, 'clustering_purity',
                        lambda *args, **kwargs: pytest.fail('clustered'))
    features, labels = _sides()
    features['val']['b'][3, 1] = np.nan
    with pytest.raises(
            FloatingPointError,
            match=r"^DRHook: 1 non-finite values in the val features of "
            r"modality 'b'; no weight was changed\.$"):
        diagnose_modalities(features, labels, ['a', 'b'], num_clusters=3)
