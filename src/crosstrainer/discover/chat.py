"""What the two LLM backends share: prompt, cache lookup, JSON validation with a repair round-trip, concurrency.

A backend only implements ``complete(messages) -> str``; :meth:`ChatBackend.extract` does the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

from crosstrainer.discover.cache import ResponseCache
from crosstrainer.discover.items import Item
from crosstrainer.discover.prompt import REPAIR_MESSAGE, Extraction, ReplyError, build_messages, parse_reply


class ChatBackend:
    """Base class of the LLM extractors (``name`` is the backend, ``model_id`` keys the cache)."""

    name = "chat"
    model_id = "unknown"
    concurrency = 1
    parse_retries = 2

    def __init__(self, cache: ResponseCache | None = None) -> None:
        self.cache = cache
        self.requests = 0
        self._count_lock = threading.Lock()

    def complete(self, messages: list[dict[str, str]]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _complete_counted(self, messages: list[dict[str, str]]) -> str:
        with self._count_lock:
            self.requests += 1
        return self.complete(messages)

    def extract_one(self, item: Item) -> Extraction:
        """Attributes of one comment: from the cache, or asked (and re-asked while the reply is not valid JSON)."""
        messages = build_messages(item.text, item.sport)
        key = ResponseCache.key(self.model_id, messages) if self.cache else ""
        if self.cache is not None:
            cached = self.cache.get(key)
            if cached is not None:
                try:
                    return parse_reply(cached)
                except ReplyError:
                    pass
        convo = messages
        error = ""
        for _ in range(self.parse_retries + 1):
            reply = self._complete_counted(convo)
            try:
                result = parse_reply(reply)
            except ReplyError as exc:
                error = str(exc)
                convo = [
                    *messages,
                    {"role": "assistant", "content": reply},
                    {"role": "user", "content": REPAIR_MESSAGE},
                ]
                continue
            if self.cache is not None:
                self.cache.put(key, self.model_id, reply)
            return result
        return Extraction(error=error)

    def extract(self, items: list[Item], progress: Callable[[int], None] | None = None) -> list[Extraction]:
        """Extractions in ``items`` order, ``concurrency`` requests in flight; the first fatal error stops all."""
        results: list[Extraction | None] = [None] * len(items)
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            futures = {pool.submit(self.extract_one, it): i for i, it in enumerate(items)}
            try:
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    if progress is not None:
                        progress(1)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        return [r if r is not None else Extraction(error="not run") for r in results]
