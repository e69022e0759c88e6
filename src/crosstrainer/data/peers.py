"""Peers' fine-tuning files, so their users can switch to CrossTrainer without re-annotating.

**LLaVA-style conversation JSON** (``llava``; Video-LLaVA, LLaVA-NeXT-Video, ExpertAF-style fine-tuning)::

    [{"id": "take_0001", "video": "videos/take_0001.mp4",
      "conversations": [
        {"from": "human", "value": "<video>\\nWhat should the player improve?"},
        {"from": "gpt", "value": "Keep the elbow under the ball and follow through."},
        {"from": "human", "value": "What is the proficiency level?"},
        {"from": "gpt", "value": "Intermediate Expert"}]}]

Every ``gpt`` answer becomes a commentary item (no time), except an answer that is only a proficiency level
(``"Late Expert"``, ``"Proficiency: Novice"``), which becomes the sample's ``proficiency``. A record-level
``proficiency``/``proficiency_level``/``label`` wins over that. ``video`` may also be ``video_path`` or a
``videos`` list (first = main view).

**Analysis JSONL** (``jsonl``; ProfVLM/SkillFormer-style), one object a line::

    {"video_path": "clips/0001.mp4", "analysis": "Good balance; bend the knees more on landing.",
     "proficiency_level": "Early Expert", "sport": "basketball"}
    {"video_paths": ["clips/0002_ego.mp4", "clips/0002_exo.mp4"], "analysis": "...", "proficiency_level": "Novice"}

``video_paths`` may be a list (first = main view, the rest ``view1``, ``view2``...) or a ``{view: path}`` object.
Optional keys: ``id``, ``sport``, ``participant``, ``split``. Relative video paths resolve against ``video_root``
(default: the annotation file's folder). Levels that match Ego-Exo4D's four are normalised; other labels are
kept as written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from crosstrainer.data._io import read_json, read_jsonl, resolve
from crosstrainer.data.egoexo import PROFICIENCY_LEVELS, normalize_proficiency
from crosstrainer.data.sample import Commentary, Sample
from crosstrainer.errors import InvalidAnnotationError

_LEVEL_ANSWER = re.compile(
    r"^(?:the\s+)?(?:proficiency(?:\s+level)?(?:\s+is)?\s*[:\-]?\s*)?(" + "|".join(PROFICIENCY_LEVELS) + r")\.?$",
    re.IGNORECASE,
)


def _level(value: Any, where: str) -> str | None:
    """Ego-Exo4D level when it is one, else the label as written (peers use their own label sets)."""
    try:
        return normalize_proficiency(value, where)
    except InvalidAnnotationError:
        return str(value).strip() or None


def _record_video(rec: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
    main = rec.get("video") or rec.get("video_path")
    views: dict[str, str] = {}
    many = rec.get("video_paths") if rec.get("video_paths") is not None else rec.get("videos")
    if isinstance(many, dict):
        views = {str(k): str(v) for k, v in many.items() if v}
    elif isinstance(many, list):
        views = {f"view{i}": str(v) for i, v in enumerate(many) if v}
    elif isinstance(many, str):
        views = {"view0": many}
    if main is None and views:
        first_key = next(iter(views))
        main = views.pop(first_key)
    return (str(main) if main else None), views


def load_llava(path: str | Path, video_root: str | Path | None = None, source: str = "llava") -> list[Sample]:
    """Samples from a LLaVA-style conversation JSON (a list of records with ``conversations``)."""
    path = Path(path)
    root = Path(video_root) if video_root else path.parent
    data = read_json(path)
    if not isinstance(data, list):
        raise InvalidAnnotationError(f"{path}: expected a list of conversation records, got {type(data).__name__}")
    samples = []
    for i, rec in enumerate(data):
        where = f"{path}: record {i}"
        if not isinstance(rec, dict) or not isinstance(rec.get("conversations"), list):
            raise InvalidAnnotationError(f"{where}: missing a 'conversations' list")
        video, views = _record_video(rec)
        commentary: list[Commentary] = []
        level = None
        for turn in rec["conversations"]:
            if not isinstance(turn, dict) or "value" not in turn:
                raise InvalidAnnotationError(f"{where}: each turn needs 'from' and 'value'")
            if str(turn.get("from", "")).lower() not in ("gpt", "assistant"):
                continue
            text = str(turn["value"]).strip()
            match = _LEVEL_ANSWER.match(text)
            if match:
                level = normalize_proficiency(match.group(1), where)
            elif text:
                commentary.append(Commentary(text=text))
        for key in ("proficiency", "proficiency_level", "label"):
            if rec.get(key) is not None:
                level = _level(rec[key], where)
                break
        samples.append(
            Sample(
                id=f"{source}/{rec.get('id', i)}",
                source=source,
                sport=rec.get("sport"),
                participant=rec.get("participant"),
                video=resolve(root, video),
                views={k: resolve(root, v) or "" for k, v in views.items()},
                commentary=commentary,
                proficiency=level,
                split=rec.get("split"),
            )
        )
    return samples


def load_analysis_jsonl(path: str | Path, video_root: str | Path | None = None, source: str = "jsonl") -> list[Sample]:
    """Samples from JSONL lines ``{video_path | video_paths, analysis, proficiency_level}``."""
    path = Path(path)
    root = Path(video_root) if video_root else path.parent
    samples = []
    for i, rec in enumerate(read_jsonl(path)):
        where = f"{path} line {i + 1}"
        video, views = _record_video(rec)
        if video is None:
            raise InvalidAnnotationError(f"{where}: needs 'video_path' or 'video_paths'")
        analysis = rec.get("analysis")
        texts = analysis if isinstance(analysis, list) else [analysis] if analysis else []
        level = rec.get("proficiency_level", rec.get("proficiency"))
        samples.append(
            Sample(
                id=f"{source}/{rec.get('id', Path(video).stem if video else i)}",
                source=source,
                sport=rec.get("sport"),
                participant=rec.get("participant"),
                video=resolve(root, video),
                views={k: resolve(root, v) or "" for k, v in views.items()},
                commentary=[Commentary(text=str(t).strip()) for t in texts if str(t).strip()],
                proficiency=_level(level, where) if level is not None else None,
                split=rec.get("split"),
            )
        )
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):  # two lines on the same video: make ids unique by line number
        for i, s in enumerate(samples):
            s.id = f"{s.id}#{i + 1}"
    return samples
