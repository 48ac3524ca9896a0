from .f1_metric import F1Metric

__all__ = ['F1Metric']
