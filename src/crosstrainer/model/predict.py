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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crosstrainer.model import prompts

Progress = Callable[[str, float], None]
STAGE1_BATCH = 16


@dataclass
class WindowAnswer:
    """Stage I's answer for seconds ``[start, end)`` (row indices of the features): ``"posture, trunk control"``."""

    start: int
    end: int
    text: str
    token_probs: list[float] = field(default_factory=list)


@dataclass
class AttributeSpans:
    """One attribute the model named: vocabulary name (or the raw name when not in the vocabulary), the windows
    (row-index spans) it was named in and the model's confidence there (probability of its tokens)."""

    name: str
    spans: list[tuple[int, int]] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    in_vocabulary: bool = True

    @property
    def confidence(self) -> float:
        return max(self.confidences) if self.confidences else 0.0


@dataclass
class Prediction:
    """Everything the model outputs for one clip (levels in the manifest's order, least to most proficient)."""

    levels: list[str]
    probs: np.ndarray
    logits: np.ndarray
    attribute_names: list[str]
    attribute_timeline: np.ndarray
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

    def probe_attributes(self, threshold: float) -> list[str]:
        """Vocabulary attributes whose mean per-second probe probability reaches ``threshold``."""
        mean = self.attribute_timeline.mean(0) if len(self.attribute_timeline) else np.zeros(len(self.attribute_names))
        return [n for n, p in zip(self.attribute_names, mean, strict=True) if p >= threshold]


def span_confidence(tokenizer: Any, text_ids: list[int], probs: list[float], phrase: str) -> float:
    """Geometric-mean probability of the generated tokens that spell ``phrase`` in the answer (0 if absent)."""
    pieces = [tokenizer.decode(text_ids[: i + 1], skip_special_tokens=True) for i in range(len(text_ids))]
    full = pieces[-1].lower() if pieces else ""
    start = full.find(phrase.lower())
    if start < 0 or not probs:
        return 0.0
    end = start + len(phrase)
    chosen = [p for i, p in enumerate(probs) if len(pieces[i]) > start and (i == 0 or len(pieces[i - 1]) < end)]
    return float(np.exp(np.mean(np.log(np.clip(chosen or probs, 1e-9, 1.0)))))


def window_spans(seconds: int, window_s: float) -> list[tuple[int, int]]:
    """Row spans of Stage-I windows: ``window_spans(5, 2.0)`` -> ``[(0, 2), (2, 4), (4, 5)]``."""
    width = max(1, round(window_s))
    return [(a, min(a + width, seconds)) for a in range(0, seconds, width)]


def predict(
    model: Any,
    parts: Any,
    features: np.ndarray,
    *,
    sport: str | None = None,
    generate: bool = True,
    progress: Progress | None = None,
) -> Prediction:
    """Run the probes and (with ``generate``) Stage I per window and Stage II on ``features`` (S, D)."""
    import torch

    from crosstrainer.errors import ModelError
    from crosstrainer.model.crosstrainer import Turn

    m, vocab = parts.manifest, parts.vocabulary
    report = progress or (lambda stage, frac: None)
    if features.ndim != 2 or features.shape[1] != m.projector["in_dim"]:
        raise ModelError(f"{parts.folder}: expects (seconds, {m.projector['in_dim']}) features, got {features.shape}")
    levels = list(m.levels)
    with torch.inference_mode():
        projected = model.project(features).float().cpu().numpy()
    probe = parts.proficiency_probe
    pooled = projected.mean(0, keepdims=True)
    pred = Prediction(
        levels=levels,
        probs=probe.predict_proba(pooled)[0],
        logits=(pooled.astype(np.float64) @ probe.weight.T.astype(np.float64) + probe.bias)[0],
        attribute_names=list(vocab.names),
        attribute_timeline=parts.attribute_probe.predict_proba(projected),
    )
    if not generate:
        return pred
    spans = window_spans(len(features), m.stage1_window_s)
    report("attributes", 0.0)
    with torch.inference_mode():
        for i in range(0, len(spans), STAGE1_BATCH):
            batch = spans[i : i + STAGE1_BATCH]
            turns = [Turn(features[a:b], prompts.stage1_user(sport)) for a, b in batch]
            answers = model.generate(turns, max_new_tokens=m.stage1_max_new_tokens)
            pred.windows += [WindowAnswer(a, b, text, probs) for (a, b), (text, probs) in zip(batch, answers)]
            report("attributes", min(1.0, (i + STAGE1_BATCH) / len(spans)))
        by_name: dict[str, AttributeSpans] = {}
        for w in pred.windows:
            ids = model.tokenizer(w.text, add_special_tokens=False)["input_ids"]
            for name in prompts.parse_attributes(w.text):
                canon = vocab.get(name)
                rec = by_name.setdefault(canon.name if canon else name, AttributeSpans(canon.name if canon else name))
                rec.in_vocabulary = canon is not None
                rec.spans.append((w.start, w.end))
                rec.confidences.append(span_confidence(model.tokenizer, ids, w.token_probs[: len(ids)], name))
        pred.attributes = sorted(by_name.values(), key=lambda r: -r.confidence)
        report("feedback", 0.0)
        turn = Turn(features, prompts.stage2_user(sport, list(by_name)))
        ((pred.llm_text, _),) = model.generate([turn], max_new_tokens=m.stage2_max_new_tokens)
    pred.llm_level, pred.feedback = prompts.parse_stage2(pred.llm_text, levels)
    pred.generated = True
    return pred
