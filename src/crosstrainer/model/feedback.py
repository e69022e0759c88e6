"""The feedback a user sees: checked model sentences plus sentences grounded in what was measured.

Rules (``compose_feedback``):

1. Every detected attribute (Stage I) gets one **grounded** line built from its measurement on this clip and the
   repetitions it showed in (``"Your trunk swings about 15 degrees during reps 2-4: brace your core ..."``); an
   attribute that cannot be measured on this clip gets its vocabulary feedback text.
2. A **model** line (Stage II) is kept only if it passes :func:`crosstrainer.text.validate.check_text`, names no
   vocabulary attribute that was not detected, and does not praise a clip the verdict says needs improvement.
3. With nothing detected and the verdict "needs improvement", the attribute that lowered the head's score most is
   explained (grounded); with nothing detected otherwise, a specific praise line. There is always one line.

Each line is ``FeedbackLine(text, source, attribute)`` with ``source`` ``"model"`` or ``"grounded"``; the
assessment JSON carries the texts in ``feedback`` and the sources in ``feedback_source``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

GENERIC_PRAISE = "Good, steady execution: nothing measured on this clip needs fixing."
NO_SINGLE_CAUSE = "The verdict rests on the movement as a whole: no single skill-attribute stood out on this clip."
_PRAISE = re.compile(r"^\s*(good form|great|well done|nice|excellent|perfect)\b", re.IGNORECASE)


@dataclass
class FeedbackLine:
    text: str
    source: str  # "model" or "grounded"
    attribute: str | None = None


def _mentions(sentence: str, names: list[str]) -> list[str]:
    low = " ".join(sentence.lower().replace("-", " ").split())
    return [n for n in names if re.search(rf"\b{re.escape(n)}\b", low)]


def check_model_sentence(
    sentence: str, vocabulary: list[str], detected: list[str], positive: bool, sure: bool = True
) -> list[str]:
    """Reasons to drop one Stage-II sentence (``[]`` keeps it). ``positive``: the verdict is the top level;
    ``sure``: the verdict's confidence is high. Stricter than :func:`check_text`: a model line may hold no unknown
    word at all (grounded lines are built from known words)."""
    from crosstrainer.text.validate import check_text, unknown_words

    reasons = check_text(sentence)
    unknown = unknown_words(sentence, [w for name in vocabulary for w in name.split()])
    if unknown and not reasons:
        reasons.append(f"unknown words: {', '.join(unknown[:4])}")
    if _PRAISE.match(sentence) and not sure:
        reasons.append("praise while the verdict's confidence is low")
    undetected = [n for n in _mentions(sentence, vocabulary) if n not in detected]
    if undetected:
        reasons.append(f"names attributes that were not detected: {', '.join(undetected)}")
    if _PRAISE.match(sentence) and (detected or not positive):
        reasons.append("praises a clip whose verdict or attributes say it needs work")
    return reasons


def compose_feedback(
    model_sentences: list[str],
    detected: list[str],
    measurements: dict[str, Any],
    reps: Any,
    vocabulary: Any,
    *,
    positive: bool,
    contributions: dict[str, float] | None = None,
    sure: bool = True,
) -> tuple[list[FeedbackLine], list[dict[str, Any]]]:
    """(lines to show, rejected model sentences with their reasons); see the module docstring."""
    from crosstrainer.movement.measures import grounded_sentence, praise_sentence

    def grounded(name: str) -> FeedbackLine | None:
        m = measurements.get(name)
        if m is not None:
            return FeedbackLine(grounded_sentence(m, reps), "grounded", name)
        attr = vocabulary.get(name)
        if attr is not None and attr.feedback:
            return FeedbackLine(attr.feedback[0], "grounded", name)
        if attr is not None and attr.definition:
            text = f"Work on your {name}: {attr.definition[0].lower()}{attr.definition[1:]}"
            return FeedbackLine(text, "grounded", name)
        return None

    lines: list[FeedbackLine] = [line for name in detected if (line := grounded(name)) is not None]
    rejected: list[dict[str, Any]] = []
    for sentence in dict.fromkeys(s.strip() for s in model_sentences if s.strip()):
        reasons = check_model_sentence(sentence, list(vocabulary.names), detected, positive, sure)
        if reasons:
            rejected.append({"text": sentence, "reasons": reasons})
        else:
            lines.append(FeedbackLine(sentence, "model"))
    if not detected and not positive and contributions:
        worst = min(contributions, key=lambda a: contributions[a])
        if contributions[worst] < 0 and (line := grounded(worst)) is not None:
            lines.insert(0, line)
    if not detected and positive and not any(line.source == "grounded" for line in lines):
        praise = praise_sentence(measurements) if measurements else ""
        if praise:
            lines.insert(0, FeedbackLine(praise, "grounded"))
    if not lines:
        text = (praise_sentence(measurements) or GENERIC_PRAISE) if positive else NO_SINGLE_CAUSE
        lines.append(FeedbackLine(text, "grounded"))
    return lines, rejected
