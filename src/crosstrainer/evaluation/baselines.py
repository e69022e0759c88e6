"""Baselines that need no language model, fitted on a split's training clips and run on its test clips.

All of them read the RAW per-second encoder features (``f_v``: kinematics for pose clips, or precomputed features),
mean-pooled over the clip into one vector and standardised with the training clips' mean and std::

    raw = RawFeatures()                                  # caches features per sample id
    fit = RawBaselines.fit([raw(s) for s in train], train, levels=["needs improvement", "good form"])
    fit.predict(raw(test_sample))
    # {"linear probe (raw)": {"level": "good form", "probs": [0.3, 0.7]},
    #  "1-NN retrieval (raw)": {"level": "good form", "feedback": "Good form: ...", "attributes": [],
    #                           "neighbour": "<training sample id>"},
    #  "kNN attribute retrieval (raw)": {"attributes": ["hip alignment"]}}

- **linear probe (raw)**: L2 logistic regression (balanced class weights, C=1) on the pooled raw features; the
  "encoder probe" baseline of the paper (EgoVLPv2 probe), with no projector and no LLM.
- **1-NN retrieval (raw)**: the nearest training clip by cosine similarity of standardised pooled features; its
  feedback text is the predicted feedback (the paper's nearest-neighbour feedback retrieval), its level and its
  attribute set are reported too.
- **kNN attribute retrieval (raw)**: closed-set attribute retrieval. We have no joint video-text embedding space
  to retrieve attribute names by embedding, so the honest closed-set stand-in is label transfer: the ``k`` (default
  5) nearest training clips vote, and every attribute named by at least half of them (of those with attribute
  annotations) is predicted. It can only predict attributes some training clip carries.
- **frequent attributes**: the most frequent training attributes for every clip
  (:func:`crosstrainer.evaluation.metrics.frequent_attribute_sets`).
- **best single feature (raw)**: the one pooled raw feature (and its sign) whose AUROC on the training clips is
  highest, thresholded where it best balances the training accuracy of the two levels (two levels only): the
  simplest honest transfer baseline, chosen on training movements only.
- random and majority class come with every proficiency number
  (:func:`crosstrainer.evaluation.metrics.proficiency_metrics`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from crosstrainer.data.sample import Sample
from crosstrainer.errors import UsageError

LINEAR = "linear probe (raw)"
NN = "1-NN retrieval (raw)"
KNN_ATTR = "kNN attribute retrieval (raw)"
FREQUENT = "frequent attributes"
BEST_FEATURE = "best single feature (raw)"


def reference_feedback(sample: Sample) -> str:
    """The reference feedback of a clip: its commentary texts joined (empty when it has none)."""
    return " ".join(c.text.strip() for c in sample.commentary if c.text and c.text.strip())


def reference_attributes(sample: Sample) -> list[str] | None:
    """The clip's annotated attributes (union over its commentary), or None when no comment is annotated."""
    annotated = [c for c in sample.commentary if c.attributes is not None]
    if not annotated:
        return None
    return list(dict.fromkeys(a for c in annotated for a in c.attributes or []))


class RawFeatures:
    """Per-second raw encoder features of a sample, mean-pooled to one vector (cached by sample id)."""

    def __init__(self, encoder: str = "pose") -> None:
        from crosstrainer.features.provider import FeatureProvider

        self.provider = FeatureProvider(encoder, augment=False)
        self._cache: dict[str, np.ndarray] = {}
        self._per_second: dict[str, np.ndarray] = {}  # every split of a run tests the same clips again

    def per_second(self, sample: Sample) -> np.ndarray:
        if sample.id not in self._per_second:
            self._per_second[sample.id] = np.nan_to_num(np.asarray(self.provider.clip(sample), np.float64))
        return self._per_second[sample.id]

    def __call__(self, sample: Sample) -> np.ndarray:
        if sample.id not in self._cache:
            self._cache[sample.id] = self.per_second(sample).mean(axis=0)
        return self._cache[sample.id]


@dataclass
class RawBaselines:
    """The fitted baselines of one split (see the module docstring)."""

    mean: np.ndarray
    std: np.ndarray
    train_x: np.ndarray  # standardised, L2-normalised rows
    train: list[Sample]
    levels: list[str]
    probe: Any  # sklearn LogisticRegression, or None when training has one label only
    constant: str | None
    k: int = 5
    best: tuple[int, float, float] | None = None  # (feature index, sign, threshold on sign * value)

    @classmethod
    def fit(
        cls, x: list[np.ndarray] | np.ndarray, train: list[Sample], levels: list[str], k: int = 5, seed: int = 0
    ) -> RawBaselines:
        from sklearn.linear_model import LogisticRegression

        if len(train) == 0:
            raise UsageError("baselines need at least one training clip")
        x = np.asarray(x, np.float64)
        mean, std = x.mean(0), x.std(0)
        std = np.where(std > 1e-8, std, 1.0)
        z = (x - mean) / std
        labelled = [i for i, s in enumerate(train) if s.proficiency in levels]
        y = np.array([levels.index(train[i].proficiency) for i in labelled])
        probe, constant = None, None
        if len(set(y.tolist())) >= 2:
            probe = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000, random_state=seed)
            probe.fit(z[labelled], y)
        elif len(y):
            constant = levels[int(y[0])]
        norm = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        best = _best_feature(x[labelled], y) if len(levels) == 2 and len(set(y.tolist())) == 2 else None
        return cls(mean, std, norm, list(train), list(levels), probe, constant, k, best)

    def _z(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, np.float64) - self.mean) / self.std
        return z / max(float(np.linalg.norm(z)), 1e-12)

    def predict(self, x: np.ndarray) -> dict[str, dict[str, Any]]:
        z = (np.asarray(x, np.float64) - self.mean) / self.std
        out: dict[str, dict[str, Any]] = {}
        if self.probe is not None:
            p = np.zeros(len(self.levels))
            p[self.probe.classes_] = self.probe.predict_proba(z[None])[0]
            out[LINEAR] = {"level": self.levels[int(np.argmax(p))], "probs": [float(v) for v in p]}
        else:
            p = np.array([float(lv == self.constant) for lv in self.levels])
            out[LINEAR] = {"level": self.constant, "probs": p.tolist()}
        if self.best is not None:
            j, sign, threshold = self.best
            score = sign * float(np.asarray(x, np.float64)[j]) - threshold
            p1 = 1.0 / (1.0 + np.exp(-np.clip(score, -50, 50)))
            out[BEST_FEATURE] = {
                "level": self.levels[int(score >= 0)],
                "probs": [1.0 - p1, p1],
                "logits": [0.0, score],
                "feature": j,
            }
        sims = self.train_x @ self._z(x)
        order = np.argsort(-sims, kind="stable")
        nn = self.train[int(order[0])]
        out[NN] = {
            "level": nn.proficiency if nn.proficiency in self.levels else None,
            "probs": [float(nn.proficiency == lv) for lv in self.levels],
            "feedback": reference_feedback(nn),
            "attributes": reference_attributes(nn) or [],
            "neighbour": nn.id,
        }
        votes: Counter[str] = Counter()
        voters = 0
        for i in order:
            attrs = reference_attributes(self.train[int(i)])
            if attrs is None:
                continue
            votes.update(set(attrs))
            voters += 1
            if voters == self.k:
                break
        chosen = sorted(a for a, n in votes.items() if voters and n >= voters / 2)
        out[KNN_ATTR] = {"attributes": chosen}
        return out


def _best_feature(x: np.ndarray, y: np.ndarray) -> tuple[int, float, float] | None:
    """(index, sign, threshold) of the feature with the highest training AUROC (either direction)."""
    from sklearn.metrics import roc_auc_score

    best: tuple[float, int, float] | None = None
    for j in range(x.shape[1]):
        col = x[:, j]
        if not np.isfinite(col).all() or col.std() < 1e-12:
            continue
        auc = roc_auc_score(y, col)
        sign = 1.0 if auc >= 0.5 else -1.0
        if best is None or max(auc, 1 - auc) > best[0]:
            best = (max(auc, 1 - auc), j, sign)
    if best is None:
        return None
    _, j, sign = best
    v = sign * x[:, j]
    cands = np.unique(v)
    bal = [np.mean([np.mean(v[y == 1] >= t), np.mean(v[y == 0] < t)]) for t in cands]
    return j, sign, float(cands[int(np.argmax(bal))])
