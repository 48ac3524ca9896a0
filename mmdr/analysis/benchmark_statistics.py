"""Statistics of a benchmark over seeds (pure numpy/scipy): mean and spread,
paired differences between two methods run with the same seeds, and the
imbalance of a modality (its encoder's probe when trained alone minus its
probe under a multimodal method, same seed).

Seeds pair the runs: the same seed gives both methods the same
initialisation of the shared parts and the same data order, so the
per-seed difference removes the variance the methods share (Dietterich,
"Approximate statistical tests for comparing supervised classification
learning algorithms", 1998, on paired designs). The interval is Student's
t-interval of the mean difference, ``mean +- t_{(1+c)/2, n-1} s / sqrt(n)``.
"""
import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Summary:
    """Mean of values over seeds, their spread and a confidence interval.

    Attributes:
        mean (float): Mean.
        std (float): Sample standard deviation (``ddof=1``); nan for one
            value.
        n (int): Number of values.
        low (float): Lower end of the t-interval of the mean; nan for one
            value.
        high (float): Upper end; nan for one value.
    """
    mean: float
    std: float
    n: int
    low: float
    high: float


def summarize(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """Mean, sample standard deviation and t-interval of the mean.

    Args:
        values (Sequence[float]): One value per seed.
        confidence (float): Coverage of the interval. Defaults to 0.95.

    Returns:
        Summary: With ``std``, ``low`` and ``high`` nan for fewer than two
        values (no spread can be estimated from one).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError('summarize needs a non-empty 1-D sequence, got '
                         f'shape {values.shape}')
    if not 0 < confidence < 1:
        raise ValueError(f'confidence={confidence} must lie in (0, 1)')
    n = len(values)
    mean = float(values.mean())
    if n < 2:
        return Summary(mean, math.nan, n, math.nan, math.nan)
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
    return Summary(mean, std, n, mean - half, mean + half)


def paired_differences(first: Dict[int, float],
                       second: Dict[int, float]) -> Dict[int, float]:
    """Per-seed differences ``first - second`` over the seeds both have.

    Args:
        first (dict[int, float]): Seed to value.
        second (dict[int, float]): Seed to value.

    Returns:
        dict[int, float]: Seed to difference, in seed order.
    """
    return {
        seed: first[seed] - second[seed]
        for seed in sorted(set(first) & set(second))
    }


def paired_difference(first: Dict[int, float],
                      second: Dict[int, float],
                      confidence: float = 0.95) -> Optional[Summary]:
    """Mean paired difference ``first - second`` and its t-interval.

    Args:
        first (dict[int, float]): Seed to value (e.g. a method's test
            accuracy).
        second (dict[int, float]): Seed to value (e.g. joint training's).
        confidence (float): Coverage of the interval. Defaults to 0.95.

    Returns:
        Summary, optional: None when no seed is in both.
    """
    diffs = paired_differences(first, second)
    if not diffs:
        return None
    return summarize(list(diffs.values()), confidence)


def imbalance(alone_probe: Dict[int, float],
              method_probe: Dict[int, float],
              confidence: float = 0.95) -> Optional[Summary]:
    """How far a method leaves a modality's encoder behind training it alone.

    The paper's measure of imbalance (Wei et al., ECCV 2024, Fig. 1b/c):
    the uni-modal probe accuracy of the encoder trained alone minus that of
    the same encoder trained under the multimodal method, paired by seed.
    Positive: the multimodal method under-trains the encoder.

    Args:
        alone_probe (dict[int, float]): Seed to the probe accuracy of the
            encoder trained alone.
        method_probe (dict[int, float]): Seed to the probe accuracy of the
            encoder under the method.
        confidence (float): Coverage of the interval. Defaults to 0.95.

    Returns:
        Summary, optional: None when no seed is in both.
    """
    return paired_difference(alone_probe, method_probe, confidence)


def paired_ratio(first: Dict[int, float],
                 second: Dict[int, float],
                 confidence: float = 0.95) -> Optional[Summary]:
    """Mean per-seed ratio ``first / second`` and its t-interval (e.g. a
    method's training time per epoch over joint training's, same seed).

    Args:
        first (dict[int, float]): Seed to value.
        second (dict[int, float]): Seed to value; seeds where it is not
            positive are left out.
        confidence (float): Coverage of the interval. Defaults to 0.95.

    Returns:
        Summary, optional: None when no seed is in both.
    """
    ratios = [
        first[seed] / second[seed]
        for seed in sorted(set(first) & set(second)) if second[seed] > 0
    ]
    if not ratios:
        return None
    return summarize(ratios, confidence)
