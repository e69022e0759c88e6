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
``proficiency``/``proficiency_level``/``label`` wins over that. ``video`` may be one path or a list of paths (as
Qwen-VL's fine-tuning loader, QwenLM/Qwen2.5-VL ``qwen-vl-finetune/qwenvl/data/data_processor.py``, accepts: one
``<video>`` placeholder per path): the first is the main video, the others ``view1``, ``view2``...; ``video_path``
and a ``videos`` list work the same way.

**Analysis JSONL** (``jsonl``; ProfVLM/SkillFormer-style), one object a line::

    {"video_path": "clips/0001.mp4", "analysis": "Good balance; bend the knees more on landing.",
     "proficiency_level": "Early Expert", "sport": "basketball"}
    {"video_paths": ["clips/0002_ego.mp4", "clips/0002_exo.mp4"], "analysis": "...", "proficiency_level": "Novice"}

``video_paths`` may be a list (first = main view, the rest ``view1``, ``view2``...) or a ``{view: path}`` object.
Optional keys: ``id``, ``sport``, ``participant``, ``split``. Without ``id`` the sample is named after the take
when the main video sits in Ego-Exo4D's ``takes/<take_name>/...`` (SkillFormer's files, EdoWhite/SkillFormer
``annotations/*.jsonl``, are ``{"video_paths": [ego, exo1..exo4], "analysis", "proficiency_level"}`` with no id,
and every take's ego file is ``aria01_214-1.mp4``), else after the video file. Relative video paths resolve
against ``video_root`` (default: the annotation file's folder). Levels that match Ego-Exo4D's four are
normalised; other labels are kept as written.
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


def _paths(value: Any) -> dict[str, str]:
    """``"a.mp4"`` -> ``{"view0": "a.mp4"}``; a list -> ``view0``, ``view1``...; an object is kept by name."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items() if v}
    if isinstance(value, (list, tuple)):
        return {f"view{i}": str(v) for i, v in enumerate(value) if v}
    if value:
        return {"view0": str(value)}
    return {}


def _record_video(rec: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
    """The main video and the other views of a record: ``video`` / ``video_path`` (a path, or a list as
    Qwen-VL's fine-tuning data allows: first = main) and ``video_paths`` / ``videos`` (list or object)."""
    views = _paths(rec.get("video") if rec.get("video") is not None else rec.get("video_path"))
    many = rec.get("video_paths") if rec.get("video_paths") is not None else rec.get("videos")
    for key, path in _paths(many).items():
        if path not in views.values():
            views[key if key not in views else f"view{len(views)}"] = path
    if not views:
        return None, {}
    main = views.pop(next(iter(views)))
    return main, views


def _take_name(video: str | None) -> str | None:
    """``"takes/<take_name>/frame_aligned_videos/..."`` (Ego-Exo4D's layout) -> ``<take_name>``."""
    parts = Path(video).parts if video else ()
    for i, part in enumerate(parts[:-2]):
        if part == "takes":
            return parts[i + 1]
    return None


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
                id=f"{source}/{rec.get('id') or _take_name(video) or Path(video).stem}",
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
