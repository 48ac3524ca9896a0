from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
from mmengine.evaluator import BaseMetric
from sklearn.metrics import f1_score

from mmdr.registry import METRICS

# What a prediction holds, by its number of values.
SCORE, BINARY, SEVEN = 'score', 'binary', 'seven'
_KINDS = {1: SCORE, 2: BINARY, 7: SEVEN}


@METRICS.register_module()
class SentimentMetric(BaseMetric):
    """The sentiment metrics of the CMU-MOSI/MOSEI literature.

    Reads from each data sample the true score ``sentiment`` (metainfo;
    pack it with ``PackMultiModalInputs(meta_keys=(..., 'sentiment'))``)
    and the prediction ``pred_scores['item']``: one value is a regressed
    score; two are the binary task's class scores (0 negative, 1
    non-negative); seven the seven-class task's (class c is score c - 3).
    Class scores are read by their argmax.

    Binary polarity comes in the literature's two conventions:

    * all samples, negative (< 0) against non-negative (>= 0): ``acc2``,
      ``f1_weighted``, ``f1_macro``;
    * samples whose true score is 0 excluded, negative (< 0) against
      positive (> 0), as the Multimodal Transformer reports: ``acc2_nonzero``,
      ``f1_weighted_nonzero`` (MulT's F1), ``f1_macro_nonzero``.

    A predicted score (or seven-class class - 3) is negative under both
    conventions when < 0 and positive under the second when > 0, so a
    predicted 0 counts as non-negative in the first and as not positive in
    the second (MulT's ``preds > 0``). A binary-class prediction is its own
    polarity in both.

    Keys (under the prefix ``sentiment``):

    * every prediction: the six binary keys above;
    * scores and seven classes: ``acc7``, rounded ``clip(pred, -3, 3)``
      (class - 3) against rounded ``clip(true, -3, 3)``;
    * scores: ``mae`` and ``corr`` (Pearson's r; NaN when either side is
      constant).

    Accuracies and F1 are in [0, 1]; F1 counts the classes present in the
    truth or the predictions (scikit-learn's ``labels=None``). A convention
    that keeps no sample (every true score 0) gives NaN. Rounding is half
    to even (numpy's ``round``, as MulT's evaluation).

    Args:
        collect_device (str): Device for collecting results across ranks.
            Defaults to ``'cpu'``.
        prefix (str): Prefix of the result keys. Defaults to
            ``'sentiment'``.
    """

    default_prefix = 'sentiment'

    def __init__(self,
                 collect_device: str = 'cpu',
                 prefix: str = 'sentiment') -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch: Sequence[Tuple[Any, Dict]],
                data_samples: Sequence[Dict]) -> None:
        """Keep each sample's true score and prediction.

        Args:
            data_batch (Sequence[dict]): A batch from the dataloader.
            data_samples (Sequence[dict]): The model's outputs.
        """
        for sample in data_samples:
            if 'sentiment' not in sample:
                raise KeyError(
                    'SentimentMetric needs the true score in the data '
                    "sample's metainfo: pack it with PackMultiModalInputs("
                    "meta_keys=('sample_idx', 'sentiment'))")
            scores = sample['pred_scores']['item'].detach().cpu().reshape(-1)
            kind = _KINDS.get(scores.numel())
            if kind is None:
                raise ValueError(
                    f'SentimentMetric: a prediction of {scores.numel()} '
                    'values; expected 1 (a score), 2 (binary classes) or 7 '
                    '(seven classes)')
            pred = (
                float(scores.item())
                if kind == SCORE else int(scores.argmax().item()))
            self.results.append((kind, float(sample['sentiment']), pred))

    def compute_metrics(self, results: List[Tuple[str, float, float]]) -> Dict:
        """Compute the metrics.

        Args:
            results (list[tuple]): ``(kind, true score, prediction)`` of
                every rank.

        Returns:
            dict[str, float]: The metrics of the prediction's kind.
        """
        kinds = {kind for kind, _, _ in results}
        if len(kinds) != 1:
            raise ValueError('SentimentMetric: predictions of different '
                             f'kinds in one evaluation: {sorted(kinds)}')
        kind = kinds.pop()
        truth = np.array([true for _, true, _ in results], dtype=np.float64)
        pred = np.array([p for _, _, p in results], dtype=np.float64)
        if kind == BINARY:
            # The class is the polarity under both conventions.
            pred_nonneg = pred_pos = pred.astype(bool)
        else:
            if kind == SEVEN:
                pred = pred - 3
            pred_nonneg, pred_pos = pred >= 0, pred > 0
        metrics = self._binary(truth >= 0, pred_nonneg, '')
        nonzero = truth != 0
        metrics.update(
            self._binary(truth[nonzero] > 0, pred_pos[nonzero], '_nonzero'))
        if kind != BINARY:
            metrics['acc7'] = float(
                np.mean(
                    np.round(np.clip(pred, -3, 3)) == np.round(
                        np.clip(truth, -3, 3))))
        if kind == SCORE:
            metrics['mae'] = float(np.mean(np.abs(pred - truth)))
            metrics['corr'] = self._pearson(pred, truth)
        return metrics

    @staticmethod
    def _binary(truth: np.ndarray, pred: np.ndarray, suffix: str) -> Dict:
        """Accuracy and F1 of one binary convention."""
        keys = [
            f'{name}{suffix}' for name in ('acc2', 'f1_weighted', 'f1_macro')
        ]
        if not len(truth):
            return {key: float('nan') for key in keys}
        truth, pred = truth.astype(int), pred.astype(int)
        return dict(
            zip(keys, [
                float(np.mean(truth == pred)),
                float(
                    f1_score(truth, pred, average='weighted',
                             zero_division=0)),
                float(f1_score(truth, pred, average='macro', zero_division=0))
            ]))

    @staticmethod
    def _pearson(x: np.ndarray, y: np.ndarray) -> float:
        """Pearson's r; NaN when it is undefined."""
        if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
            return float('nan')
        return float(np.corrcoef(x, y)[0, 1])
