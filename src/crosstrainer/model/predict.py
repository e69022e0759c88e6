"""What a loaded model says about one clip: the one inference path of CrossTrainer.

``predict(model, parts, features, sport=...)`` runs, on a clip's per-second encoder features ``(S, D)``:

- the proficiency probe on the mean projected second (``probs``, ``logits``),
- the per-second attribute probe (``attribute_timeline``, ``(S, A)``, for plots),
- Stage I on every window of ``manifest.stage1_window_s`` seconds (the attributes the LLM names there),
- Stage II on the whole clip with those attributes in the prompt (stated level + feedback sentences).

``crosstrainer.api.Assessor`` turns a :class:`Prediction` into the assessment JSON; ``crosstrainer evaluate``
scores it. Both call this function, so "what the model does" is written once.

>>> model, parts = load_model("src/crosstrainer/models/default")            # doctest: +SKIP
>>> p = predict(model, parts, features, sport="bicep curl")                 # doctest: +SKIP
>>> p.level, [a.name for a in p.attributes], p.feedback                      # doctest: +SKIP
('good form', [], ['Good form: your torso stays upright and the curl comes from the arms.'])
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crosstrainer.model import prompts

Progress = Callable[[str, float], None]
STAGE1_BATCH = 16
STAGE2_BATCH = 32
MAX_STAGE1_WINDOWS = 32
"""Longer inputs have their neighbouring Stage-I windows merged to this many (a 10-minute clip: 32 windows of about
19 s, not 300 of 2 s), so the language model's cost stays bounded."""


@dataclass
class WindowAnswer:
    """Stage I's answer for seconds ``[start, end)`` (row indices of the features): ``"posture, trunk control"``
    (or ``"none"``), with the probability of each attribute named."""

    start: int
    end: int
    text: str
    token_probs: list[float] = field(default_factory=list)


@dataclass
class AttributeSpans:
    """One vocabulary attribute the model named: the windows (row-index spans) where it did, and its probability
    there (the model's probability of an answer that names it, among the allowed answers)."""

    name: str
    spans: list[tuple[int, int]] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        return max(self.confidences) if self.confidences else 0.0


@dataclass
class Prediction:
    """Everything the model outputs for one clip (levels in the manifest's order, least to most proficient).

    ``probs`` are the verdict's probabilities: the calibrated attribute head's where the model has one (pose
    models), else the linear probe's. ``probe_probs`` are always the linear probe's (reported as a baseline).
    """

    levels: list[str]
    probs: np.ndarray
    logits: np.ndarray
    attribute_names: list[str]
    attribute_timeline: np.ndarray
    probe_probs: np.ndarray | None = None
    contributions: dict[str, float] = field(default_factory=dict)
    familiarity: float | None = None
    familiarity_threshold: float | None = None
    windows: list[WindowAnswer] = field(default_factory=list)
    attributes: list[AttributeSpans] = field(default_factory=list)
    llm_text: str = ""
    llm_level: str | None = None
    feedback: list[str] = field(default_factory=list)
    generated: bool = False

    @property
    def level(self) -> str:
        return self.levels[int(np.argmax(self.probs))]

    @property
    def score(self) -> float:
        """Expected level on a 0..1 scale (higher = more proficient)."""
        n = len(self.levels)
        value = float(np.dot(self.probs, np.linspace(0.0, 1.0, n))) if n > 1 else float(self.probs[0])
        return min(1.0, max(0.0, value))

    @property
    def unfamiliar(self) -> bool:
        """True when the clip lies farther from the training clips than the model's familiarity threshold."""
        return (
            self.familiarity is not None
            and self.familiarity_threshold is not None
            and self.familiarity > self.familiarity_threshold
        )

    def probe_attributes(self, threshold: float) -> list[str]:
        """Vocabulary attributes whose mean per-second probe probability reaches ``threshold``."""
        mean = self.attribute_timeline.mean(0) if len(self.attribute_timeline) else np.zeros(len(self.attribute_names))
        return [n for n, p in zip(self.attribute_names, mean, strict=True) if p >= threshold]


def window_spans(seconds: int, window_s: float) -> list[tuple[int, int]]:
    """Row spans of Stage-I windows: ``window_spans(5, 2.0)`` -> ``[(0, 2), (2, 4), (4, 5)]``."""
    width = max(1, round(window_s))
    return [(a, min(a + width, seconds)) for a in range(0, seconds, width)]


@dataclass
class ClipInput:
    """One clip for :func:`predict_many`: its per-second features ``(S, D)``, the sport if known, and Stage-I windows
    (row spans; None: ``manifest.stage1_window_s`` windows)."""

    features: np.ndarray
    sport: str | None = None
    windows: list[tuple[int, int]] | None = None


def predict(
    model: Any,
    parts: Any,
    features: np.ndarray,
    *,
    sport: str | None = None,
    generate: bool = True,
    windows: list[tuple[int, int]] | None = None,
    progress: Progress | None = None,
) -> Prediction:
    """Run the head, probes and (with ``generate``) Stage I per window and Stage II on ``features`` (S, D).

    ``windows``: row spans for Stage I (e.g. the clip's repetitions); default: ``manifest.stage1_window_s`` windows.
    Stage I is constrained to the vocabulary (:mod:`crosstrainer.model.constrained`): an attribute is reported for
    a window when the model's probability of naming it there reaches ``manifest.stage1_threshold``.
    """
    return predict_many(model, parts, [ClipInput(features, sport, windows)], generate=generate, progress=progress)[0]


def predict_many(
    model: Any,
    parts: Any,
    clips: list[ClipInput],
    *,
    generate: bool = True,
    progress: Progress | None = None,
    stage2_batch: int = STAGE2_BATCH,
) -> list[Prediction]:
    """:func:`predict` for several clips at once: Stage-I windows of all clips share batches of
    :data:`STAGE1_BATCH`, and Stage II generates for :data:`STAGE2_BATCH` clips at a time (greedy decoding, so a
    clip's answer does not depend on its batch neighbours beyond floating-point rounding of the padded batch)."""
    import torch

    from crosstrainer.model.constrained import attribute_probabilities, select_attributes
    from crosstrainer.model.crosstrainer import Turn

    m, vocab = parts.manifest, parts.vocabulary
    report = progress or (lambda stage, frac: None)
    preds = [_scores(model, parts, c.features) for c in clips]
    if not generate:
        return preds
    # Stage I: every (clip, window) turn, grouped by the attributes allowed (the clip's sport is never one)
    jobs: dict[tuple[str, ...], list[tuple[int, int, int]]] = {}
    for k, c in enumerate(clips):
        allowed = tuple(n for n in vocab.names if not c.sport or n.lower() != c.sport.lower())
        for a, b in _capped(c.windows or window_spans(len(c.features), m.stage1_window_s)):
            jobs.setdefault(allowed, []).append((k, a, b))
    total, done = sum(len(v) for v in jobs.values()), 0
    report("attributes", 0.0)
    by_name: list[dict[str, AttributeSpans]] = [{} for _ in clips]
    with torch.inference_mode():
        for allowed, items in jobs.items():
            for i in range(0, len(items), STAGE1_BATCH):
                batch = items[i : i + STAGE1_BATCH]
                turns = [Turn(clips[k].features[a:b], prompts.stage1_user(clips[k].sport)) for k, a, b in batch]
                for (k, a, b), probs in zip(batch, attribute_probabilities(model, turns, list(allowed)), strict=True):
                    chosen = select_attributes(probs, m.stage1_threshold)
                    preds[k].windows.append(
                        WindowAnswer(a, b, prompts.stage1_target([n for n, _ in chosen]), [p for _, p in chosen])
                    )
                    for name, p in chosen:
                        rec = by_name[k].setdefault(name, AttributeSpans(name))
                        rec.spans.append((a, b))
                        rec.confidences.append(float(p))
                done += len(batch)
                report("attributes", min(1.0, done / total))
        for k, pred in enumerate(preds):
            pred.windows.sort(key=lambda w: (w.start, w.end))
            for rec in by_name[k].values():
                order = sorted(range(len(rec.spans)), key=lambda j: rec.spans[j])
                rec.spans = [rec.spans[j] for j in order]
                rec.confidences = [rec.confidences[j] for j in order]
            pred.attributes = sorted(by_name[k].values(), key=lambda r: -r.confidence)
        # Stage II: the whole clip with its attributes in the prompt
        report("feedback", 0.0)
        for i in range(0, len(clips), stage2_batch):
            idx = list(range(i, min(i + stage2_batch, len(clips))))
            turns = [
                Turn(clips[k].features, prompts.stage2_user(clips[k].sport, [r.name for r in preds[k].attributes]))
                for k in idx
            ]
            answers = model.generate(
                turns, max_new_tokens=m.stage2_max_new_tokens, no_repeat_ngram_size=3, repetition_penalty=1.2
            )
            for k, (text, _) in zip(idx, answers, strict=True):
                preds[k].llm_text = text
                preds[k].llm_level, preds[k].feedback = prompts.parse_stage2(text, preds[k].levels)
                preds[k].generated = True
            report("feedback", min(1.0, (i + stage2_batch) / len(clips)))
    return preds


def _capped(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """At most :data:`MAX_STAGE1_WINDOWS` spans: neighbours merged evenly when there are more."""
    if len(spans) <= MAX_STAGE1_WINDOWS:
        return spans
    edges = np.linspace(0, len(spans), MAX_STAGE1_WINDOWS + 1).round().astype(int)
    return [(spans[a][0], spans[b - 1][1]) for a, b in itertools.pairwise(edges) if b > a]


def _scores(model: Any, parts: Any, features: np.ndarray) -> Prediction:
    """The verdict (attribute head, else linear probe), the probe baseline, the attribute timeline, familiarity."""
    import torch

    from crosstrainer.errors import ModelError
    from crosstrainer.model.calibration import cap_probabilities, softmax

    m, vocab = parts.manifest, parts.vocabulary
    if features.ndim != 2 or features.shape[1] != m.projector["in_dim"] or len(features) == 0:
        raise ModelError(f"{parts.folder}: expects (seconds, {m.projector['in_dim']}) features, got {features.shape}")
    with torch.inference_mode():
        projected = model.project(features).float().cpu().numpy()
    probe = parts.proficiency_probe
    pooled = projected.mean(0, keepdims=True)
    logits = (pooled.astype(np.float64) @ probe.weight.T.astype(np.float64) + probe.bias)[0]
    pred = Prediction(
        levels=list(m.levels),
        probs=cap_probabilities(softmax(logits[None], m.calibration.get("probe_temperature", 1.0))[0]),
        logits=logits,
        attribute_names=list(vocab.names),
        attribute_timeline=parts.attribute_probe.predict_proba(projected),
        probe_probs=cap_probabilities(softmax(logits[None])[0]),
    )
    if parts.head is not None:
        raw = np.nan_to_num(features.mean(0, keepdims=True).astype(np.float64))
        pred.probs = parts.head.predict_proba(raw)[0]
        pred.logits = np.array([0.0, float(parts.head.logit(raw)[0])])
        pred.contributions = parts.head.contributions(raw)
        if parts.familiarity is not None:
            pred.familiarity = float(parts.familiarity.distance(parts.head._z(raw))[0])
            pred.familiarity_threshold = parts.familiarity.threshold
    return pred
