"""The systems an evaluation compares, and the CrossTrainer model run on a split's test clips.

A prediction is one JSON-ready dict per (system, clip), e.g. ``{"level": "good form", "probs": [0.2, 0.8],
"logits": [-0.7, 0.7], "llm_level": "good form", "attributes": ["posture"], "attributes_probe": [],
"feedback": "Keep your torso upright."}`` (fields a system does not produce are absent).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.data.sample import Sample, ordered_levels
from crosstrainer.evaluation import baselines as bl


class System(str, Enum):
    """Every system a run reports; the value is its name in tables, JSON keys and plots."""

    MODEL = "CrossTrainer"
    E2E = "w/o two-stage"
    LINEAR = bl.LINEAR
    NN = bl.NN
    KNN_ATTR = bl.KNN_ATTR
    FREQUENT = bl.FREQUENT
    PROBE = "CrossTrainer linear probe (projected)"
    BEST_FEATURE = bl.BEST_FEATURE

    def __str__(self) -> str:
        return self.value


LEVEL_SYSTEMS = (System.MODEL, System.PROBE, System.E2E, System.LINEAR, System.NN, System.BEST_FEATURE)
"""Systems that predict a proficiency level."""


def levels_for(samples: list[Sample]) -> list[str]:
    """Level order of the data: a known scale (pose exercises, Ego-Exo4D) or the sorted labels."""
    return ordered_levels({s.proficiency for s in samples if s.proficiency})


class ModelRunner:
    """A saved CrossTrainer model run on per-second features through :func:`crosstrainer.model.predict.predict`."""

    def __init__(self, folder: str | Path) -> None:
        from crosstrainer.model.checkpoint import load_model

        self.folder = Path(folder)
        self.model, self.parts = load_model(self.folder)
        self.levels = list(self.parts.manifest.levels)

    def predict(self, sample: Sample, feats: np.ndarray, generate: bool) -> dict[str, Any]:
        """Probe outputs from ``feats`` (the sample's per-second encoder features); with ``generate``, the
        LLM's Stage-I attributes, stated level and feedback too."""
        from crosstrainer.model.predict import predict

        p = predict(self.model, self.parts, feats, sport=sample.sport, generate=generate)
        out: dict[str, Any] = {
            "level": p.level,
            "probs": [float(v) for v in p.probs],
            "logits": [float(v) for v in p.logits],  # AUROC ranks by these: saturated probabilities tie
            "attributes_probe": p.probe_attributes(self.parts.manifest.attribute_threshold),
        }
        if p.probe_probs is not None and self.parts.head is not None:
            out["probe"] = {
                "level": p.levels[int(np.argmax(p.probe_probs))],
                "probs": [float(v) for v in p.probe_probs],
                "logits": [0.0, float(np.log(max(p.probe_probs[-1], 1e-12)) - np.log(max(p.probe_probs[0], 1e-12)))],
            }
        if generate:
            out.update(
                llm_level=p.llm_level,
                attributes=[a.name for a in p.attributes],
                feedback=" ".join(p.feedback),
                llm_text=p.llm_text,
            )
        return out


def head_prediction(head: Any, per_second: np.ndarray, levels: list[str]) -> dict[str, Any]:
    """The attribute head's prediction for one clip's per-second raw features (same fields as the model's)."""
    raw = np.nan_to_num(per_second.mean(0, keepdims=True))
    probs = head.predict_proba(raw)[0]
    return {
        "level": levels[int(np.argmax(probs))],
        "probs": [float(v) for v in probs],
        "logits": [0.0, float(head.logit(raw)[0])],
        "contributions": head.contributions(raw),
    }
