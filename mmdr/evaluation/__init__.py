# mmaction2's metrics (AccMetric, ...) are used by mmdr's configs.
import mmaction.evaluation  # noqa: F401

from .metrics import F1Metric, SentimentMetric

__all__ = ['F1Metric', 'SentimentMetric']
