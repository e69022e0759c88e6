"""A bounded job queue for the web app, with a job store that survives a restart.

At most ``max_jobs`` assessments run at once and ``queue_size`` wait. A job goes ``queued -> running -> done`` (or
``failed``). While it runs, the assessor's progress callback updates ``stage`` and ``progress`` (0..1). When it ends,
the report is rendered (its key frames come from the thumbnails the pose pass kept, not from the video) and the
uploaded file is deleted. Example of a job as the API shows it::

    {"id": "3f2a...", "status": "running", "stage": "pose", "progress": 0.42, "filename": "curl.mp4"}

**The state folder** (``state_dir``; private, mode 0700)::

    jobs/<id>.json       one record per job, replaced atomically at each status change (queued, running, done,
                         failed); the assessment JSON is in the record of a done job
    reports/<id>.html    the rendered report of a done job
    uploads/             uploaded files under random names, deleted when their job ends
    .lock                held (flock) while a server uses the folder: a second server on it is refused

When a server starts on a folder a previous server left (stopped, crashed or killed), jobs recorded as queued or
running are marked failed with the reason (``error_code`` "Interrupted", exit code 130, as an interrupted
``crosstrainer assess``), never dropped; every file left in ``uploads/`` is deleted (no job can be using it), and
reports without a record and half-written temporary files are removed. The last ``keep_finished`` finished jobs are
kept (older records and reports are deleted). Without ``state_dir`` the store is a fresh temporary folder that is
removed at shutdown.

The model is loaded once, by the first job (or by :meth:`JobManager.preload` in a background thread). One assessor
serves every worker; unless it declares ``thread_safe = True``, calls to ``assess`` are serialised (uploads, probing
and report rendering still overlap). A worker thread survives anything a job raises, and a full disk while saving a
record or a report is logged, never fatal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from crosstrainer.errors import CrossTrainerError, UsageError
from crosstrainer.fileio import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

AssessorFactory = Callable[[], Any]
"""Returns an object with ``assess(path, *, kind, sport, progress) -> AssessmentResult`` (an ``Assessor``)."""

RECORD_FORMAT = "crosstrainer.server.job/v1"
_ID = re.compile(r"^[0-9a-f]{32}$")

STAGE_SPANS: dict[str, tuple[float, float]] = {
    "pose": (0.0, 0.6),
    "features": (0.6, 0.65),
    "attributes": (0.65, 0.85),
    "feedback": (0.85, 0.95),
    "done": (0.95, 0.95),
}
"""Where each stage of ``Assessor.assess`` (which reports each stage's own 0..1 fraction) sits in the job's progress."""

INTERRUPTED = "Interrupted"
"""``error_code`` of a job the server stopped before it finished (exit code 130, as an interrupted CLI run)."""


class JobStatus(str, Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


FINISHED = (JobStatus.done, JobStatus.failed)


class QueueFullError(Exception):
    """Every worker is busy and the waiting queue is full."""


class StateFolderBusy(UsageError):
    """Another server holds the state folder."""


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
    report_html: str | None = None  # only when the report could not be saved in the state folder (disk full)
    has_report: bool = False
    error: str | None = None
    error_code: str | None = None
    exit_code: int | None = None

    def scrub(self, text: str) -> str:
        """Replace the private upload path (and its random name) in a message with the user's file name."""
        from crosstrainer.server.uploads import scrub

        return scrub(text, self.upload_path, self.filename)

    def fail(self, message: str, code: str, exit_code: int) -> None:
        self.status, self.stage = JobStatus.failed, "failed"
        self.error, self.error_code, self.exit_code = message, code, exit_code
        self.finished_at = self.finished_at or time.time()

    def record(self) -> dict[str, Any]:
        """The job as its JSON record in ``jobs/<id>.json``."""
        assessment = None
        if self.assessment is not None:
            dump = getattr(self.assessment, "model_dump", None)
            assessment = dump(mode="json", by_alias=True) if dump else self.assessment
        return {
            "format": RECORD_FORMAT,
            "id": self.id,
            "filename": self.filename,
            "kind": self.kind,
            "options": self.options,
            "upload": self.upload_path.name,
            "status": self.status.value,
            "stage": self.stage,
            "progress": self.progress,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "error_code": self.error_code,
            "exit_code": self.exit_code,
            "has_report": self.has_report,
            "assessment": assessment,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any], upload_dir: Path) -> Job:
        job = cls(
            id=str(rec["id"]),
            filename=str(rec["filename"]),
            upload_path=upload_dir / Path(str(rec.get("upload") or "missing")).name,
            kind=str(rec["kind"]),
            options=dict(rec.get("options") or {}),
            status=JobStatus(rec["status"]),
            stage=str(rec.get("stage") or rec["status"]),
            progress=float(rec.get("progress") or 0.0),
            created_at=float(rec["created_at"]),
            started_at=rec.get("started_at"),
            finished_at=rec.get("finished_at"),
            has_report=bool(rec.get("has_report")),
            error=rec.get("error"),
            error_code=rec.get("error_code"),
            exit_code=rec.get("exit_code"),
        )
        if rec.get("assessment") is not None:
            from crosstrainer.schema import Assessment

            try:
                job.assessment = Assessment.model_validate(rec["assessment"])
            except ValueError as exc:  # from another version: the job is reported, its result is not
                log.warning("job %s: stored assessment unreadable (%s)", job.id, _one_line(exc))
        return job


def clean_message(text: str, private_path: Path, name: str, *, lead: bool = True) -> str:
    """One clean line about an upload: the private path becomes the user's file name, said once.

    Decoders and readers name the file they failed on, often twice (``<path> is not a readable video (...: '<path>')``).
    The leading mention becomes ``name``; later ones are dropped, as are ``[Errno N]`` tags. With ``lead`` the line
    starts with ``name`` even when the message did not name the file.

    >>> p = Path("/tmp/up-x/0123456789abcdef0123456789abcdef.mp4")
    >>> clean_message(f"{p} is not a readable video (InvalidDataError: [Errno 1094995529] Bad data: '{p}')", p, "a.mp4")
    'a.mp4 is not a readable video (InvalidDataError: Bad data)'
    >>> clean_message("the video has no duration", p, "a.mp4")
    'a.mp4: the video has no duration'
    >>> clean_message(f"{p}: malformed JSON (line 1)", p, "a.mp4", lead=False)
    'a.mp4: malformed JSON (line 1)'
    >>> clean_message(f"no person detected in {p} (0 of 23 sampled frames)", p, "a.mp4")
    'no person detected in a.mp4 (0 of 23 sampled frames)'
    """
    from crosstrainer.server.uploads import scrub

    token = "\x00"
    text = " ".join(str(text).split())
    text = scrub(text, private_path, token)
    text = re.sub(r"\[Errno -?\d+\]\s*", "", text)
    later = re.compile(r"(:\s*)?(['\"]?)\x00\2")  # a mention after the file is named: dropped

    def tidy(part: str) -> str:
        return " ".join(later.sub("", part).replace(token, "").split())

    m = re.match(r"^\s*(['\"]?)\x00\1\s*(:?)\s*", text)
    if m:
        rest = tidy(text[m.end() :]) or "unreadable"
        return f"{name}: {rest}" if m.group(2) else f"{name} {rest}"
    first = text.find(token)
    if first >= 0:  # named mid-sentence ("no person detected in <path> (...)"): name it there, once
        after = later.sub("", text[first + 1 :]).replace(token, "")
        return " ".join(f"{text[:first]}{name}{after}".split())
    rest = tidy(text) or "unreadable"
    return f"{name}: {rest}" if lead else rest


def _render(result: Any) -> str:
    from crosstrainer.report.html import render_report

    try:
        return render_report(result)
    except Exception:  # key frames are a bonus; never lose the report over them
        log.exception("report rendering failed; retrying without key frames")
        return render_report(result, key_frames=False)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class JobManager:
    """Owns the worker threads, the waiting queue, the jobs, their state folder and the (lazily loaded) assessor."""

    def __init__(
        self,
        assessor_factory: AssessorFactory,
        *,
        max_jobs: int = 1,
        queue_size: int = 8,
        keep_finished: int = 100,
        renderer: Callable[[Any], str] = _render,
        state_dir: str | Path | None = None,
        workdir: str | Path | None = None,
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
        self._released = False  # after shutdown this manager never writes to the state folder again
        self.recovered: list[str] = []  # ids of the jobs a previous server left unfinished (now failed)

        self.ephemeral = state_dir is None
        if state_dir is None:
            self.root = Path(tempfile.mkdtemp(prefix="crosstrainer-server-", dir=workdir))
        else:
            self.root = Path(state_dir)
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.jobs_dir, self.reports_dir, self.upload_dir = (self.root / n for n in ("jobs", "reports", "uploads"))
        for d in (self.jobs_dir, self.reports_dir, self.upload_dir):
            d.mkdir(exist_ok=True, mode=0o700)
        os.chmod(self.upload_dir, 0o700)
        self._lock_file = self._take_lock()
        try:
            self._recover()
        except BaseException:
            self._release_lock()
            raise

        self._workers = [
            threading.Thread(target=self._work, name=f"crosstrainer-job-{i}", daemon=True) for i in range(max_jobs)
        ]
        for w in self._workers:
            w.start()

    # ------------------------------------------------------------------ the state folder
    def _take_lock(self) -> Any:
        fh = open(self.root / ".lock", "a+")  # noqa: SIM115 (held until shutdown)
        try:
            import fcntl
        except ImportError:  # no flock on this platform: one server per folder is then up to the user
            return fh
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise StateFolderBusy(
                f"another crosstrainer server is using the state folder {self.root}; stop it or choose another folder"
            ) from None
        return fh

    def _release_lock(self) -> None:
        with contextlib.suppress(OSError):
            self._lock_file.close()  # closing the file releases the flock

    def _recover(self) -> None:
        """Load the records a previous server left; fail its unfinished jobs with the reason; clean the folders."""
        jobs: list[Job] = []
        for path in self.jobs_dir.iterdir():
            if path.name.startswith(".") or path.suffix != ".json" or not _ID.match(path.stem):
                self._remove(path)  # half-written temporary files, strays
                continue
            try:
                rec = json.loads(path.read_text(encoding="utf-8"))
                if rec.get("format") != RECORD_FORMAT or rec.get("id") != path.stem:
                    raise ValueError(f"not a {RECORD_FORMAT} record")
                job = Job.from_record(rec, self.upload_dir)
            except Exception as exc:  # a damaged record cannot be reported; say so in the log and drop it
                log.warning("dropping unreadable job record %s (%s)", path.name, _one_line(exc))
                self._remove(path)
                continue
            if job.status is JobStatus.done and job.assessment is None:
                job.fail("the stored result of this job could not be read; upload the file again", INTERRUPTED, 130)
                self._save(job)
            if job.status not in FINISHED:
                where = "while this job was running" if job.status is JobStatus.running else "before this job started"
                job.fail(f"the server stopped {where}; upload the file again", INTERRUPTED, 130)
                self.recovered.append(job.id)
                self._save(job)
            jobs.append(job)
        if self.recovered:
            log.warning("%d job(s) were unfinished when the server last stopped; reported failed", len(self.recovered))
        jobs.sort(key=lambda j: j.created_at)
        for job in jobs:
            self._jobs[job.id] = job
            self._order.append(job.id)
        with self._lock:
            self._evict_locked()
        for path in self.upload_dir.iterdir():  # no job runs yet: every upload here is left over
            self._remove(path)
        for path in self.reports_dir.iterdir():
            job = self._jobs.get(path.stem)
            if path.suffix != ".html" or job is None or not job.has_report:
                self._remove(path)
        for job in self._jobs.values():
            if job.has_report and not (self.reports_dir / f"{job.id}.html").is_file():
                job.has_report = False

    @staticmethod
    def _remove(path: Path) -> None:
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()

    def _save(self, job: Job) -> None:
        """Write the job's record (atomically). A full disk is logged: the job stays right in memory."""
        if self._released:
            return
        try:
            atomic_write_json(self.jobs_dir / f"{job.id}.json", job.record(), indent=None)
        except (OSError, TypeError, ValueError) as exc:
            log.error("could not save job %s (%s)", job.id, _one_line(exc))

    def _save_report(self, job: Job, text: str) -> None:
        if not self._released:
            try:
                atomic_write_text(self.reports_dir / f"{job.id}.html", text)
                job.has_report = True
                return
            except OSError as exc:
                log.error("could not save the report of job %s (%s); keeping it in memory", job.id, _one_line(exc))
        job.report_html = text

    def report_html(self, job: Job) -> str | None:
        """The job's HTML report, or ``None`` when it has none."""
        if job.report_html is not None:
            return job.report_html
        if not job.has_report:
            return None
        try:
            return (self.reports_dir / f"{job.id}.html").read_text(encoding="utf-8")
        except OSError:
            return None

    # ------------------------------------------------------------------ model
    def assessor(self) -> Any:
        """The shared assessor, loaded on first use (thread-safe; a failed load is retried by the next job)."""
        with self._load_lock:
            if self._assessor is None:
                self.model_state = "loading"
                try:
                    self._assessor = self._factory()
                except Exception as exc:
                    self.model_state = f"failed: {_one_line(exc)}"
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
        self._save(job)
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        """Every job kept, oldest first."""
        with self._lock:
            return [self._jobs[i] for i in self._order]

    def queue_position(self, job: Job) -> int | None:
        """1 for the next job to start, ``None`` when the job is not waiting."""
        if job.status is not JobStatus.queued:
            return None
        with self._lock:
            waiting = [j for j in (self._jobs[i] for i in self._order) if j.status is JobStatus.queued]
        return next((n for n, j in enumerate(waiting, 1) if j.id == job.id), None)

    def _evict_locked(self) -> None:
        finished = [i for i in self._order if self._jobs[i].status in FINISHED]
        for job_id in finished[: max(0, len(finished) - self.keep_finished)]:
            self._order.remove(job_id)
            del self._jobs[job_id]
            if not self._released:
                self._remove(self.jobs_dir / f"{job_id}.json")
                self._remove(self.reports_dir / f"{job_id}.html")

    # ------------------------------------------------------------------ workers
    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if job.status is not JobStatus.queued:  # failed at shutdown
                continue
            with self._lock:
                self._running += 1
            try:
                self._run(job)
            except Exception:  # never lose a worker: _run reports its own errors, this is the last net
                log.exception("worker error on job %s", job.id)
                if job.status not in FINISHED:
                    job.fail("internal error in the job worker", "InternalError", 1)
                    self._save(job)
            finally:
                with self._lock:
                    self._running -= 1
                    self._evict_locked()

    def _run(self, job: Job) -> None:
        job.status, job.stage, job.started_at = JobStatus.running, "starting", time.time()
        self._save(job)

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
                result = assessor.assess(
                    str(job.upload_path), kind=job.kind, progress=progress, source_name=job.filename, **job.options
                )  # the original name: a model on precomputed features finds the take's file by it
            self._present(job, result)
            job.stage, job.progress = "rendering report", 0.96
            self._save_report(job, self._renderer(result))
            job.assessment = result.assessment
            job.stage, job.progress, job.status = "done", 1.0, JobStatus.done
        except CrossTrainerError as exc:
            msg = clean_message(_one_line(exc), job.upload_path, job.filename, lead=False)
            job.fail(msg, type(exc).__name__, exc.exit_code)
        except Exception as exc:  # an internal error (RecursionError, MemoryError...): keep the server alive, say so
            log.exception("job %s failed", job.id)
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            job.fail(job.scrub(f"internal error ({type(exc).__name__}: {text})"), "InternalError", 1)
        finally:
            job.finished_at = time.time()
            job.upload_path.unlink(missing_ok=True)
            self._save(job)

    @staticmethod
    def _present(job: Job, result: Any) -> None:
        """Show the user's file name, not the private upload path, in the assessment (paths and warnings)."""
        a = getattr(result, "assessment", None)
        if a is None:
            return
        a.input.path = job.filename
        a.warnings = [job.scrub(w) for w in a.warnings]

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop accepting jobs, let the workers finish the current one (up to ``timeout`` s), delete waiting uploads.

        Jobs still waiting, and jobs still running after ``timeout``, are recorded failed ("Interrupted") with the
        reason. Then the state folder is released (a temporary one is removed).
        """
        self._closed = True
        with self._lock:
            waiting = [j for j in self._jobs.values() if j.status is JobStatus.queued]
        for job in waiting:
            job.fail("the server shut down before this job started; upload the file again", INTERRUPTED, 130)
            job.upload_path.unlink(missing_ok=True)
            self._save(job)
        for _ in self._workers:
            self._queue.put(None)
        deadline = time.time() + timeout
        for w in self._workers:
            w.join(max(0.0, deadline - time.time()))
        with self._lock:
            running = [j for j in self._jobs.values() if j.status is JobStatus.running]
        for job in running:  # its worker is abandoned (a daemon thread); the next server deletes the upload
            record = Job(**{**job.__dict__})
            record.fail("the server shut down while this job was running; upload the file again", INTERRUPTED, 130)
            self._save(record)
        self._released = True
        self._release_lock()
        if self.ephemeral:
            shutil.rmtree(self.root, ignore_errors=True)
