"""Ego-Exo4D as the ``egoexo`` download tool (package ``ego4d``) lays it out, into canonical samples.

Layout (only the annotation files are required; videos are referenced, never opened)::

    <root>/takes.json                                         # optional: take names, participants, video files
    <root>/annotations/expert_commentary_train.json           # also _val, _test (test: commentary redacted)
    <root>/annotations/proficiency_demonstrator_train.json    # the level of each take
    <root>/annotations/proficiency_demonstration_train.json   # timestamped good executions and tips
    <root>/takes/<take_name>/frame_aligned_videos/aria01_214-1.mp4, cam01.mp4, ...        (--parts takes)
    <root>/takes/<take_name>/frame_aligned_videos/downscaled/448/aria01_214-1.mp4, ...    (--parts downscaled_takes/448)

``expert_commentary_<split>.json`` (``commentary`` is ``<take_name>/<expert_uid>``; ``error`` is a bool, a failed
transcription carries ``_error_desc`` and is dropped, as the Ego4d expert-commentary tutorial does)::

    {"ds": "...", "annotations": {"<take_uid>": [
        {"take_name": "unc_basketball_03-31-23_02_12", "take_uid": "<take_uid>", "task_id": 3001,
         "task_name": "Basketball Drills - Mikan Layup", "commentary": "unc_basketball_03-31-23_02_12/e7f1a2",
         "commentary_data": [{"recording": "rec_0.webm", "video_time": 12.4,
                              "text": "He needs to bend his knees more.", "duration_approx": 4.1, "error": false}]}]}}

``proficiency_demonstrator_<split>.json`` (a list, or ``{"annotations": [...]}`` as the release ships it)::

    [{"task_id": 3001, "task_name": "Basketball Drills - Mikan Layup", "scenario_name": "Basketball",
      "university_id": "unc", "origin_participant_id": 184, "take_uid": "<take_uid>",
      "video_paths": {"ego": "takes/<take_name>/frame_aligned_videos/aria01_214-1.mp4", "exo1": "...", "exo2": "..."},
      "proficiency_score": "Intermediate Expert"}]

``proficiency_demonstration_<split>.json`` (same take fields; ``list`` is a Python list written as a string)::

    {"annotations": [{"task_id": 1005, ..., "take_uid": "<take_uid>", "video_paths": {...},
      "good_executions": [{"video_time": 360.18, "list": "['the water is just beginning to boil']",
                           "expert_uid": "d2vast", "video_name": "sfu_cooking_013_3"}],
      "tips_for_improvement": [{"video_time": 23.0, "list": "[\\"Steam or pan-fry the dumplings.\\"]", ...}]}]}

One sample per take (``id`` = ``egoexo/<take_uid>``). ``commentary`` holds every expert's transcribed comments
(``source: "expert_commentary"``, ``expert`` = the expert uid) and, with ``feedback="all"`` (default), the
demonstration feedback: one comment per string of ``list`` (``source: "proficiency_demonstration"``, ``kind``
``"good execution"`` or ``"tip for improvement"``, ``expert`` = ``expert_uid``) whose ``window`` is the
``window_s`` seconds that end at ``video_time`` (the feedback refers to what the expert just watched).
``feedback="commentary"`` or ``"demonstration"`` keeps only one of the two. The proficiency comes from the
demonstrator file. In the test split the commentary is redacted: those takes come out with no comments and
their proficiency label.

Views: ``frame_aligned_videos`` of takes.json gives ``ego`` (the Aria RGB stream) and ``exo1``... (the other
cameras, sorted by camera id); ``collage`` and ``best_exo`` are skipped (a preview and a copy of one camera, as
Ego4d's own feature notebooks skip them). A proficiency file's ``video_paths`` name the benchmark's views and
win; a camera already there under another name is not repeated. ``meta["cameras"]`` maps each view to its
camera id (``{"ego": "aria01", "exo1": "cam01"}``).

Video files: the annotation files name the full-resolution videos; ``--parts downscaled_takes/448`` puts a 448 px
copy of each in ``frame_aligned_videos/downscaled/448/``. ``resolution="auto"`` (default) takes, per video,
the full-resolution file when it exists, else the 448 px one when that exists, else the path as written;
``"full"`` and ``"448"`` force one.
"""

from __future__ import annotations

import ast
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


RESOLUTIONS = ("auto", "full", "448")
_DOWNSCALED = Path("downscaled") / "448"
# frame_aligned_videos entries that are not a camera: a preview collage and a copy of the best exo camera
_NOT_CAMERAS = ("collage", "best_exo")


def video_path(root: Path, rel: str, resolution: str = "auto") -> str:
    """The file of one video named by an annotation (``takes/<take>/frame_aligned_videos/cam01.mp4``) at
    ``resolution``: ``"full"`` as named, ``"448"`` in ``downscaled/448/`` beside it, ``"auto"`` whichever exists
    (full first), else as named."""
    path = Path(resolve(root, rel) or rel)
    if path.parent.parts[-2:] == _DOWNSCALED.parts:  # already a downscaled path
        full, small = path.parent.parent.parent / path.name, path
        named = small
    else:
        full, small = path, path.parent / _DOWNSCALED / path.name
        named = full
    if resolution == "full":
        return str(full)
    if resolution == "448":
        return str(small)
    for candidate in (full, small):
        if candidate.is_file():
            return str(candidate)
    return str(named)


def _take_name_from(rel: str | None) -> str | None:
    """``"takes/<take_name>/frame_aligned_videos/..."`` -> ``<take_name>``."""
    parts = Path(rel).parts if rel else ()
    for i, part in enumerate(parts[:-1]):
        if part == "takes" and i + 1 < len(parts) - 1:
            return parts[i + 1]
    return None


def _views_from_take(root: Path, take: dict[str, Any], resolution: str) -> tuple[dict[str, str], dict[str, str]]:
    """``({"ego": path, "exo1": path...}, {"ego": "aria01", "exo1": "cam01"...})`` from a takes.json entry's
    ``frame_aligned_videos``: the Aria RGB stream is ego, every other camera an exo view (sorted by camera id);
    ``collage`` and ``best_exo`` are not cameras and are skipped."""
    take_dir = Path(str(take.get("root_dir") or Path("takes") / str(take.get("take_name", ""))))
    views: dict[str, str] = {}
    cameras: dict[str, str] = {}
    exo = 0
    for cam, streams in sorted((take.get("frame_aligned_videos") or {}).items()):
        if not isinstance(streams, dict) or cam.lower() in _NOT_CAMERAS:
            continue
        stream = streams.get("rgb") or streams.get("0") or next(iter(streams.values()), None)
        rel = stream.get("relative_path") if isinstance(stream, dict) else None
        if not rel:
            continue
        path = video_path(root, str(take_dir / rel), resolution)
        if cam.lower().startswith("aria"):
            if "ego" not in views:
                views["ego"], cameras["ego"] = path, cam
        else:
            exo += 1
            views[f"exo{exo}"], cameras[f"exo{exo}"] = path, cam
    return views, cameras


def _merge_views(sample: Sample, named: dict[str, str], root: Path, resolution: str) -> None:
    """Put a proficiency file's ``video_paths`` into the sample: they keep their names (the benchmark's views);
    views from takes.json showing the same file (camera) are dropped, the others are renumbered after them."""
    cameras: dict[str, str] = sample.meta.get("cameras", {})
    new_views: dict[str, str] = {}
    new_cams: dict[str, str] = {}
    for name, rel in named.items():
        if rel:
            new_views[str(name)] = video_path(root, str(rel), resolution)
            new_cams[str(name)] = Path(str(rel)).stem.split("_")[0]
    seen = {Path(p).name for p in new_views.values()}
    exo = sum(1 for n in new_views if n.startswith("exo"))
    for name, path in sample.views.items():
        if Path(path).name in seen or (name in new_views and not name.startswith("exo")):
            continue
        if name.startswith("exo") or name in new_views:
            exo += 1
            key = f"exo{exo}"
        else:
            key = name
        new_views[key] = path
        if name in cameras:
            new_cams[key] = cameras[name]
    sample.views = new_views
    sample.meta["cameras"] = new_cams


def _expert_id(commentary: Any) -> str | None:
    """``"<take_name>/<expert_uid>"`` -> ``<expert_uid>`` (a value without ``/`` is kept whole)."""
    if commentary is None:
        return None
    return str(commentary).rsplit("/", 1)[-1] or None


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
        expert = _expert_id(entry.get("commentary"))
        for i, item in enumerate(entry.get("commentary_data") or []):
            if not isinstance(item, dict):
                raise InvalidAnnotationError(f"{path}: take {take_uid} comment {i}: expected an object")
            if item.get("error"):  # a failed transcription (error: true, with _error_desc)
                continue
            text = (item.get("text") or "").strip()
            if not text:  # redacted (test split)
                continue
            time_s = _seconds(item.get("video_time"), path, take_uid)
            extra = {k: item[k] for k in ("duration_approx", "recording") if item.get(k) is not None}
            items.append(Commentary(text=text, time_s=time_s, expert=expert, source="expert_commentary", **extra))
    return items, info


def _seconds(value: Any, path: Path, take_uid: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidAnnotationError(f"{path}: take {take_uid}: video_time {value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidAnnotationError(f"{path}: take {take_uid}: video_time {value!r} is not a number") from exc


DEMONSTRATION_KINDS: tuple[tuple[str, str], ...] = (
    ("good_executions", "good execution"),
    ("tips_for_improvement", "tip for improvement"),
)


def _feedback_texts(value: Any, where: str) -> list[str]:
    """The strings of a demonstration entry's ``list``: a JSON list, or (as released) a Python list literal
    written as a string (``"['a', 'b']"``); a plain string is one text."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = [text]
        else:
            value = [text]
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidAnnotationError(f"{where}: 'list' must be a list of strings, got {type(value).__name__}")
    return [str(t).strip() for t in value if str(t).strip()]


def _demonstration_items(path: Path, take_uid: str, rec: dict[str, Any], window_s: float) -> list[Commentary]:
    items: list[Commentary] = []
    for key, kind in DEMONSTRATION_KINDS:
        entries = rec.get(key) or []
        if not isinstance(entries, list):
            raise InvalidAnnotationError(f"{path}: take {take_uid}: '{key}' must be a list")
        for i, entry in enumerate(entries):
            where = f"{path}: take {take_uid} {key}[{i}]"
            if not isinstance(entry, dict):
                raise InvalidAnnotationError(f"{where}: expected an object, got {type(entry).__name__}")
            time_s = _seconds(entry.get("video_time"), path, take_uid)
            window = None if time_s is None else (round(max(0.0, time_s - window_s), 3), round(time_s, 3))
            expert = entry.get("expert_uid")
            for text in _feedback_texts(entry.get("list"), where):
                items.append(
                    Commentary(
                        text=text,
                        time_s=time_s,
                        window=window,
                        expert=None if expert is None else str(expert),
                        source="proficiency_demonstration",
                        kind=kind,
                    )
                )
    return items


def _records(path: Path, what: str) -> list[Any]:
    data = read_json(path)
    if isinstance(data, dict):  # the release wraps the list: {"annotations": [...]}
        data = data.get("annotations", data.get("takes"))
    if not isinstance(data, list):
        raise InvalidAnnotationError(f"{path}: expected a list of takes with {what} (or {{'annotations': [...]}})")
    return data


FEEDBACK = ("all", "commentary", "demonstration")


def load_egoexo(
    root: str | Path,
    split: str | None = None,
    view: str = "ego",
    feedback: str = "all",
    window_s: float = 5.0,
    resolution: str | int = "auto",
) -> list[Sample]:
    """Samples of every take in ``root``'s commentary and proficiency files (of one ``split``, or all).

    ``view`` picks which camera fills ``Sample.video`` (``"ego"``, ``"exo1"``...); all views go to ``views``.
    ``feedback``: ``"all"`` (expert commentary and demonstration feedback), ``"commentary"`` or ``"demonstration"``;
    ``window_s``: width of the window ending at each demonstration feedback's time; ``resolution``: ``"auto"``,
    ``"full"`` or ``"448"`` (see the module docstring).
    """
    root = Path(root)
    if not root.is_dir():
        raise InputNotFoundError(f"{root}: Ego-Exo4D root folder not found")
    if split is not None and split not in SPLITS:
        raise InvalidAnnotationError(f"{root}: unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    if feedback not in FEEDBACK:
        raise InvalidAnnotationError(f"{root}: unknown feedback {feedback!r} (expected one of {', '.join(FEEDBACK)})")
    resolution = str(resolution)
    if resolution not in RESOLUTIONS:
        raise InvalidAnnotationError(f"{root}: unknown resolution {resolution!r} (expected auto, full or 448)")
    if not window_s > 0:
        raise InvalidAnnotationError(f"{root}: window_s must be positive, got {window_s!r}")
    prefixes = {
        "commentary": "expert_commentary_",
        "proficiency": "proficiency_demonstrator_",
        "demonstration": "proficiency_demonstration_",
    }
    files = {kind: _find(root, f"{prefix}*.json") for kind, prefix in prefixes.items()}
    if split is not None:
        files = {k: [p for p in v if _split_of(p, prefixes[k]) == split] for k, v in files.items()}
    if feedback == "demonstration":
        files["commentary"] = []
    elif feedback == "commentary":
        files["demonstration"] = []
    if not any(files.values()):
        s = split or "<split>"
        raise InputNotFoundError(
            f"{root}: no expert_commentary_{s}.json, proficiency_demonstrator_{s}.json or "
            f"proficiency_demonstration_{s}.json here or in annotations/"
        )
    takes = _load_takes(root)
    samples: dict[str, Sample] = {}

    def sample_for(take_uid: str, split_name: str) -> Sample:
        if take_uid not in samples:
            take = takes.get(take_uid, {})
            views, cameras = _views_from_take(root, take, resolution) if take else ({}, {})
            meta: dict[str, Any] = {"take_uid": take_uid}
            meta.update({k: take[k] for k in ("take_name", "duration_sec") if k in take})
            if cameras:
                meta["cameras"] = cameras
            samples[take_uid] = Sample(
                id=f"egoexo/{take_uid}",
                source="egoexo4d",
                participant=str(take["participant_uid"]) if take.get("participant_uid") is not None else None,
                views=views,
                split=split_name,
                meta=meta,
            )
        return samples[take_uid]

    def take_fields(sample: Sample, rec: dict[str, Any]) -> None:
        for key in ("task_id", "task_name", "scenario_name", "university_id", "take_name"):
            if rec.get(key) is not None:
                sample.meta.setdefault(key, rec[key])
        paths = rec.get("video_paths") or {}
        if not isinstance(paths, dict):
            raise InvalidAnnotationError(f"take {sample.meta['take_uid']}: 'video_paths' must be an object")
        name = next((n for n in map(_take_name_from, paths.values()) if n), None)
        if name:
            sample.meta.setdefault("take_name", name)
        if sample.participant is None and rec.get("origin_participant_id") is not None:
            university = rec.get("university_id")
            pid = str(rec["origin_participant_id"])
            sample.participant = f"{university}_{pid}" if university else pid
        if paths:
            _merge_views(sample, paths, root, resolution)

    for path in files["commentary"]:
        split_name = _split_of(path, prefixes["commentary"])
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

    for path in files["proficiency"]:
        split_name = _split_of(path, prefixes["proficiency"])
        for i, rec in enumerate(_records(path, "proficiency_score")):
            if not isinstance(rec, dict) or "take_uid" not in rec:
                raise InvalidAnnotationError(f"{path}: entry {i} has no take_uid")
            take_uid = str(rec["take_uid"])
            sample = sample_for(take_uid, split_name)
            sample.proficiency = normalize_proficiency(rec.get("proficiency_score"), f"{path}: take {take_uid}")
            take_fields(sample, rec)

    for path in files["demonstration"]:
        split_name = _split_of(path, prefixes["demonstration"])
        for i, rec in enumerate(_records(path, "good_executions and tips_for_improvement")):
            if not isinstance(rec, dict) or "take_uid" not in rec:
                raise InvalidAnnotationError(f"{path}: entry {i} has no take_uid")
            take_uid = str(rec["take_uid"])
            sample = sample_for(take_uid, split_name)
            sample.commentary.extend(_demonstration_items(path, take_uid, rec, float(window_s)))
            take_fields(sample, rec)

    result = []
    for sample in samples.values():
        sample.commentary.sort(key=lambda c: (c.time_s is None, c.time_s or 0.0))
        sample.sport = sport_of(sample.meta.get("task_name"), sample.meta.get("scenario_name"))
        sample.video = sample.views.get(view) or sample.views.get("ego") or next(iter(sample.views.values()), None)
        if sample.video is not None:
            main = next((k for k, v in sample.views.items() if v == sample.video), None)
            sample.views = {k: v for k, v in sample.views.items() if v != sample.video}
            if main is not None:
                sample.meta["view"] = main
        result.append(sample)
    return sorted(result, key=lambda s: (s.split or "", s.id))
