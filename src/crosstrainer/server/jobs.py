"""A bounded job queue for the web app: at most ``max_jobs`` assessments run at once, ``queue_size`` wait.

A job goes ``queued -> running -> done`` (or ``failed``). While it runs, the assessor's progress callback
updates ``stage`` and ``progress`` (0..1). When it ends, the report is rendered (its key frames come from the
thumbnails the pose pass kept, not from the video) and the uploaded file is deleted. Example of a job as the API
shows it::

    {"id": "3f2a...", "status": "running", "stage": "pose", "progress": 0.42, "filename": "curl.mp4"}

The model is loaded once, by the first job (or by :meth:`JobManager.preload` in a background thread).
One assessor serves every worker; unless it declares ``thread_safe = True``, calls to ``assess`` are
serialised (uploads, probing and report rendering still overlap).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from crosstrainer.errors import CrossTrainerError

log = logging.getLogger(__name__)

AssessorFactory = Callable[[], Any]
"""Returns an object with ``assess(path, *, kind, sport, progress) -> AssessmentResult`` (an ``Assessor``)."""


STAGE_SPANS: dict[str, tuple[float, float]] = {
    "pose": (0.0, 0.6),
    "features": (0.6, 0.65),
    "attributes": (0.65, 0.85),
    "feedback": (0.85, 0.95),
    "done": (0.95, 0.95),
}
"""Where each stage of ``Assessor.assess`` (which reports each stage's own 0..1 fraction) sits in the job's progress."""


class JobStatus(str, Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class QueueFullError(Exception):
    """Every worker is busy and the waiting queue is full."""


@dataclass
class Job:
    """One uploaded file and what became of it. ``upload_path`` is private; ``filename`` is only for display."""

    id: str
    filename: str
    upload_path: Path
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    status: JobStatus = JobStatus.queued
    stage: str = "queued"
    progress: float = 0.0
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    assessment: Any = None  # the crosstrainer.schema.Assessment when done (pose and features are not kept)
    report_html: str | None = None
    error: str | None = None
    error_code: str | None = None
    exit_code: int | None = None

    def scrub(self, text: str) -> str:
        """Replace the private upload path (and its random name) in a message with the user's file name."""
        from crosstrainer.server.uploads import scrub

        return scrub(text, self.upload_path, self.filename)


def _render(result: Any) -> str:
    from crosstrainer.report.html import render_report

    try:
        return render_report(result)
    except Exception:  # key frames are a bonus; never lose the report over them
        log.exception("report rendering failed; retrying without key frames")
        return render_report(result, key_frames=False)


class JobManager:
    """Owns the worker threads, the waiting queue, the jobs and the (lazily loaded) assessor."""

    def __init__(
        self,
        assessor_factory: AssessorFactory,
        *,
        max_jobs: int = 1,
        queue_size: int = 8,
        keep_finished: int = 100,
        renderer: Callable[[Any], str] = _render,
    ) -> None:
        if max_jobs < 1 or queue_size < 0:
            raise ValueError("max_jobs must be >= 1 and queue_size >= 0")
        self.max_jobs, self.queue_size, self.keep_finished = max_jobs, queue_size, keep_finished
        self._factory = assessor_factory
        self._renderer = renderer
        self._queue: queue.Queue[Job | None] = queue.Queue()  # admission is bounded in submit()
        self._jobs: dict[str, Job] = {}
        self._order: list[str] = []
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._assess_lock = threading.Lock()
        self._assessor: Any = None
        self.model_state = "not loaded"
        self._running = 0
        self._closed = False
        self._workers = [
            threading.Thread(target=self._work, name=f"crosstrainer-job-{i}", daemon=True) for i in range(max_jobs)
        ]
        for w in self._workers:
            w.start()

    # ------------------------------------------------------------------ model
    def assessor(self) -> Any:
        """The shared assessor, loaded on first use (thread-safe; a failed load is retried by the next job)."""
        with self._load_lock:
            if self._assessor is None:
                self.model_state = "loading"
                try:
                    self._assessor = self._factory()
                except Exception as exc:
                    self.model_state = f"failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                    raise
                self.model_state = "ready"
            return self._assessor

    def preload(self) -> threading.Thread:
        """Load the model in a background thread now, so the first upload does not wait for it."""

        def load() -> None:
            with contextlib.suppress(Exception):  # the state says it failed; the first job reports why
                self.assessor()

        t = threading.Thread(target=load, name="crosstrainer-model-load", daemon=True)
        t.start()
        return t

    # ------------------------------------------------------------------ queue
    @property
    def queued(self) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.status is JobStatus.queued)

    @property
    def running(self) -> int:
        return self._running

    def is_full(self) -> bool:
        """True when a new job would be refused (all workers busy and ``queue_size`` jobs waiting)."""
        waiting = self.queued
        return waiting >= self.queue_size and self._running + waiting >= self.max_jobs

    def submit(self, upload_path: Path, *, filename: str, kind: str, options: dict[str, Any] | None = None) -> Job:
        """Queue an uploaded file; raises ``QueueFullError`` when the queue is full (the caller deletes the file)."""
        if self._closed:
            raise QueueFullError("the server is shutting down")
        job = Job(
            id=uuid.uuid4().hex, filename=filename, upload_path=Path(upload_path), kind=kind, options=options or {}
        )
        with self._lock:
            waiting = sum(1 for j in self._jobs.values() if j.status is JobStatus.queued)
            if waiting >= self.queue_size and self._running + waiting >= self.max_jobs:
                raise QueueFullError(f"{self._running} running and {waiting} waiting; try again later")
            self._jobs[job.id] = job
            self._order.append(job.id)
            self._evict_locked()
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def queue_position(self, job: Job) -> int | None:
        """1 for the next job to start, ``None`` when the job is not waiting."""
        if job.status is not JobStatus.queued:
            return None
        with self._lock:
            waiting = [j for j in (self._jobs[i] for i in self._order) if j.status is JobStatus.queued]
        return next((n for n, j in enumerate(waiting, 1) if j.id == job.id), None)

    def _evict_locked(self) -> None:
        finished = [i for i in self._order if self._jobs[i].status in (JobStatus.done, JobStatus.failed)]
        for job_id in finished[: max(0, len(finished) - self.keep_finished)]:
            self._order.remove(job_id)
            del self._jobs[job_id]

    # ------------------------------------------------------------------ workers
    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if job.status is not JobStatus.queued:  # cancelled at shutdown
                continue
            with self._lock:
                self._running += 1
            try:
                self._run(job)
            finally:
                with self._lock:
                    self._running -= 1

    def _run(self, job: Job) -> None:
        job.status, job.stage, job.started_at = JobStatus.running, "starting", time.time()

        def progress(stage: str, fraction: float) -> None:
            job.stage = str(stage)
            lo, hi = STAGE_SPANS.get(job.stage, (0.0, 0.95))
            value = lo + (hi - lo) * min(max(float(fraction), 0.0), 1.0)
            job.progress = round(max(job.progress, value), 4)  # never goes backwards

        try:
            progress("loading model", 0.0)
            assessor = self.assessor()
            lock = contextlib.nullcontext() if getattr(assessor, "thread_safe", False) else self._assess_lock
            with lock:
                progress("assessing", 0.0)
                result = assessor.assess(str(job.upload_path), kind=job.kind, progress=progress, **job.options)
            self._present(job, result)
            job.stage, job.progress = "rendering report", 0.96
            job.report_html = self._renderer(result)
            job.assessment = result.assessment
            job.stage, job.progress, job.status = "done", 1.0, JobStatus.done
        except CrossTrainerError as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            job.error, job.error_code, job.exit_code = job.scrub(msg), type(exc).__name__, exc.exit_code
            job.status, job.stage = JobStatus.failed, "failed"
        except Exception as exc:  # an internal error: keep the server alive, say so in one line
            log.exception("job %s failed", job.id)
            job.error = job.scrub(
                f"internal error ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
            )
            job.error_code, job.exit_code = "InternalError", 1
            job.status, job.stage = JobStatus.failed, "failed"
        finally:
            job.finished_at = time.time()
            job.upload_path.unlink(missing_ok=True)

    @staticmethod
    def _present(job: Job, result: Any) -> None:
        """Show the user's file name, not the private upload path, in the assessment (paths and warnings)."""
        a = getattr(result, "assessment", None)
        if a is None:
            return
        a.input.path = job.filename
        a.warnings = [job.scrub(w) for w in a.warnings]

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop accepting jobs, let the workers finish the current one (up to ``timeout`` s), delete waiting uploads."""
        self._closed = True
        with self._lock:
            for job in self._jobs.values():
                if job.status is JobStatus.queued:
                    job.status, job.stage, job.error = JobStatus.failed, "failed", "the server shut down"
                    job.error_code, job.exit_code = "Shutdown", 1
                    job.upload_path.unlink(missing_ok=True)
        for _ in self._workers:
            self._queue.put(None)
        deadline = time.time() + timeout
        for w in self._workers:
            w.join(max(0.0, deadline - time.time()))
