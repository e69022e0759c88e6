"""On-disk cache of LLM replies keyed by (model, prompt), so a rerun or a resumed run sends no request twice.

Layout: ``<cache_dir>/<k[:2]>/<k>.json`` with ``k = sha256({"model": ..., "messages": [...]})`` and content
``{"model": "gpt-4o", "reply": "{\\"praise\\": false, ...}"}``. Only replies that parsed are stored; each file is
written atomically, so an interrupted run leaves no half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from crosstrainer.fileio import atomic_write_json


class ResponseCache:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self.hits = 0

    @staticmethod
    def key(model: str, messages: list[dict[str, str]]) -> str:
        blob = json.dumps({"model": model, "messages": messages}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        path = self._path(key)
        try:
            reply = json.loads(path.read_text(encoding="utf-8"))["reply"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        with self._lock:
            self.hits += 1
        return reply if isinstance(reply, str) else None

    def put(self, key: str, model: str, reply: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"model": model, "reply": reply}, indent=None, ensure_ascii=False)
