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
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crosstrainer.data.sample import Sample
from crosstrainer.encoders.base import VideoEncoder
from crosstrainer.errors import CrossTrainerError, InputNotFoundError, MissingResourceError, UsageError
from crosstrainer.features.cache import FeatureCache
from crosstrainer.fileio import atomic_write, atomic_write_json


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

    def count(self, status: str, failure: Failure | None = None) -> None:
        """Add one clip's outcome (``extract_one``'s status) to the counts."""
        if status == "cached":
            self.cached += 1
        elif status == "extracted":
            self.extracted += 1
        elif failure is not None:
            self.failures.append(failure)


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


def extract_one(
    sample: Sample, encoder: VideoEncoder, cache: FeatureCache, overwrite: bool = False
) -> tuple[str, Failure | None]:
    """Encode one sample into the cache unless it is there: ``("cached" | "extracted" | "failed", failure)``.
    An error of the clip (missing video, corrupt file, nobody in frame) is a ``Failure``; any other exception (a
    bug) propagates and stops the run."""
    if not overwrite and cache.has(sample.id):
        return "cached", None
    try:
        cache.save(sample.id, encoder.encode(encoder_input(sample, encoder)))
        return "extracted", None
    except (CrossTrainerError, ValueError, OSError) as exc:  # a bad clip; bugs elsewhere still stop the run
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        return "failed", Failure(id=sample.id, error=exc.__class__.__name__, reason=reason)


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
            status, failure = extract_one(sample, encoder, cache, overwrite)
            report.count(status, failure)
            if failure is not None:
                failures_fh.write(json.dumps(asdict(failure)) + "\n")
                failures_fh.flush()
            bar.advance(task)
    report.seconds = round(time.perf_counter() - started, 3)
    summary = cache.dir / f"extract-summary{_suffix(shard)}.json"
    atomic_write_json(summary, report.to_dict(), indent=2)
    return report


# ---- the Ray engine ------------------------------------------------------------------------------------------------

RAY_EXTRA = 'the Ray engine needs Ray Data: pip install "crosstrainer[ray]" (or pip install "ray[data]")'


def import_ray() -> Any:
    """``ray`` with Ray Data, or a MissingResourceError (exit 9) naming the ``ray`` extra."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingResourceError(f"{RAY_EXTRA} ({exc})") from exc
    return ray


class RayExtractor:
    """A Ray Data actor: builds the encoder once, then encodes batches of sample ids into the shared cache.

    Everything a worker writes goes through ``FeatureCache.save`` (temporary file + rename), so a worker killed
    mid-clip leaves no partial file; Ray restarts the actor and retries the batch, and clips already written by the
    dead worker are then found in the cache and not encoded twice."""

    def __init__(self, samples: Any, encoder_factory: Callable[[], VideoEncoder], cache_root: str, overwrite: bool):
        ray = import_ray()
        self.samples: dict[str, Sample] = ray.get(samples) if isinstance(samples, ray.ObjectRef) else samples
        self.encoder = encoder_factory()
        self.cache = FeatureCache.for_encoder(cache_root, self.encoder)
        self.overwrite = overwrite

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, list[str]] = {"id": [], "status": [], "error": [], "reason": []}
        for clip_id in batch["id"]:
            status, failure = extract_one(self.samples[str(clip_id)], self.encoder, self.cache, self.overwrite)
            out["id"].append(str(clip_id))
            out["status"].append(status)
            out["error"].append(failure.error if failure else "")
            out["reason"].append(failure.reason if failure else "")
        return out


def extract_features_ray(
    samples: Iterable[Sample],
    encoder_factory: Callable[[], VideoEncoder],
    cache_root: str | Path,
    *,
    address: str | None = None,
    workers: int | None = None,
    shard: tuple[int, int] | str | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> ExtractReport:
    """``extract_features`` on Ray Data: the same cache, files, failure report and summary, written by a pool of
    ``workers`` actors (default: one per CPU of the Ray instance) that each build the encoder once.

    ``address``: a running Ray cluster (``"auto"``, ``"ray://head:10001"``, ``"head:6379"``); by default a local
    instance is started for this run and stopped after it (an already initialised Ray is used as it is). On a
    cluster, every node must have crosstrainer installed and see ``cache_root`` and the dataset's files at the same
    paths (a shared file system). ``encoder_factory`` (e.g. ``functools.partial(build_encoder, "pose")``) is
    pickled to the workers; the samples travel once through Ray's object store. Clips already in the cache are
    skipped before any work is scheduled (resume), and a worker that dies is replaced and its batch retried."""
    ray = import_ray()
    if isinstance(shard, str):
        shard = parse_shard(shard)
    shard = shard or (0, 1)
    todo = shard_samples(samples, *shard)
    encoder = encoder_factory()
    cache = FeatureCache.for_encoder(cache_root, encoder)
    cache.dir.mkdir(parents=True, exist_ok=True)
    report = ExtractReport(cache_dir=str(cache.dir), encoder=cache.key, shard=shard, total=len(todo))
    started = time.perf_counter()
    pending = [s for s in todo if overwrite or not cache.has(s.id)]
    report.cached = len(todo) - len(pending)

    from crosstrainer.progress import progress_bar

    ray_data_log = logging.getLogger("ray.data")
    log_level = ray_data_log.level
    own_instance = bool(pending) and not ray.is_initialized()
    if own_instance:
        ray.init(
            address=address,
            num_cpus=workers if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=True,
            logging_level="ERROR",
        )
    try:
        if pending:
            pool = max(1, min(len(pending), workers or int(ray.available_resources().get("CPU", 1)) or 1))
            context = ray.data.DataContext.get_current()
            context.enable_progress_bars = False  # ours below; Ray Data's INFO/WARNING lines are silenced too
            ray_data_log.setLevel(logging.ERROR)
            # small blocks (one clip each up to 32 per worker): a task that dies with its worker is retried whole,
            # and the clips that worker had already written are then found in the cache, not encoded again
            blocks = min(len(pending), 32 * pool)
            ids = ray.data.from_items([{"id": s.id} for s in pending], override_num_blocks=blocks)
            results = ids.map_batches(
                RayExtractor,
                fn_constructor_kwargs={
                    "samples": ray.put({s.id: s for s in pending}),
                    "encoder_factory": encoder_factory,
                    "cache_root": str(cache_root),
                    "overwrite": overwrite,
                },
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(size=pool),
                num_cpus=1,
            )
            bar_ = progress_bar("[bold]extract (ray)[/] {task.description}", disable=not progress)
            with bar_ as bar:
                task = bar.add_task(cache.key, total=len(pending))
                for row in results.iter_rows():
                    failure = Failure(str(row["id"]), str(row["error"]), str(row["reason"]))
                    report.count(str(row["status"]), failure if row["status"] == "failed" else None)
                    bar.advance(task)
    finally:
        ray_data_log.setLevel(log_level)
        if own_instance:
            ray.shutdown()
    report.failures.sort(key=lambda f: f.id)
    failures_path = cache.dir / f"failures{_suffix(shard)}.jsonl"
    with atomic_write(failures_path) as fh:
        fh.writelines(json.dumps(asdict(f)) + "\n" for f in report.failures)
    report.seconds = round(time.perf_counter() - started, 3)
    atomic_write_json(cache.dir / f"extract-summary{_suffix(shard)}.json", report.to_dict(), indent=2)
    return report
