"""Small helpers shared by the dataset adapters: strict JSON reading with one-line errors, path resolution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crosstrainer.errors import InputNotFoundError, InvalidAnnotationError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


def read_json(path: Path) -> Any:
    """Parse a JSON file; a missing file, bad JSON or an empty document is a one-line error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidAnnotationError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from exc
    if not text.strip():
        raise InvalidAnnotationError(f"{path}: the file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidAnnotationError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if data in ({}, [], None):
        raise InvalidAnnotationError(f"{path}: the file holds no annotations")
    return data


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Parse a JSON-lines file (blank lines skipped); every record must be an object."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: file not found")
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidAnnotationError(f"{path} line {lineno}: not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                kind = type(record).__name__
                raise InvalidAnnotationError(f"{path} line {lineno}: expected a JSON object, got {kind}")
            records.append(record)
    if not records:
        raise InvalidAnnotationError(f"{path}: the file holds no records")
    return records


def resolve(root: Path, rel: str | None) -> str | None:
    """Join a dataset-relative path to its root (absolute paths and None pass through)."""
    if not rel:
        return None
    p = Path(rel)
    return str(p if p.is_absolute() else (root / p))
