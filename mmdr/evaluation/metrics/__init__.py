from .f1_metric import F1Metric
from .sentiment_metric import SentimentMetric

__all__ = ['F1Metric', 'SentimentMetric']
