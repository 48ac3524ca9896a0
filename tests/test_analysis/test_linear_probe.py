import numpy as np
import pytest

from mmdr.analysis import fit_linear_probe


def _blobs(num, separation, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, num)
    centres = separation * np.eye(3, 5)
    return centres[labels] + rng.standard_normal((num, 5)), labels


def test_probe_scores_each_evaluation_set():
    train = _blobs(300, 6.0, 0)
    scores = fit_linear_probe(*train, {
        'val': _blobs(100, 6.0, 1),
        'noise': _blobs(100, 0.0, 2)
    })
    assert list(scores) == ['val', 'noise']
    # Separable classes are found; class-free features are at chance.
    assert scores['val'] > 0.95
    assert scores['noise'] < 0.6


def test_probe_is_deterministic():
    train, val = _blobs(200, 1.0, 3), _blobs(100, 1.0, 4)
    first = fit_linear_probe(*train, {'val': val})
    assert first == fit_linear_probe(*train, {'val': val})
    assert 0.4 < first['val'] < 0.95


def test_probe_refuses_mismatched_widths():
    train = _blobs(50, 1.0, 0)
    with pytest.raises(ValueError):
        fit_linear_probe(*train, {'val': (np.zeros((5, 4)), np.zeros(5))})
