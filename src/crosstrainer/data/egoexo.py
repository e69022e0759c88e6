"""Ego-Exo4D as the ``egoexo`` download tool (package ``ego4d``) lays it out, into canonical samples.

Layout (only the annotation files are required; videos are referenced, never opened)::

    <root>/takes.json                                   # optional: take names, participants, video files
    <root>/annotations/expert_commentary_train.json     # also _val, _test (test: commentary redacted)
    <root>/annotations/proficiency_demonstrator_train.json
    <root>/takes/<take_name>/frame_aligned_videos/aria01_214-1.mp4, cam01.mp4, ...

``expert_commentary_<split>.json``::

    {"ds": "...", "annotations": {"<take_uid>": [
        {"take_name": "unc_basketball_03-31-23_02_12", "take_uid": "<take_uid>", "task_id": 3001,
         "task_name": "Basketball Drills - Mikan Layup", "commentary": "commentary_3",
         "commentary_data": [{"recording": "rec_0.webm", "video_time": 12.4,
                              "text": "He needs to bend his knees more.", "duration_approx": 4.1, "error": null}]}]}}

``proficiency_demonstrator_<split>.json``::

    [{"task_id": 3001, "task_name": "Basketball Drills - Mikan Layup", "scenario_name": "Basketball",
      "university_id": "unc", "origin_participant_id": 184, "take_uid": "<take_uid>",
      "video_paths": {"ego": "takes/<take_name>/frame_aligned_videos/aria01_214-1.mp4", "exo1": "...", "exo2": "..."},
      "proficiency_score": "Intermediate Expert"}]

One sample per take (``id`` = ``egoexo/<take_uid>``): every expert's comments merged (each keeps its ``expert``),
proficiency from the demonstrator file, video paths resolved against ``root``. In the test split the
commentary is redacted: those takes come out with an empty ``commentary`` and their proficiency label.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from crosstrainer.data._io import read_json, resolve
from crosstrainer.data.sample import EGOEXO_LEVELS, Commentary, Sample
from crosstrainer.errors import InputNotFoundError, InvalidAnnotationError

PROFICIENCY_LEVELS = EGOEXO_LEVELS
SPLITS: tuple[str, ...] = ("train", "val", "test")

# Keyword (lower case, searched in task then scenario name) -> sport. First match wins, so specific before general.
_SPORTS: tuple[tuple[str, str], ...] = (
    ("basketball", "basketball"),
    ("soccer", "soccer"),
    ("football", "soccer"),
    ("bouldering", "rock climbing"),
    ("rock climbing", "rock climbing"),
    ("climbing", "rock climbing"),
    ("dance", "dance"),
    ("dancing", "dance"),
    ("guitar", "music"),
    ("piano", "music"),
    ("violin", "music"),
    ("music", "music"),
    ("cooking", "cooking"),
    ("bike", "bike repair"),
    ("covid", "health"),
    ("cpr", "health"),
    ("first aid", "health"),
    ("health", "health"),
)


def normalize_proficiency(value: Any, where: str = "") -> str | None:
    """Map an Ego-Exo4D proficiency value to one of :data:`PROFICIENCY_LEVELS` (None stays None).

    Accepts the level strings in any case or with ``_``/``-`` separators (``"late_expert"``), and integers 0-3.

    >>> normalize_proficiency("intermediate_expert"), normalize_proficiency(0)
    ('Intermediate Expert', 'Novice')
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InvalidAnnotationError(f"{where}: proficiency {value!r} is not a level")
    if isinstance(value, (int, float)):
        if float(value).is_integer() and 0 <= int(value) < len(PROFICIENCY_LEVELS):
            return PROFICIENCY_LEVELS[int(value)]
        raise InvalidAnnotationError(f"{where}: proficiency score {value!r} is outside 0-3")
    key = re.sub(r"[\s_\-]+", " ", str(value)).strip().lower()
    for level in PROFICIENCY_LEVELS:
        if key == level.lower():
            return level
    if key.isdigit():
        return normalize_proficiency(int(key), where)
    raise InvalidAnnotationError(
        f"{where}: unknown proficiency {value!r} (expected one of {', '.join(PROFICIENCY_LEVELS)} or 0-3)"
    )


def sport_of(*names: str | None) -> str | None:
    """The sport named by a task or scenario name (``"Basketball Drills - Mikan Layup"`` -> ``"basketball"``)."""
    for name in names:
        low = (name or "").lower()
        for keyword, sport in _SPORTS:
            if keyword in low:
                return sport
    for name in names:  # unknown activity: keep the scenario/task name itself rather than guessing
        if name:
            return str(name).split(" - ")[0].strip().lower()
    return None


def _find(root: Path, pattern: str) -> list[Path]:
    """Annotation files matching ``pattern`` in root, root/annotations and one level below that."""
    found: list[Path] = []
    for base in (root, root / "annotations"):
        found += sorted(base.glob(pattern))
        if base.name == "annotations" and base.is_dir():
            found += sorted(base.glob(f"*/{pattern}"))
    return list(dict.fromkeys(found))


def _split_of(path: Path, prefix: str) -> str:
    return path.stem[len(prefix) :]


def _load_takes(root: Path) -> dict[str, dict[str, Any]]:
    for path in (root / "takes.json", root / "annotations" / "takes.json"):
        if path.is_file():
            data = read_json(path)
            if not isinstance(data, list):
                raise InvalidAnnotationError(f"{path}: expected a list of takes, got {type(data).__name__}")
            return {str(t["take_uid"]): t for t in data if isinstance(t, dict) and "take_uid" in t}
    return {}


def _views_from_take(root: Path, take: dict[str, Any]) -> dict[str, str]:
    """``{"ego": ..., "exo1": ...}`` from a takes.json entry's ``frame_aligned_videos``."""
    take_dir = root / str(take.get("root_dir") or Path("takes") / str(take.get("take_name", "")))
    views: dict[str, str] = {}
    exo = 0
    for cam, streams in sorted((take.get("frame_aligned_videos") or {}).items()):
        if not isinstance(streams, dict):
            continue
        stream = streams.get("rgb") or streams.get("0") or next(iter(streams.values()), None)
        rel = stream.get("relative_path") if isinstance(stream, dict) else None
        if not rel:
            continue
        if cam.lower().startswith("aria"):
            views.setdefault("ego", str(take_dir / rel))
        elif not cam.lower().startswith("collage"):
            exo += 1
            views[f"exo{exo}"] = str(take_dir / rel)
    return views


def _commentary_items(path: Path, take_uid: str, entries: Any) -> tuple[list[Commentary], dict[str, Any]]:
    if not isinstance(entries, list):
        entries = [entries]
    items: list[Commentary] = []
    info: dict[str, Any] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise InvalidAnnotationError(f"{path}: take {take_uid}: expected an object, got {type(entry).__name__}")
        for key in ("take_name", "task_id", "task_name"):
            if entry.get(key) is not None:
                info.setdefault(key, entry[key])
        for i, item in enumerate(entry.get("commentary_data") or []):
            if not isinstance(item, dict):
                raise InvalidAnnotationError(f"{path}: take {take_uid} comment {i}: expected an object")
            text = (item.get("text") or "").strip()
            if not text:  # redacted (test split) or a failed transcription
                continue
            time = item.get("video_time")
            try:
                time_s = None if time is None else float(time)
            except (TypeError, ValueError) as exc:
                raise InvalidAnnotationError(f"{path}: take {take_uid}: video_time {time!r} is not a number") from exc
            extra = {k: item[k] for k in ("duration_approx", "recording", "error") if item.get(k) is not None}
            items.append(Commentary(text=text, time_s=time_s, expert=entry.get("commentary"), **extra))
    items.sort(key=lambda c: (c.time_s is None, c.time_s or 0.0))
    return items, info


def load_egoexo(root: str | Path, split: str | None = None, view: str = "ego") -> list[Sample]:
    """Samples of every take in ``root``'s commentary and proficiency files (of one ``split``, or all).

    ``view`` picks which camera fills ``Sample.video`` (``"ego"``, ``"exo1"``...); all views go to ``views``.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputNotFoundError(f"{root}: Ego-Exo4D root folder not found")
    if split is not None and split not in SPLITS:
        raise InvalidAnnotationError(f"{root}: unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    commentary_files = _find(root, "expert_commentary_*.json")
    proficiency_files = _find(root, "proficiency_demonstrator_*.json")
    if split is not None:
        commentary_files = [p for p in commentary_files if _split_of(p, "expert_commentary_") == split]
        proficiency_files = [p for p in proficiency_files if _split_of(p, "proficiency_demonstrator_") == split]
    if not commentary_files and not proficiency_files:
        raise InputNotFoundError(
            f"{root}: no expert_commentary_{split or '<split>'}.json or proficiency_demonstrator_{split or '<split>'}"
            ".json here or in annotations/"
        )
    takes = _load_takes(root)
    samples: dict[str, Sample] = {}

    def sample_for(take_uid: str, split_name: str) -> Sample:
        if take_uid not in samples:
            take = takes.get(take_uid, {})
            views = _views_from_take(root, take) if take else {}
            samples[take_uid] = Sample(
                id=f"egoexo/{take_uid}",
                source="egoexo4d",
                participant=str(take["participant_uid"]) if take.get("participant_uid") is not None else None,
                views=views,
                split=split_name,
                meta={"take_uid": take_uid, **{k: take[k] for k in ("take_name", "duration_sec") if k in take}},
            )
        return samples[take_uid]

    for path in commentary_files:
        split_name = _split_of(path, "expert_commentary_")
        data = read_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("annotations"), dict):
            raise InvalidAnnotationError(f"{path}: expected an object with an 'annotations' mapping of take_uid")
        if not data["annotations"]:
            raise InvalidAnnotationError(f"{path}: 'annotations' is empty")
        for take_uid, entries in data["annotations"].items():
            items, info = _commentary_items(path, take_uid, entries)
            sample = sample_for(str(take_uid), split_name)
            sample.commentary.extend(items)
            for key, value in info.items():
                sample.meta.setdefault(key, value)

    for path in proficiency_files:
        split_name = _split_of(path, "proficiency_demonstrator_")
        data = read_json(path)
        if isinstance(data, dict):  # some releases wrap the list: {"annotations": [...]}
            data = data.get("annotations", data.get("takes"))
        if not isinstance(data, list):
            raise InvalidAnnotationError(f"{path}: expected a list of takes with proficiency_score")
        for i, rec in enumerate(data):
            if not isinstance(rec, dict) or "take_uid" not in rec:
                raise InvalidAnnotationError(f"{path}: entry {i} has no take_uid")
            take_uid = str(rec["take_uid"])
            sample = sample_for(take_uid, split_name)
            sample.proficiency = normalize_proficiency(rec.get("proficiency_score"), f"{path}: take {take_uid}")
            for key in ("task_id", "task_name", "scenario_name", "university_id"):
                if rec.get(key) is not None:
                    sample.meta.setdefault(key, rec[key])
            if sample.participant is None and rec.get("origin_participant_id") is not None:
                university = rec.get("university_id")
                pid = str(rec["origin_participant_id"])
                sample.participant = f"{university}_{pid}" if university else pid
            for name, rel in (rec.get("video_paths") or {}).items():
                if rel:
                    sample.views[name] = resolve(root, rel) or ""

    result = []
    for sample in samples.values():
        sample.sport = sport_of(sample.meta.get("task_name"), sample.meta.get("scenario_name"))
        sample.video = sample.views.get(view) or sample.views.get("ego") or next(iter(sample.views.values()), None)
        if sample.video is not None:
            sample.views = {k: v for k, v in sample.views.items() if v != sample.video}
        result.append(sample)
    return sorted(result, key=lambda s: (s.split or "", s.id))
