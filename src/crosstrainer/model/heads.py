"""The proficiency head that transfers: a calibrated logistic regression on the clip's kinematic features, read
through the skill-attributes they measure, so a user sees which attributes lowered the score.

Every pose-encoder feature belongs to one backbone attribute (:data:`FEATURE_ATTRIBUTES`, first matching rule wins;
visibility and availability features belong to none and are not used). The head standardises the clip's
mean-pooled features with the training statistics and scores ``logit = w . z + b`` for "good form"; the
contribution of attribute ``a`` is the sum of ``w_j z_j`` over its features (how much it moved the logit away from
an average training clip; negative = it lowered the score)::

    head = AttributeHead.fit(x, y, feature_names, groups=movement_of_each_clip)
    p = head.predict_proba(x_new)                     # (N, 2), calibrated by the fitted temperature
    head.contributions(x_new[0])                      # {"trunk control": -1.3, "range of motion": 0.4, ...}

The regularisation strength is chosen by leave-one-movement-out cross-validation on the training movements, and the
temperature is fitted on the out-of-movement logits of that cross-validation: the probabilities are calibrated for
movements the head has not seen, which is what a user sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from crosstrainer.model.calibration import cap_probabilities, fit_temperature, softmax

FEATURE_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("trunk_lean_range", "trunk control"),
    ("trunk_angvel", "trunk control"),
    ("hip_x_range", "trunk control"),
    ("hip_y_range", "trunk control"),
    ("_jerk_log", "movement control"),
    ("_speed_mean", "movement control"),
    ("_angvel_", "movement control"),
    ("_range", "range of motion"),
    ("trunk_lean", "posture"),
    ("head_", "posture"),
    ("body_tilt", "posture"),
    ("hip_line_offset", "hip alignment"),
    ("body_line_angle", "hip alignment"),
    ("hip_angle", "hip alignment"),
    ("knee_over_toe", "knee alignment"),
    ("knee_width", "knee alignment"),
    ("feet_width", "knee alignment"),
    ("knee_angle", "knee alignment"),
    ("ankle_angle", "knee alignment"),
    ("sym_", "symmetry"),
    ("com_", "balance"),
    ("horizontal_frac", "balance"),
    ("elbow_drift", "compensation"),
    ("shoulder_width", "compensation"),
    ("upper_arm_angle", "compensation"),
    ("hand_", "range of motion"),
    ("elbow_angle", "range of motion"),
    ("shoulder_angle", "range of motion"),
)
"""(substring of a feature name, attribute); features that match no rule (visibility, availability) are unused."""

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1)


def attribute_of(feature: str) -> str | None:
    """``attribute_of("trunk_lean_range")`` -> ``"trunk control"``; ``attribute_of("visibility_all")`` -> None."""
    return next((attr for key, attr in FEATURE_ATTRIBUTES if key in feature), None)


@dataclass
class AttributeHead:
    """Binary proficiency ("good form" vs not) from attribute-grouped kinematic features (see the module doc)."""

    feature_names: list[str]
    used: np.ndarray  # (D,) bool: features the head reads
    mean: np.ndarray  # (D_used,)
    std: np.ndarray  # (D_used,)
    weight: np.ndarray  # (D_used,) for the most proficient level
    bias: float
    temperature: float = 1.0
    c: float = 0.01
    cv: dict = field(default_factory=dict)

    @property
    def attributes(self) -> list[str | None]:
        return [attribute_of(n) for n, u in zip(self.feature_names, self.used, strict=True) if u]

    def _z(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, np.float64))[:, self.used]
        return (x - self.mean) / self.std

    def logit(self, x: np.ndarray) -> np.ndarray:
        """(N,) logit of the most proficient level for pooled features ``x`` (N, D)."""
        return self._z(x) @ self.weight + self.bias

    def predict_proba(self, x: np.ndarray, calibrated: bool = True) -> np.ndarray:
        """(N, 2) probabilities of [least, most] proficient; calibrated ones are capped below 1.00."""
        logit = self.logit(x)
        logits = np.stack([np.zeros_like(logit), logit], 1)
        p = softmax(logits, self.temperature if calibrated else 1.0)
        return cap_probabilities(p) if calibrated else p

    def contributions(self, x: np.ndarray) -> dict[str, float]:
        """{attribute: its share of the logit} for one clip, most negative (lowered the score most) first."""
        z = self._z(x)[0] * self.weight
        out: dict[str, float] = {}
        for attr, v in zip(self.attributes, z, strict=True):
            if attr is not None:
                out[attr] = out.get(attr, 0.0) + float(v)
        return dict(sorted(((k, round(v, 3)) for k, v in out.items()), key=lambda kv: kv[1]))

    @classmethod
    def fit(
        cls, x: np.ndarray, y: np.ndarray, feature_names: list[str], groups: list[str], seed: int = 0
    ) -> AttributeHead:
        """Fit on pooled features ``x`` (N, D), ``y`` (N,) 1 = most proficient, ``groups`` = movement of each clip."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score

        x, y, groups_arr = np.asarray(x, np.float64), np.asarray(y, np.int64), np.asarray(groups)
        used = np.array([attribute_of(n) is not None for n in feature_names])

        def train(xs: np.ndarray, ys: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
            mu, sd = xs.mean(0), xs.std(0) + 1e-6
            lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=seed)
            lr.fit((xs - mu) / sd, ys)
            return mu, sd, lr.coef_[0], float(lr.intercept_[0])

        movements = sorted(set(groups_arr.tolist()))
        xu = x[:, used]
        cv: dict = {"movements": movements, "auroc": {}}
        best_c, best_score, oof = C_GRID[0], -np.inf, {}
        if len(movements) >= 3:
            for c in C_GRID:
                logits = np.zeros(len(y))
                scores = []
                for m in movements:
                    te = groups_arr == m
                    if len(set(y[~te].tolist())) < 2:
                        continue
                    mu, sd, w, b = train(xu[~te], y[~te], c)
                    logits[te] = ((xu[te] - mu) / sd) @ w + b
                    if len(set(y[te].tolist())) == 2:
                        scores.append(roc_auc_score(y[te], logits[te]))
                score = float(np.mean(scores)) if scores else -np.inf
                cv["auroc"][str(c)] = round(score, 4)
                if score > best_score:
                    best_c, best_score, oof = c, score, {"logits": logits.copy()}
        mu, sd, w, b = train(xu, y, best_c)
        head = cls(list(feature_names), used, mu, sd, w, b, c=best_c, cv=cv)
        if oof:  # calibrate on logits of movements each fold had not seen
            head.temperature = fit_temperature(np.stack([np.zeros(len(y)), oof["logits"]], 1), y)
            cv["chosen_c"], cv["temperature"] = best_c, round(head.temperature, 4)
        return head

    def to_arrays(self, prefix: str = "head.") -> dict[str, np.ndarray]:
        return {
            f"{prefix}used": self.used.astype(np.uint8),
            f"{prefix}mean": self.mean.astype(np.float32),
            f"{prefix}std": self.std.astype(np.float32),
            f"{prefix}weight": self.weight.astype(np.float32),
            f"{prefix}bias_temperature_c": np.array([self.bias, self.temperature, self.c], np.float32),
        }

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], feature_names: list[str], prefix: str = "head."
    ) -> AttributeHead | None:
        if f"{prefix}weight" not in arrays:
            return None
        bias, temperature, c = (float(v) for v in arrays[f"{prefix}bias_temperature_c"])
        return cls(
            list(feature_names),
            arrays[f"{prefix}used"].astype(bool),
            arrays[f"{prefix}mean"].astype(np.float64),
            arrays[f"{prefix}std"].astype(np.float64),
            arrays[f"{prefix}weight"].astype(np.float64),
            bias,
            temperature,
            c,
        )
