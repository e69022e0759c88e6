"""Linear probes on the projected video representation: proficiency (softmax) and attributes (per-second sigmoid)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LinearProbe:
    """``predict_proba(X (N, H)) -> (N, K)``; softmax over ``labels`` or, if ``multilabel``, one sigmoid per label."""

    weight: np.ndarray  # (K, H)
    bias: np.ndarray  # (K,)
    labels: list[str]
    multilabel: bool = False

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        logits = np.asarray(x, np.float64) @ self.weight.T.astype(np.float64) + self.bias
        if self.multilabel:
            return 1.0 / (1.0 + np.exp(-np.clip(logits, -50.0, 50.0)))
        logits -= logits.max(-1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(-1, keepdims=True)

    @classmethod
    def fit(
        cls, x: np.ndarray, y: np.ndarray, labels: list[str], multilabel: bool = False, c: float = 1.0, seed: int = 0
    ) -> LinearProbe:
        """Fit an L2 logistic regression (balanced class weights). ``y``: (N,) class indices, or (N, K) 0/1."""
        from sklearn.linear_model import LogisticRegression

        x = np.asarray(x, np.float64)
        k, h = len(labels), x.shape[1]
        weight, bias = np.zeros((k, h)), np.zeros(k)
        if multilabel:
            for j in range(k):
                col = y[:, j].astype(int)
                if col.min() == col.max():  # never (or always) present: a constant probe
                    bias[j] = -8.0 if col.max() == 0 else 8.0
                    continue
                lr = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed).fit(x, col)
                weight[j], bias[j] = lr.coef_[0], lr.intercept_[0]
        else:
            present = np.unique(y)
            if len(present) == 1:
                bias[:] = -8.0
                bias[int(present[0])] = 8.0
            else:
                lr = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed).fit(x, y)
                if len(present) == 2 and lr.coef_.shape[0] == 1:  # sklearn's binary form: one row for class 1
                    weight[present[1]], bias[present[1]] = lr.coef_[0], lr.intercept_[0]
                else:
                    for row, cls_idx in enumerate(lr.classes_):
                        weight[int(cls_idx)], bias[int(cls_idx)] = lr.coef_[row], lr.intercept_[row]
                for missing in set(range(k)) - set(int(v) for v in present):
                    bias[missing] = -8.0
        return cls(weight.astype(np.float32), bias.astype(np.float32), list(labels), multilabel)
