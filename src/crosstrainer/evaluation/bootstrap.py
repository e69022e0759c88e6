"""Percentile bootstrap confidence intervals over evaluation items.

Every headline number in a report is a :class:`CI`: the point estimate on all items plus the 2.5th and 97.5th
percentiles of the same metric over ``n`` resamples of the items (drawn with replacement, seeded)::

    >>> import numpy as np
    >>> y_true = np.array([0, 1, 1, 0, 1]); y_pred = np.array([0, 1, 0, 0, 1])
    >>> ci = bootstrap_ci(accuracy, y_true, y_pred, n=1000, seed=0)
    >>> round(ci.point, 2), ci.low <= ci.point <= ci.high
    (0.8, True)
    >>> ci.as_dict(scale=100)
    {'value': 80.0, 'low': ..., 'high': ...}

Metric functions take one or more arrays whose FIRST axis is the item axis. A *batched* metric function also accepts
arrays with an extra leading resample axis (``(n_resamples, n_items, ...)``) and returns one value per resample
(shape ``(n_resamples,)``); the functions in this module are batched (they reduce over ``axis=1`` of the batch), so
1000 resamples of 1000 items take milliseconds. Any other function (an sklearn scorer, say) works too: it is called
once per resample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from crosstrainer.errors import UsageError

MetricFn = Callable[..., Any]


class CI(NamedTuple):
    """A point estimate and its percentile bootstrap interval, e.g. ``CI(point=0.8, low=0.4, high=1.0)``."""

    point: float
    low: float
    high: float

    def as_dict(self, scale: float = 1.0, digits: int = 2) -> dict[str, float | None]:
        """``{"value": ..., "low": ..., "high": ...}`` multiplied by ``scale`` (100 for percentages), NaN as None."""

        def fmt(x: float) -> float | None:
            return None if x is None or not np.isfinite(x) else round(float(x) * scale, digits)

        return {"value": fmt(self.point), "low": fmt(self.low), "high": fmt(self.high)}


def resample_indices(n_items: int, n: int = 1000, seed: int = 0) -> np.ndarray:
    """``(n, n_items)`` int array of item indices drawn with replacement (deterministic for a given ``seed``)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_items, size=(n, n_items))


def bootstrap_ci(
    metric_fn: MetricFn,
    *arrays: Any,
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    batched: bool | None = None,
) -> CI:
    """Percentile bootstrap CI of ``metric_fn(*arrays)`` over items (the first axis of every array).

    ``batched``: True if ``metric_fn`` handles a leading resample axis (see the module docstring), False to call it once
    per resample, None (default) to detect it: the batched call is used only if it returns the same values as two
    one-at-a-time calls. Resamples whose metric is undefined (NaN, e.g. AUROC on a resample with one class) are left
    out of the percentiles. ``n=0`` returns the point estimate with NaN bounds.
    """
    if not arrays:
        raise UsageError("bootstrap_ci needs at least one array of per-item values")
    if not 0.0 < level < 1.0:
        raise UsageError(f"bootstrap level must be in (0, 1), got {level}")
    arrs = [np.asarray(a) for a in arrays]
    n_items = len(arrs[0])
    if any(len(a) != n_items for a in arrs):
        raise UsageError(f"bootstrap arrays differ in length: {[len(a) for a in arrs]}")
    if n_items == 0:
        return CI(float("nan"), float("nan"), float("nan"))
    point = float(metric_fn(*arrs))
    if n <= 0:
        return CI(point, float("nan"), float("nan"))
    idx = resample_indices(n_items, n, seed)
    if batched is None:
        batched = _works_batched(metric_fn, arrs, idx[:2])
    values = (
        _batched_values(metric_fn, arrs, idx)
        if batched
        else np.array([float(metric_fn(*(a[row] for a in arrs))) for row in idx])
    )
    values = values[np.isfinite(values)]
    if values.size == 0:
        return CI(point, float("nan"), float("nan"))
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return CI(point, float(low), float(high))


def _batched_values(metric_fn: MetricFn, arrs: Sequence[np.ndarray], idx: np.ndarray) -> np.ndarray:
    """Evaluate a batched metric over all resamples, in chunks of at most ~4M gathered elements."""
    per_row = max(1, sum(int(np.prod(a.shape[1:], dtype=np.int64)) for a in arrs)) * idx.shape[1]
    chunk = max(1, 4_000_000 // per_row)
    out = [
        np.asarray(metric_fn(*(a[idx[i : i + chunk]] for a in arrs)), dtype=float).reshape(-1)
        for i in range(0, len(idx), chunk)
    ]
    return np.concatenate(out)


def _works_batched(metric_fn: MetricFn, arrs: Sequence[np.ndarray], idx: np.ndarray) -> bool:
    try:
        got = np.asarray(metric_fn(*(a[idx] for a in arrs)), dtype=float)
    except Exception:
        return False
    if got.shape != (len(idx),):
        return False
    want = np.array([float(metric_fn(*(a[row] for a in arrs))) for row in idx])
    return bool(np.allclose(got, want, equal_nan=True))


# --- batched metric functions: item axis is the LAST axis of y, or axis 1 of a (resamples, items, ...) batch ---------


def mean(values: np.ndarray) -> np.ndarray | float:
    """Mean of per-item scores (ROUGE-L, CIDEr-D, per-item IoU...); batched."""
    return np.mean(values, axis=-1)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray | float:
    """Fraction of items with ``y_pred == y_true``; batched."""
    return np.mean(np.asarray(y_true) == np.asarray(y_pred), axis=-1)


def ratio_of_sums(num: np.ndarray, den: np.ndarray) -> np.ndarray | float:
    """``sum(num) / sum(den)`` (micro precision/recall from per-item counts); NaN if the denominator is 0; batched."""
    n, d = np.sum(num, axis=-1), np.sum(den, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, n / np.where(d > 0, d, 1), np.nan)


def macro_f1_codes(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, classes: np.ndarray | None = None):
    """Macro-F1 of integer-coded labels in ``[0, n_classes)``, averaged over ``classes`` (default: all); batched.

    A class with no true and no predicted items scores 0 (sklearn ``zero_division=0``).
    """
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    batch = yt.ndim == 2
    yt2, yp2 = (yt, yp) if batch else (yt[None], yp[None])
    rows = np.arange(len(yt2))[:, None] * n_classes
    size = len(yt2) * n_classes
    tp = np.bincount((rows + yt2)[yt2 == yp2], minlength=size).reshape(-1, n_classes)
    n_true = np.bincount((rows + yt2).ravel(), minlength=size).reshape(-1, n_classes)
    n_pred = np.bincount((rows + yp2).ravel(), minlength=size).reshape(-1, n_classes)
    den = n_true + n_pred
    f1 = np.divide(2 * tp, den, out=np.zeros(den.shape, dtype=float), where=den > 0)
    cols = np.arange(n_classes) if classes is None else np.asarray(classes)
    out = f1[:, cols].mean(axis=1)
    return out if batch else float(out[0])


def auroc_binary(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray | float:
    """Area under the ROC curve for 0/1 labels and real scores (Mann-Whitney U, ties count 1/2); NaN if one class.

    Equals ``sklearn.metrics.roc_auc_score``; batched.
    """
    from scipy.stats import rankdata

    yt, s = np.asarray(y_true).astype(bool), np.asarray(scores, dtype=float)
    ranks = rankdata(s, axis=-1)
    n_pos = yt.sum(axis=-1)
    n_neg = yt.shape[-1] - n_pos
    u = np.sum(np.where(yt, ranks, 0.0), axis=-1) - n_pos * (n_pos + 1) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)
