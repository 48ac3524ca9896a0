"""A uni-modal linear probe (pure scikit-learn): how well one frozen encoder's
features separate the classes on their own."""
from typing import Dict, Tuple

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def fit_linear_probe(train_features: np.ndarray,
                     train_labels: np.ndarray,
                     eval_sets: Dict[str, Tuple[np.ndarray, np.ndarray]],
                     max_iter: int = 2000) -> Dict[str, float]:
    """Fit a logistic regression on standardised features and score it.

    Args:
        train_features (np.ndarray): ``(N, C)`` features the probe is fitted
            on.
        train_labels (np.ndarray): ``(N, )`` class labels.
        eval_sets (dict): Name (e.g. ``'val'``, ``'test'``) to
            ``(features, labels)`` the fitted probe is scored on.
        max_iter (int): Iterations of the solver. Defaults to 2000.

    Returns:
        dict[str, float]: Accuracy in ``[0, 1]`` per evaluation set.
    """
    probe = make_pipeline(StandardScaler(),
                          LogisticRegression(max_iter=max_iter))
    probe.fit(train_features, train_labels)
    return {
        name: float(probe.score(features, labels))
        for name, (features, labels) in eval_sets.items()
    }
