"""Honest uncertainty: calibrated level probabilities and how familiar a clip is to the model.

- **Temperature scaling** (Guo et al., 2017): one scalar ``T`` fitted on held-out clips by minimising the negative
  log-likelihood of ``softmax(logits / T)``; it changes how sure the model sounds, never which level it picks.
- **Familiarity**: the Mahalanobis distance of a clip's pooled representation to the training clips (PCA to at
  most 16 dimensions, Ledoit-Wolf covariance). The threshold is a high percentile of the distances of held-out
  clips of trained movements, so about 95% of familiar clips fall under it.
- :func:`assess_confidence` combines familiarity, visibility and clip length into ``"high"`` or ``"low"`` with the
  reasons, e.g. ``("low", ["this movement is unlike anything the model was trained on; treat the verdict with
  caution"])``.

>>> t = fit_temperature(np.array([[0.0, 8.0], [0.0, 8.0], [8.0, 0.0]]), np.array([1, 0, 0]))
>>> t > 1.0      # over-confident logits are softened
True
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

UNFAMILIAR = "this movement is unlike anything the model was trained on; treat the verdict with caution"
MIN_SECONDS = 2.0
MIN_VISIBILITY = 0.6
MAX_PROBABILITY = 0.99
"""No probability is shown above this: a 1.00 would claim a certainty no model of this size has."""


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, np.float64) / max(float(temperature), 1e-6)
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def cap_probabilities(probs: np.ndarray, cap: float = MAX_PROBABILITY) -> np.ndarray:
    """Clip each probability to ``[ (1-cap)/(K-1), cap ]`` and renormalise (keeps the order of the levels)."""
    p = np.asarray(probs, np.float64)
    k = p.shape[-1]
    if k < 2:
        return p
    p = np.clip(p, (1.0 - cap) / (k - 1), cap)
    return p / p.sum(-1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature in [0.05, 100] that minimises the NLL of ``y`` (class indices) under ``softmax(logits/T)``."""
    from scipy.optimize import minimize_scalar

    logits, y = np.asarray(logits, np.float64), np.asarray(y, np.int64)
    if len(y) == 0:
        return 1.0

    def nll(log_t: float) -> float:
        p = softmax(logits, float(np.exp(log_t)))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(100.0)), method="bounded")
    return float(np.exp(res.x))


def reliability(probs: np.ndarray, y: np.ndarray, n_bins: int = 10) -> dict[str, list[float]]:
    """Per confidence bin: mean confidence, accuracy and count (``probs`` (N, K), ``y`` (N,) class indices)."""
    probs, y = np.asarray(probs, np.float64), np.asarray(y, np.int64)
    conf, pred = probs.max(1), probs.argmax(1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    out: dict[str, list[float]] = {"confidence": [], "accuracy": [], "count": []}
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if m.any():
            out["confidence"].append(float(conf[m].mean()))
            out["accuracy"].append(float((pred[m] == y[m]).mean()))
            out["count"].append(float(m.sum()))
    return out


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """ECE: the count-weighted mean |accuracy - confidence| over equal-width confidence bins (0 = calibrated)."""
    r = reliability(probs, y, n_bins)
    n = sum(r["count"])
    if not n:
        return float("nan")
    return float(sum(c * abs(a - p) for c, a, p in zip(r["count"], r["accuracy"], r["confidence"], strict=True)) / n)


@dataclass
class Familiarity:
    """Distance of a pooled clip representation to the training clips (see the module docstring)."""

    mean: np.ndarray  # (H,)
    components: np.ndarray  # (k, H) PCA directions
    precision: np.ndarray  # (k, k) inverse covariance in PCA space
    threshold: float = float("inf")

    @classmethod
    def fit(cls, x: np.ndarray, max_components: int = 16) -> Familiarity:
        from sklearn.covariance import LedoitWolf

        x = np.asarray(x, np.float64)
        mean = x.mean(0)
        k = int(max(1, min(max_components, len(x) - 1, x.shape[1])))
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        comps = vt[:k]
        z = (x - mean) @ comps.T
        cov = LedoitWolf().fit(z).covariance_ if len(x) > 2 else np.eye(k)
        return cls(mean.astype(np.float32), comps.astype(np.float32), np.linalg.pinv(cov).astype(np.float32))

    def distance(self, x: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of ``x`` (N, H) (or one vector) to the training clips."""
        x = np.atleast_2d(np.asarray(x, np.float64))
        z = (x - self.mean) @ self.components.T.astype(np.float64)
        return np.sqrt(np.maximum(np.einsum("ni,ij,nj->n", z, self.precision.astype(np.float64), z), 0.0))

    def set_threshold(self, heldout: np.ndarray, percentile: float = 95.0) -> float:
        """Threshold = ``percentile`` of the held-out clips' distances (clips of movements the model trained on)."""
        self.threshold = float(np.percentile(self.distance(heldout), percentile))
        return self.threshold

    def to_arrays(self, prefix: str = "familiarity.") -> dict[str, np.ndarray]:
        return {
            f"{prefix}mean": self.mean,
            f"{prefix}components": self.components,
            f"{prefix}precision": self.precision,
            f"{prefix}threshold": np.array([self.threshold], np.float32),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str = "familiarity.") -> Familiarity | None:
        if f"{prefix}mean" not in arrays:
            return None
        return cls(
            arrays[f"{prefix}mean"],
            arrays[f"{prefix}components"],
            arrays[f"{prefix}precision"],
            float(arrays[f"{prefix}threshold"][0]),
        )


def assess_confidence(
    distance: float | None, threshold: float | None, visibility: float, duration_s: float
) -> tuple[str, list[str]]:
    """``("high" | "low", reasons)``: low when the clip is unfamiliar, the body poorly visible, or the clip short."""
    reasons = []
    if distance is not None and threshold is not None and np.isfinite(threshold) and distance > threshold:
        reasons.append(UNFAMILIAR)
    if visibility < MIN_VISIBILITY:
        reasons.append(f"only {visibility:.0%} of the body was visible")
    if duration_s < MIN_SECONDS:
        reasons.append(f"the clip is only {duration_s:.1f} s long")
    return ("low" if reasons else "high"), reasons
