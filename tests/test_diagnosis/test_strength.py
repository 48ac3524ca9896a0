import math

import pytest

from mmdr.diagnosis import purity_gap, relearn_strength


def test_purity_gap():
    assert purity_gap(0.9, 0.6) == pytest.approx(0.3)
    assert purity_gap(0.6, 0.9) == pytest.approx(0.3)
    assert purity_gap(0.5, 0.5) == 0.0


def test_purity_gap_invalid():
    with pytest.raises(ValueError, match='train_purity'):
        purity_gap(float('nan'), 0.5)
    with pytest.raises(ValueError, match='val_purity'):
        purity_gap(0.5, 1.5)


@pytest.mark.parametrize('gap, expected', [(0.05, 0.149), (0.1, 0.291),
                                           (0.2, 0.537), (0.3, 0.716)])
def test_relearn_strength_method_values(gap, expected):
    # Values quoted in METHOD.md for lambda = 3.
    assert round(relearn_strength(gap, lam=3.0), 3) == expected
    assert round(relearn_strength(gap), 3) == expected


def test_relearn_strength_range():
    assert relearn_strength(0.0) == 0.0
    assert relearn_strength(0.3, lam=0.0) == 0.0
    assert relearn_strength(0.5, lam=2.0) == pytest.approx(math.tanh(1.0))
    assert 0.0 <= relearn_strength(1.0) < 1.0


def test_relearn_strength_invalid():
    with pytest.raises(ValueError, match='lam'):
        relearn_strength(0.1, lam=-1.0)
    with pytest.raises(ValueError, match='gap'):
        relearn_strength(-0.1)
    with pytest.raises(ValueError, match='gap'):
        relearn_strength(float('nan'))
    with pytest.raises(ValueError, match='gap'):
        relearn_strength(float('inf'))
