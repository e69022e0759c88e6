"""The few-shot prompt both LLM backends send, and the parser that validates (and repairs) the JSON reply.

The model is asked, per comment, "which skill-attributes should this person improve?" and replies::

    {"praise": false, "attributes": [{"name": "hip alignment", "evidence": "bent at the hips as he entered"}]}

``praise`` is true when the comment only praises (then ``attributes`` is empty).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

SYSTEM_PROMPT = (
    "You are an expert coach. You read one comment an expert made about a person performing a physical skill "
    "and list the skill-attributes the person should improve. A skill-attribute is a short, general concept "
    "(2-4 words) that means the same in every sport, such as balance, posture, hip alignment, knee alignment, "
    "hand positioning, footwork, timing, coordination, range of motion, body alignment, entry and landing technique. "
    "Only list what the comment says needs improving; praise is not something to improve. "
    'Reply with JSON only: {"praise": <true if the comment only praises>, "attributes": '
    '[{"name": "<attribute>", "evidence": "<the words of the comment that show it>"}]}.'
)

FEW_SHOT: list[tuple[str, str, dict]] = [
    (
        "basketball",
        "He needs to bend his knees more before the shot and his elbow flares out.",
        {
            "praise": False,
            "attributes": [
                {"name": "knee alignment", "evidence": "bend his knees more before the shot"},
                {"name": "elbow position", "evidence": "his elbow flares out"},
            ],
        },
    ),
    ("diving", "Beautiful entry, he ripped that one with barely a splash.", {"praise": True, "attributes": []}),
    (
        "diving",
        "Nice height off the board but the legs came apart and she went over on the entry.",
        {
            "praise": False,
            "attributes": [
                {"name": "leg position", "evidence": "the legs came apart"},
                {"name": "entry and landing technique", "evidence": "went over on the entry"},
            ],
        },
    ),
]


def build_messages(text: str, sport: str | None = None) -> list[dict[str, str]]:
    """Chat messages (system, few-shot pairs, the comment) for one comment."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for shot_sport, shot_text, answer in FEW_SHOT:
        messages.append({"role": "user", "content": _user(shot_text, shot_sport)})
        messages.append({"role": "assistant", "content": json.dumps(answer)})
    messages.append({"role": "user", "content": _user(text, sport)})
    return messages


def _user(text: str, sport: str | None) -> str:
    return f"Sport: {sport or 'unknown'}\nComment: {text}\nWhich skill-attributes should this person improve?"


REPAIR_MESSAGE = (
    'Your reply was not valid JSON. Reply again with JSON only, exactly {"praise": ..., "attributes": [...]}.'
)


class ReplyError(ValueError):
    """The reply is not the JSON asked for, even after repair."""


@dataclass
class Extraction:
    """What one comment yields: raw attribute names (not yet canonical), evidence, and whether it is praise."""

    attributes: list[str] = field(default_factory=list)
    praise: bool = False
    evidence: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def repair_json(text: str) -> str:
    """Best-effort clean-up of an LLM's JSON: code fences, prose around it, trailing commas, Python literals."""
    s = text.strip()
    fence = re.search(r"```(?:json|JSON)?\s*(.*?)```", s, flags=re.S)
    if fence:
        s = fence.group(1).strip()
    starts = [i for i in (s.find("{"), s.find("[")) if i >= 0]
    if starts:
        start = min(starts)
        end = max(s.rfind("}"), s.rfind("]"))
        s = s[start : end + 1] if end > start else s[start:]
    s = re.sub(r",\s*([}\]])", r"\1", s)
    s = re.sub(r"\bTrue\b", "true", re.sub(r"\bFalse\b", "false", re.sub(r"\bNone\b", "null", s)))
    if '"' not in s and "'" in s:
        s = s.replace("'", '"')
    # close brackets a truncated reply left open
    opened = []
    for ch in re.sub(r'"(?:\\.|[^"\\])*"', "", s):
        if ch in "{[":
            opened.append("}" if ch == "{" else "]")
        elif ch in "}]" and opened:
            opened.pop()
    return s + "".join(reversed(opened))


def _clean_name(name: str) -> str:
    name = re.sub(r"[^a-z0-9 /&'-]+", " ", name.lower())
    return " ".join(name.split())[:60].strip()


def parse_reply(text: str) -> Extraction:
    """Parse and validate a reply; raises :class:`ReplyError` when no usable JSON can be recovered."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        try:
            data = json.loads(repair_json(text or ""))
        except json.JSONDecodeError as exc:
            raise ReplyError(f"reply is not JSON: {str(text)[:80]!r}") from exc
    if isinstance(data, list):
        data = {"attributes": data}
    if not isinstance(data, dict):
        raise ReplyError("reply JSON is not an object")
    raw = data.get("attributes", data.get("skill_attributes", []))
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ReplyError("'attributes' is not a list")
    out = Extraction()
    for entry in raw:
        if isinstance(entry, str):
            name, evidence = entry, ""
        elif isinstance(entry, dict) and isinstance(entry.get("name", entry.get("attribute")), str):
            name = entry.get("name", entry.get("attribute"))
            evidence = str(entry.get("evidence") or "")
        else:
            raise ReplyError(f"attribute entry {entry!r} has no name")
        name = _clean_name(name)
        if name and name not in out.attributes:
            out.attributes.append(name)
            if evidence:
                out.evidence[name] = evidence[:200]
    praise = data.get("praise", False)
    out.praise = bool(praise is True or str(praise).lower() == "true") and not out.attributes
    return out
