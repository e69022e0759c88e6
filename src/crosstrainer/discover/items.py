"""Commentary items: what discovery reads, and the per-item record it writes.

Accepted inputs (``read_items``):

* ``comments.txt``: one comment per line (blank lines and ``#`` lines skipped), ids ``<stem>:<line>``;
* ``comments.jsonl`` / ``.json``: ``{"text": "...", "sport": "diving", "time_s": 12.4, "id": "a1"}`` per line
  (only ``text`` is required), or crosstrainer :class:`~crosstrainer.data.sample.Sample` records (they have
  ``commentary``): one item per comment;
* ``NAME:PATH``: a dataset adapter, e.g. ``mtl_aqa:/data/mtl_aqa``.

Each output line of ``--items`` (an :class:`ItemResult`)::

    {"id": "mtl_aqa/01_004", "sport": "diving", "text": "... a little bent at the hips as he entered ...",
     "time_s": 12.4, "window": [7.4, 12.4], "attributes": ["hip alignment"], "praise": false,
     "evidence": {"hip alignment": "a little bent at the hips"}, "praised": []}

``praised`` names what the comment praises (never something to improve); a comment without attributes carries a
``reason`` (``"praise only (entry and landing technique)"``, ``"no corrective clause ..."``, ``"below --min-count 2:
pike (1 comment)"``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crosstrainer.data.sample import Sample
from crosstrainer.errors import InputNotFoundError, InvalidAnnotationError


@dataclass
class Item:
    """One comment to extract attributes from."""

    id: str
    text: str
    sport: str | None = None
    time_s: float | None = None


@dataclass
class ItemResult:
    """The attributes found in one comment (``attributes`` are canonical vocabulary names)."""

    id: str
    text: str
    sport: str | None
    time_s: float | None
    window: list[float] | None
    attributes: list[str]
    praise: bool
    evidence: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    praised: list[str] = field(default_factory=list)
    reason: str | None = None

    def to_json(self) -> str:
        data = asdict(self)
        for key in ("error", "reason"):
            if data[key] is None:
                del data[key]
        return json.dumps(data, ensure_ascii=False)


def window_for(time_s: float | None, width_s: float) -> list[float] | None:
    """The window ``[time - width, time]`` (clipped at 0) a comment's attributes attach to; ``None`` without a time."""
    if time_s is None:
        return None
    return [round(max(0.0, time_s - width_s), 3), round(float(time_s), 3)]


def items_from_samples(samples: list[Sample], default_sport: str | None = None) -> list[Item]:
    """One item per commentary entry: ids are the sample id, plus ``#k`` when a sample has several comments."""
    items = []
    for s in samples:
        for k, c in enumerate(s.commentary):
            if not c.text or not c.text.strip():
                continue
            item_id = s.id if len(s.commentary) == 1 else f"{s.id}#{k}"
            items.append(Item(item_id, c.text.strip(), s.sport or default_sport, c.time_s))
    return items


def _record_items(records: list[Any], where: str, default_sport: str | None) -> list[Item]:
    items: list[Item] = []
    for n, rec in enumerate(records, 1):
        if not isinstance(rec, dict):
            raise InvalidAnnotationError(f"{where}: record {n} is not a JSON object")
        if "commentary" in rec:
            try:
                items.extend(items_from_samples([Sample.model_validate(rec)], default_sport))
            except ValidationError as exc:
                raise InvalidAnnotationError(
                    f"{where}: record {n} is not a valid sample ({exc.errors()[0]['msg']})"
                ) from exc
            continue
        text = rec.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidAnnotationError(f"{where}: record {n} has no 'text'")
        time_s = rec.get("time_s")
        if time_s is not None and not isinstance(time_s, (int, float)):
            raise InvalidAnnotationError(f"{where}: record {n}: time_s must be a number")
        item_id = str(rec.get("id", f"{Path(where).stem}:{n}"))
        items.append(Item(item_id, text.strip(), rec.get("sport") or default_sport, time_s))
    return items


def read_items(spec: str | Path, default_sport: str | None = None) -> list[Item]:
    """Read commentary items from a text/JSONL/JSON file or a ``NAME:PATH`` dataset (see the module docstring)."""
    spec = str(spec)
    path = Path(spec)
    name, sep, _ = spec.partition(":")
    if not path.exists() and sep and name.isidentifier() and len(name) > 1:
        from crosstrainer.data.registry import load_samples

        items = items_from_samples(load_samples(spec), default_sport)
    elif not path.is_file():
        raise InputNotFoundError(f"commentary input not found: {spec}")
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidAnnotationError(f"{path}: not UTF-8 text") from exc
        if path.suffix == ".jsonl":
            records = []
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise InvalidAnnotationError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
            items = _record_items(records, str(path), default_sport)
        elif path.suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidAnnotationError(f"{path}: not valid JSON ({exc.msg})") from exc
            items = _record_items(data if isinstance(data, list) else [data], str(path), default_sport)
        else:
            items = [
                Item(f"{path.stem}:{n}", line.strip(), default_sport)
                for n, line in enumerate(text.splitlines(), 1)
                if line.strip() and not line.lstrip().startswith("#")
            ]
    if not items:
        raise InvalidAnnotationError(f"{spec}: no commentary found")
    ids = [it.id for it in items]
    if len(set(ids)) != len(ids):
        raise InvalidAnnotationError(f"{spec}: item ids are not unique")
    return items
