import copy
from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from sklearn.metrics import f1_score

from mmdr.registry import METRICS


@METRICS.register_module()
class F1Metric(BaseMetric):
    """F1 scores of single-label classification (mmaction2 has none).

    The reference code of D&R prints accuracy, macro-F1 and weighted F1;
    this metric gives the two F1 scores from the same predictions that
    mmaction2's ``AccMetric`` reads (``pred_scores`` and ``gt_labels`` of
    each data sample), with scikit-learn's ``f1_score``. Classes missing
    from both the labels and the predictions of a split do not count
    (scikit-learn's ``labels=None``), so a small split is not punished for
    classes it lacks.

    Results: ``f1/macro`` (the unweighted mean over classes) and
    ``f1/weighted`` (weighted by each class's support), in [0, 1].

    Args:
        average (str | Sequence[str]): Any of ``'macro'`` and
            ``'weighted'``. Defaults to both.
        collect_device (str): Device for collecting results across ranks.
            Defaults to ``'cpu'``.
        prefix (str): Prefix of the result keys. Defaults to ``'f1'``.
    """

    default_prefix = 'f1'
    AVERAGES = ('macro', 'weighted')

    def __init__(self,
                 average: Union[str, Sequence[str]] = ('macro', 'weighted'),
                 collect_device: str = 'cpu',
                 prefix: str = 'f1') -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        averages = (average, ) if isinstance(average, str) else tuple(average)
        unknown = [a for a in averages if a not in self.AVERAGES]
        if unknown or not averages:
            raise ValueError(f'F1Metric: average={average!r}; choose any of '
                             f'{self.AVERAGES}')
        self.averages = averages

    def process(self, data_batch: Sequence[Tuple[Any, Dict]],
                data_samples: Sequence[Dict]) -> None:
        """Keep each sample's predicted and true class.

        Args:
            data_batch (Sequence[dict]): A batch from the dataloader.
            data_samples (Sequence[dict]): The model's outputs.
        """
        for sample in copy.deepcopy(data_samples):
            label = sample['gt_labels']['item']
            if label.numel() != 1:
                raise ValueError('F1Metric scores single-label '
                                 f'classification, got labels {label}')
            scores = sample['pred_scores']['item']
            self.results.append(
                (int(scores.argmax().item()), int(label.item())))

    def compute_metrics(self, results: List[Tuple[int, int]]) -> Dict:
        """Compute the F1 scores.

        Args:
            results (list[tuple[int, int]]): ``(prediction, label)`` pairs
                of every rank.

        Returns:
            dict[str, float]: ``macro`` and/or ``weighted``.
        """
        preds, labels = np.array(results).T
        return {
            average:
            float(f1_score(labels, preds, average=average, zero_division=0))
            for average in self.averages
        }
