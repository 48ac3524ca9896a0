"""Benchmark statistics against values computed by hand (t quantiles from
tables: t_{0.975} with 1, 2, 3 degrees of freedom = 12.7062, 4.3027,
3.1824)."""
import math

import pytest

from mmdr.analysis import (imbalance, paired_difference, paired_differences,
                           paired_ratio, summarize)


def test_mean_std_and_t_interval():
    # Mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, std
    # sqrt(5 / 3) = 1.29099; half-width 3.18245 * 1.29099 / 2 = 2.05426.
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s.n == 4
    assert s.mean == pytest.approx(2.5)
    assert s.std == pytest.approx(1.290994, abs=1e-6)
    assert s.low == pytest.approx(0.445740, abs=1e-5)
    assert s.high == pytest.approx(4.554260, abs=1e-5)
    # 90 %: t_{0.95, 3} = 2.35336, half-width 1.51909.
    s90 = summarize([1.0, 2.0, 3.0, 4.0], confidence=0.9)
    assert s90.high - s90.mean == pytest.approx(1.519090, abs=1e-5)


def test_two_values_use_one_degree_of_freedom():
    # Mean 1.5, std 0.70711, half-width 12.7062 * 0.70711 / sqrt(2) = 6.3531.
    s = summarize([1.0, 2.0])
    assert (s.low, s.high) == (pytest.approx(-4.853102, abs=1e-5),
                               pytest.approx(7.853102, abs=1e-5))


def test_one_value_has_no_spread():
    s = summarize([0.7])
    assert s.mean == 0.7 and s.n == 1
    assert math.isnan(s.std) and math.isnan(s.low) and math.isnan(s.high)


def test_paired_difference_uses_the_common_seeds():
    method = {0: 0.90, 1: 0.80, 2: 0.85}
    jt = {0: 0.85, 1: 0.82, 2: 0.80, 3: 0.70}
    diffs = paired_differences(method, jt)
    assert list(diffs) == [0, 1, 2]
    assert [round(d, 10) for d in diffs.values()] == [0.05, -0.02, 0.05]
    # Mean 0.08 / 3 = 0.026667; squared deviations 2 * 0.023333^2 +
    # 0.046667^2 = 0.0032667, std sqrt(0.0032667 / 2) = 0.040415;
    # half-width 4.30265 * 0.040415 / sqrt(3) = 0.100396.
    s = paired_difference(method, jt)
    assert s.n == 3
    assert s.mean == pytest.approx(0.026667, abs=1e-6)
    assert s.std == pytest.approx(0.040415, abs=1e-6)
    assert s.high - s.mean == pytest.approx(0.100396, abs=1e-6)
    assert paired_difference({0: 1.0}, {1: 1.0}) is None


def test_imbalance_is_alone_minus_method():
    # The encoder trained alone probes 80 / 78 %, under the method 70 /
    # 74 %: 10 and 4 points behind, mean 7, std 4.24264, half-width
    # 12.7062 * 3 = 38.1186.
    s = imbalance({0: 80.0, 1: 78.0}, {0: 70.0, 1: 74.0})
    assert s.mean == pytest.approx(7.0)
    assert s.std == pytest.approx(4.242641, abs=1e-6)
    assert s.low == pytest.approx(7.0 - 38.118614, abs=1e-5)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match='non-empty 1-D'):
        summarize([])
    with pytest.raises(ValueError, match=r'confidence=1.5'):
        summarize([1.0, 2.0], confidence=1.5)


def test_paired_ratio():
    # Ratios 2.0 and 1.5 (seed 2 has no partner, seed 3 a zero time): mean
    # 1.75, std 0.35355, half-width 12.7062 * 0.35355 / sqrt(2) = 3.17655.
    s = paired_ratio({0: 4.0, 1: 3.0, 2: 1.0, 3: 1.0}, {0: 2.0, 1: 2.0, 3: 0})
    assert (s.n, s.mean) == (2, pytest.approx(1.75))
    assert s.high == pytest.approx(1.75 + 3.17655, abs=1e-4)
    assert paired_ratio({0: 1.0}, {1: 1.0}) is None
