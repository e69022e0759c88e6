"""Your own sport: a plain folder of videos plus one CSV or JSONL of labels and comments.

Layout::

    my_sport/
      labels.csv            # or labels.jsonl (any single *.csv / *.jsonl in the folder is found)
      videos/serve_001.mp4  # anywhere under the folder
      serve_002.mp4

``labels.csv``: one row per comment; rows with the same ``video`` belong to one sample. Only ``video`` is
required (a path relative to the folder, or just the file name)::

    video,proficiency,sport,participant,time_s,comment,split
    videos/serve_001.mp4,Novice,tennis,p01,2.5,Toss the ball higher.,train
    videos/serve_001.mp4,Novice,tennis,p01,4.0,Finish the swing across the body.,train
    serve_002.mp4,Late Expert,tennis,p02,,,val

(``label`` is accepted for ``proficiency``; ``comment``, ``comments``, ``feedback`` or ``text`` for the comment.)

``labels.jsonl``: one object per video::

    {"video": "videos/serve_001.mp4", "proficiency": "Novice", "sport": "tennis", "participant": "p01",
     "comments": [{"text": "Toss the ball higher.", "time_s": 2.5}, "Finish the swing across the body."]}

Videos without a label row become unlabelled samples (``include_unlabelled=True``); a label row naming a video
that is not in the folder is an error naming the labels file and line.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from crosstrainer.data._io import VIDEO_EXTENSIONS, read_jsonl
from crosstrainer.data.sample import Commentary, Sample
from crosstrainer.errors import InputNotFoundError, InvalidAnnotationError

_COMMENT_KEYS = ("comment", "comments", "feedback", "text")
_LABEL_KEYS = ("proficiency", "proficiency_level", "label")


def find_labels(root: Path) -> Path | None:
    """``labels.csv``/``labels.jsonl`` if present, else the only CSV/JSONL file directly in ``root``."""
    for name in ("labels.csv", "labels.jsonl"):
        if (root / name).is_file():
            return root / name
    candidates = sorted([*root.glob("*.csv"), *root.glob("*.jsonl")])
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise InvalidAnnotationError(f"{root}: several label files ({names}); name one with labels=PATH")
    return candidates[0] if candidates else None


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".jsonl":
        return list(enumerate(read_jsonl(path), start=1))
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "video" not in [f.strip().lower() for f in reader.fieldnames]:
                raise InvalidAnnotationError(f"{path}: a header row with a 'video' column is required")
            rows = [
                (i, {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()})
                for i, row in enumerate(reader, start=2)
            ]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidAnnotationError(f"{path}: not a readable CSV ({exc})") from exc
    if not rows:
        raise InvalidAnnotationError(f"{path}: the file has a header but no rows")
    return rows


def _comments(value: Any, time: Any, where: str) -> list[Commentary]:
    items = value if isinstance(value, list) else [value] if value not in (None, "") else []
    out = []
    for item in items:
        if isinstance(item, dict):
            if not str(item.get("text", "")).strip():
                continue
            out.append(Commentary(**{**item, "text": str(item["text"]).strip()}))
        elif str(item).strip():
            try:
                time_s = float(time) if time not in (None, "") else None
            except (TypeError, ValueError) as exc:
                raise InvalidAnnotationError(f"{where}: time_s {time!r} is not a number") from exc
            out.append(Commentary(text=str(item).strip(), time_s=time_s))
    return out


def load_folder(
    root: str | Path, labels: str | Path | None = None, include_unlabelled: bool = True, source: str = "folder"
) -> list[Sample]:
    """One sample per video under ``root``, labels and comments joined from the labels file."""
    root = Path(root)
    if not root.is_dir():
        raise InputNotFoundError(f"{root}: video folder not found")
    files = sorted(root.rglob("*"))
    videos = {p.relative_to(root).as_posix(): p for p in files if p.suffix.lower() in VIDEO_EXTENSIONS}
    by_name: dict[str, list[str]] = {}
    for rel in videos:
        by_name.setdefault(Path(rel).name, []).append(rel)
    label_path = Path(labels) if labels else find_labels(root)
    if label_path is not None and not label_path.is_file():
        raise InputNotFoundError(f"{label_path}: labels file not found")
    samples: dict[str, Sample] = {}
    for lineno, row in _read_rows(label_path) if label_path else []:
        where = f"{label_path} line {lineno}"
        name = str(row.get("video") or "").strip().replace("\\", "/")
        if not name:
            raise InvalidAnnotationError(f"{where}: empty 'video'")
        rel = name if name in videos else (by_name.get(Path(name).name) or [None])[0]
        if rel is None:
            raise InvalidAnnotationError(f"{where}: video {name!r} is not in {root}")
        sample = samples.setdefault(
            rel, Sample(id=f"{source}/{Path(rel).with_suffix('').as_posix()}", source=source, video=str(videos[rel]))
        )
        level = next((row[k] for k in _LABEL_KEYS if row.get(k) not in (None, "")), None)
        if level is not None:
            sample.proficiency = str(level)
        for key in ("sport", "participant", "split"):
            if row.get(key) not in (None, ""):
                setattr(sample, key, str(row[key]))
        comment = next((row[k] for k in _COMMENT_KEYS if row.get(k) not in (None, "")), None)
        sample.commentary.extend(_comments(comment, row.get("time_s"), where))
    if include_unlabelled:
        for rel, path in videos.items():
            samples.setdefault(
                rel, Sample(id=f"{source}/{Path(rel).with_suffix('').as_posix()}", source=source, video=str(path))
            )
    if not samples:
        raise InputNotFoundError(f"{root}: no videos ({', '.join(VIDEO_EXTENSIONS)}) and no labels")
    for sample in samples.values():
        sample.commentary.sort(key=lambda c: (c.time_s is None, c.time_s or 0.0))
    return sorted(samples.values(), key=lambda s: s.id)
