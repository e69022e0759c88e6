"""Discovery end to end: items -> extractor -> canonical vocabulary + per-item records.

>>> cfg = DiscoverConfig(backend="offline", min_count=1)
>>> items = read_items("comments.txt", default_sport="diving")
>>> results, vocab = discover(items, cfg)
>>> vocab.save("vocab.json"); write_items("items.jsonl", results)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crosstrainer.attributes.canonicalize import canonicalize, load_seed_vocabulary
from crosstrainer.attributes.vocabulary import Vocabulary, normalise_name
from crosstrainer.discover.cache import ResponseCache
from crosstrainer.discover.config import DiscoverConfig
from crosstrainer.discover.items import Item, ItemResult, window_for
from crosstrainer.errors import InvalidAnnotationError
from crosstrainer.fileio import atomic_write


def make_backend(config: DiscoverConfig, cache_dir: str | Path | None = None) -> Any:
    """The extractor named by ``config.backend`` (with a response cache for the LLM backends)."""
    if config.backend == "offline":
        from crosstrainer.discover.offline import OfflineExtractor

        return OfflineExtractor(config)
    cache_dir = config.cache_dir or cache_dir
    cache = ResponseCache(cache_dir) if (config.use_cache and cache_dir) else None
    if config.backend == "openai":
        from crosstrainer.discover.http_backend import OpenAIChatBackend

        return OpenAIChatBackend(config, cache)
    from crosstrainer.discover.local_backend import TransformersChatBackend

    return TransformersChatBackend(config, cache)


class NoAttributesError(InvalidAnnotationError):
    """No attribute reached ``min_count``; ``results`` still holds every comment with the reason it gave nothing."""

    def __init__(self, message: str, results: list[ItemResult]) -> None:
        super().__init__(message)
        self.results = results


def _reason(ext: Any, raw_kept: list[str], min_count: int, raw_counts: Counter) -> str:
    """Why a comment ended with no attribute."""
    if ext.error is not None:
        return f"extraction failed: {ext.error}"
    if ext.attributes and not raw_kept:
        dropped = ", ".join(f"{n} ({raw_counts[n]} comment{'s' * (raw_counts[n] != 1)})" for n in ext.attributes)
        return f"below --min-count {min_count}: {dropped}"
    reason = getattr(ext, "reason", None)
    if reason:
        return reason
    return "praise only" if ext.praise else "the extractor named no attribute"


def _tried(backend: Any, config: DiscoverConfig, seed: Vocabulary) -> str:
    if getattr(backend, "name", "") == "offline":
        from crosstrainer.discover.offline import INSTRUCTION_DROP

        return (
            f"offline extractor: clauses with an instruction, a fault description or a correction cue matched to "
            f"{len(seed.attributes)} seed attributes by MiniLM similarity >= "
            f"{max(0.0, config.seed_threshold - INSTRUCTION_DROP):.2f} (>= {config.seed_threshold:.2f} without a cue)"
        )
    return f"{getattr(backend, 'name', 'extractor')} backend, model {getattr(backend, 'model_id', None)}"


def discover(
    items: list[Item],
    config: DiscoverConfig,
    backend: Any = None,
    progress: Callable[[int], None] | None = None,
    source: str = "",
) -> tuple[list[ItemResult], Vocabulary]:
    """Extract, canonicalise and window: per-item results (input order) and the vocabulary."""
    backend = backend or make_backend(config)
    extractions = backend.extract(items, progress=progress)
    seed = load_seed_vocabulary(config.seed_vocabulary)
    vocab, canonical = canonicalize(items, extractions, config, seed=seed)
    raw_counts: Counter = Counter(n for e in extractions for n in set(e.attributes))
    results = []
    for item, ext, names in zip(items, extractions, canonical, strict=True):
        evidence = {}
        for raw, ev in ext.evidence.items():
            for n in names:
                attr = vocab.get(n)
                spellings = {n, *(normalise_name(s) for s in (attr.synonyms if attr else []))}
                if n not in evidence and normalise_name(raw) in spellings:
                    evidence[n] = ev
        results.append(
            ItemResult(
                id=item.id,
                text=item.text,
                sport=item.sport,
                time_s=item.time_s,
                window=window_for(item.time_s, config.window_s),
                attributes=names,
                praise=ext.praise and not names,
                evidence=evidence,
                error=ext.error,
                praised=list(getattr(ext, "praised", []) or []),
                reason=None if names else _reason(ext, names, config.min_count, raw_counts),
            )
        )
    if not vocab.attributes:
        kinds = Counter(
            "failed"
            if r.error
            else "below"
            if (r.reason or "").startswith("below --min-count")
            else "praise"
            if r.praise
            else "unmatched"
            if (r.reason or "").startswith("corrective clause")
            else "none"
            for r in results
        )
        below = ", ".join(f"{n} ({c})" for n, c in raw_counts.most_common(5))
        raise NoAttributesError(
            f"{source or 'input'}: no skill-attribute seen in at least {config.min_count} of {len(items)} comments. "
            f"Tried: {_tried(backend, config, seed)}. Result: {kinds['below']} comments named an attribute seen in "
            f"fewer than --min-count {config.min_count} comments{f' ({below})' if below else ''}, "
            f"{kinds['praise']} praise only, {kinds['unmatched']} corrective but matched no seed attribute, "
            f"{kinds['none']} with no corrective clause"
            + (f", {kinds['failed']} failed" if kinds["failed"] else "")
            + (" (lower --min-count)" if kinds["below"] else ""),
            results,
        )
    n_failed = sum(r.error is not None for r in results)
    vocab.meta = {
        "source": source,
        "extractor": backend.name,
        "model": getattr(backend, "model_id", None),
        "n_items": len(items),
        "n_praise": sum(r.praise for r in results),
        "n_with_attributes": sum(bool(r.attributes) for r in results),
        "n_failed": n_failed,
        "sports": sorted({i.sport for i in items if i.sport}),
        "config": config.model_dump(exclude={"cache_dir"}),
    }
    return results, vocab


def write_items(path: str | Path, results: list[ItemResult]) -> None:
    """Write per-item results as JSONL (atomically)."""
    with atomic_write(path) as fh:
        for r in results:
            fh.write(r.to_json() + "\n")
