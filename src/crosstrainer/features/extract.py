"""Run an encoder over samples into the feature cache: resumable, sharded, and failures reported, not fatal.

>>> report = extract_features(samples, build_encoder("precomputed", root="feats/"), "cache/")  # doctest: +SKIP
>>> report.extracted, report.cached, len(report.failures)                                     # doctest: +SKIP
(118, 0, 2)

- **Resume**: clips whose file is already in the cache are skipped, so after a kill the same command goes on.
- **Failures**: an error on one clip (missing video, corrupt file, nobody in frame) is written to
  ``failures.jsonl`` (``{"id", "error", "reason"}``) in the cache folder and the run goes on; the summary
  (``extract-summary.json``) counts them. The CLI then exits with code 8 (PartialFailure).
- **Sharding**: process ``i`` of ``n`` takes the samples at positions ``i, i+n, i+2n...`` of the id-sorted list:
  disjoint, complete, and the same on every machine. ``i/n`` comes from ``--shard i/n``, else from the
  ``RANK``/``WORLD_SIZE`` environment that ``accelerate launch`` and ``torchrun`` set (or an already initialised
  ``accelerate.PartialState``), so ``accelerate launch -m crosstrainer extract ...`` splits the corpus the same
  way training splits processes. Per-shard reports get a ``.shard-i-of-n`` suffix.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crosstrainer.data.sample import Sample
from crosstrainer.encoders.base import VideoEncoder
from crosstrainer.errors import CrossTrainerError, InputNotFoundError, UsageError
from crosstrainer.features.cache import FeatureCache
from crosstrainer.fileio import atomic_write_json


@dataclass
class Failure:
    id: str
    error: str
    reason: str


@dataclass
class ExtractReport:
    """What one extraction run did (also written as ``extract-summary[.shard-i-of-n].json``)."""

    cache_dir: str
    encoder: str
    shard: tuple[int, int]
    total: int = 0
    extracted: int = 0
    cached: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": len(self.failures)}


def parse_shard(value: str) -> tuple[int, int]:
    """``"1/4"`` -> ``(1, 4)`` (zero-based index / count)."""
    try:
        index, count = (int(x) for x in value.split("/"))
    except ValueError as exc:
        raise UsageError(f"--shard expects I/N with integers, like 0/4; got {value!r}") from exc
    if count < 1 or not 0 <= index < count:
        raise UsageError(f"--shard {value}: need 0 <= I < N")
    return index, count


def detect_shard() -> tuple[int, int]:
    """This process's shard from an initialised accelerate state, else RANK/WORLD_SIZE, else (0, 1)."""
    accelerate_state = sys.modules.get("accelerate.state")
    if accelerate_state is not None and getattr(accelerate_state.PartialState, "_shared_state", None):
        state = accelerate_state.PartialState()
        return int(state.process_index), int(state.num_processes)
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return parse_shard(f"{os.environ['RANK']}/{os.environ['WORLD_SIZE']}")
    return 0, 1


def shard_samples(samples: Iterable[Sample], index: int, count: int) -> list[Sample]:
    """Samples of shard ``index`` of ``count``: every ``count``-th of the id-sorted, de-duplicated list."""
    unique = {s.id: s for s in samples}
    return [unique[k] for k in sorted(unique)][index::count]


def encoder_input(sample: Sample, encoder: VideoEncoder) -> Any:
    """What the encoder reads for a sample: its own ``input_for(sample)`` if it has one, else, for the pose
    encoder, in-memory keypoints, a keypoint file or the video, and for the others the video file."""
    if hasattr(encoder, "input_for"):
        return encoder.input_for(sample)
    if encoder.name == "pose":
        if sample.pose is not None:
            return sample.pose
        if sample.keypoints:
            return _existing(sample, sample.keypoints, "keypoints")
    if sample.video:
        return _existing(sample, sample.video, "video")
    raise InputNotFoundError(f"sample {sample.id}: no video to encode")


def _existing(sample: Sample, path: str, what: str) -> str:
    if not Path(path).is_file():
        raise InputNotFoundError(f"sample {sample.id}: {what} {path} not found")
    return path


def _suffix(shard: tuple[int, int]) -> str:
    return "" if shard[1] == 1 else f".shard-{shard[0]}-of-{shard[1]}"


def extract_features(
    samples: Iterable[Sample],
    encoder: VideoEncoder,
    cache_root: str | Path,
    shard: tuple[int, int] | str | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> ExtractReport:
    """Encode every sample of this shard that is not cached yet; return (and write) the report."""
    if isinstance(shard, str):
        shard = parse_shard(shard)
    shard = shard or detect_shard()
    todo = shard_samples(samples, *shard)
    cache = FeatureCache.for_encoder(cache_root, encoder)
    cache.dir.mkdir(parents=True, exist_ok=True)
    report = ExtractReport(cache_dir=str(cache.dir), encoder=cache.key, shard=shard, total=len(todo))
    failures_path = cache.dir / f"failures{_suffix(shard)}.jsonl"
    started = time.perf_counter()

    from crosstrainer.progress import progress_bar

    bar_ = progress_bar("[bold]extract[/] {task.description}", disable=not progress)
    with failures_path.open("w", encoding="utf-8") as failures_fh, bar_ as bar:
        task = bar.add_task(cache.key, total=len(todo))
        for sample in todo:
            if not overwrite and cache.has(sample.id):
                report.cached += 1
                bar.advance(task)
                continue
            try:
                feats = encoder.encode(encoder_input(sample, encoder))
                cache.save(sample.id, feats)
                report.extracted += 1
            except (CrossTrainerError, ValueError, OSError) as exc:  # a bad clip; bugs elsewhere still stop the run
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
                failure = Failure(id=sample.id, error=exc.__class__.__name__, reason=reason)
                report.failures.append(failure)
                failures_fh.write(json.dumps(asdict(failure)) + "\n")
                failures_fh.flush()
            bar.advance(task)
    report.seconds = round(time.perf_counter() - started, 3)
    summary = cache.dir / f"extract-summary{_suffix(shard)}.json"
    atomic_write_json(summary, report.to_dict(), indent=2)
    return report
