"""The local web app: upload a clip (or keypoint file), watch its progress, read the report.

Routes (the JSON API is described by ``/openapi.json``)::

    GET  /                                upload page (static HTML + JS, no CDN)
    POST /v1/assessments                  multipart field "file" (+ optional "kind", "sport", "skeleton") -> 202 job
    GET  /v1/assessments/{id}             job status, progress; the assessment JSON when done, the error when failed
    GET  /v1/assessments/{id}/report      the HTML report (422 page when the job failed, 409 while it runs)
    GET  /v1/health                       model state and queue occupancy

Errors are JSON ``{"detail": "<one line>", "code": "<machine code>"}``: 413 too big, 415 not an allowed type
(checked by content), 422 unreadable video / keypoints, 429 queue full, 404 unknown id or path, and 500
``internal_error`` for anything unexpected (a parser's ``RecursionError`` or ``MemoryError`` included): the answer is
still JSON, the keep-alive connection stays open and the server keeps serving.
Uploads go to a private folder (mode 0700) under random names, never under a served folder, and are deleted when
their job ends; jobs and reports are kept in the state folder (see ``crosstrainer.server.jobs``), so a restart
reports the jobs it interrupted instead of losing them.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crosstrainer import __version__
from crosstrainer.errors import CrossTrainerError
from crosstrainer.schema import Assessment
from crosstrainer.server import uploads
from crosstrainer.server.jobs import Job, JobManager, JobStatus, QueueFullError, clean_message

log = logging.getLogger(__name__)

STATIC_DIR = Path(str(resources.files("crosstrainer.server").joinpath("static")))
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
PAGE_CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


# ----------------------------------------------------------------------------------------------- response models


class ErrorInfo(BaseModel):
    """Why a job failed: the error class (and CLI exit code) and a one-line message."""

    code: str = Field(description="error class, e.g. NoPersonError, InvalidVideoError", examples=["NoPersonError"])
    exit_code: int = Field(description="the exit code `crosstrainer assess` would return", examples=[5])
    message: str = Field(examples=["curl.mp4: no person detected in any frame"])


class JobOut(BaseModel):
    """An assessment job. ``result`` is filled when ``status`` is "done", ``error`` when it is "failed"."""

    id: str
    status: Literal["queued", "running", "done", "failed"]
    stage: str = Field(description="what the job is doing now, e.g. 'pose', 'model', 'done'")
    progress: float = Field(ge=0.0, le=1.0)
    filename: str = Field(description="the uploaded file's name (display only)")
    kind: Literal["video", "keypoints"]
    queue_position: int | None = Field(None, description="1 = next to start; null when not waiting")
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status_url: str
    report_url: str
    result: Assessment | None = None
    error: ErrorInfo | None = None


class ApiError(BaseModel):
    detail: str = Field(description="one line, for people")
    code: str = Field(description="for programs, e.g. too_large, unsupported_type, invalid_video, queue_full")


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    model: str = Field(description="not loaded | loading | ready | failed: <reason>")
    running: int
    queued: int
    max_jobs: int
    queue_size: int
    max_upload_mb: float


HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_type",
    422: "invalid_request",
    429: "queue_full",
    500: "internal_error",
}


def _error(status: int, detail: str, code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one error shape: ``{"detail": "<one line>", "code": "<machine code>"}``."""
    detail = " ".join(str(detail).split()) or "error"
    return JSONResponse({"detail": detail, "code": code or HTTP_CODES.get(status, "error")}, status, headers=headers)


class _Guard:
    """Outermost app middleware: security headers on every answer, and the last net for unexpected exceptions.

    Starlette's own last net answers a plain-text 500 and re-raises, and uvicorn then closes the connection. Here any
    ``Exception`` (``RecursionError`` and ``MemoryError`` included) becomes the documented JSON 500 and is not
    re-raised, so the connection stays open and the server keeps serving. An exception after the answer has
    started can only be logged (the client sees a cut-short answer).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", PAGE_CSP)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            with contextlib.suppress(Exception):  # a MemoryError may leave too little to log with
                log.error("internal error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            if not started:
                detail = f"internal error ({type(exc).__name__}); the server is still running"
                await _error(500, detail)(scope, receive, send_with_headers)


class HttpError(Exception):
    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers or {}


def _ts(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t, timezone.utc) if t is not None else None


def _job_out(job: Job, manager: JobManager) -> JobOut:
    error = None
    if job.status is JobStatus.failed:
        error = ErrorInfo(code=job.error_code or "Error", exit_code=job.exit_code or 1, message=job.error or "failed")
    result = job.assessment if job.status is JobStatus.done else None
    return JobOut(
        id=job.id,
        status=job.status.value,
        stage=job.stage,
        progress=job.progress,
        filename=job.filename,
        kind=job.kind,
        queue_position=manager.queue_position(job),
        created_at=_ts(job.created_at),
        started_at=_ts(job.started_at),
        finished_at=_ts(job.finished_at),
        status_url=f"/v1/assessments/{job.id}",
        report_url=f"/v1/assessments/{job.id}/report",
        result=result,
        error=error,
    )


def _page(title: str, body: str, status: int = 200, refresh_s: int | None = None) -> HTMLResponse:
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    text = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{refresh}<title>{html.escape(title)}</title>'
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:640px;margin:60px auto;padding:0 20px;color:#1d2330}"
        "h1{font-size:22px}.msg{background:#fdecec;border:1px solid #e3a0a0;border-radius:8px;padding:12px 16px}"
        f'</style></head><body><h1>{html.escape(title)}</h1>{body}<p><a href="/">Assess another clip</a></p>'
        "</body></html>"
    )
    return HTMLResponse(text, status_code=status, headers={"Content-Security-Policy": REPORT_CSP})


def _default_factory(model_dir: str | None) -> Callable[[], Any]:
    def load() -> Any:
        from crosstrainer.api import Assessor

        return Assessor.load(model_dir)

    return load


# ----------------------------------------------------------------------------------------------- the app


def create_app(
    assessor_factory: Callable[[], Any] | None = None,
    max_upload_mb: float = 200,
    max_jobs: int = 1,
    queue_size: int = 8,
    workdir: str | Path | None = None,
    *,
    model_dir: str | None = None,
    preload: bool = False,
    state_dir: str | Path | None = None,
    keep_finished: int = 100,
    shutdown_timeout: float = 5.0,
    check_concurrency: int | None = None,
) -> FastAPI:
    """Build the app. ``assessor_factory()`` returns an object with ``assess(path, *, kind, progress, ...)``;
    by default it is ``crosstrainer.api.Assessor.load(model_dir)``, called once (first job, or at startup when
    ``preload``).

    ``state_dir`` keeps the jobs, their reports and the uploads across restarts (jobs a previous server left
    unfinished are reported failed; see ``crosstrainer.server.jobs``); raises ``StateFolderBusy`` (a usage error) when
    another server holds it. Without it, the store is a fresh private folder inside ``workdir`` (default: the system
    temp dir), removed at shutdown. ``check_concurrency`` bounds the upload checks (video probe, keypoint parse) that
    run at once, and so their memory (default: 2, or 1 on a one-core machine).
    """
    max_bytes = int(max_upload_mb * 1024 * 1024)
    manager = JobManager(
        assessor_factory or _default_factory(model_dir),
        max_jobs=max_jobs,
        queue_size=queue_size,
        keep_finished=keep_finished,
        state_dir=state_dir,
        workdir=workdir,
    )
    upload_dir = manager.upload_dir
    check_slots = check_concurrency or max(1, min(2, os.cpu_count() or 1))
    limiters: dict[str, anyio.CapacityLimiter] = {}  # made in the server's event loop, on first use

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if preload:
            manager.preload()
        try:
            yield
        finally:
            await run_in_threadpool(manager.shutdown, shutdown_timeout)

    app = FastAPI(
        title="CrossTrainer",
        version=__version__,
        description="Skill assessment from video: upload a clip, poll the job, read the assessment or its HTML report.",
        lifespan=lifespan,
        docs_url=None,  # the interactive docs load their scripts from a CDN; the schema is at /openapi.json
        redoc_url=None,
    )
    app.state.jobs = manager
    app.state.upload_dir = upload_dir
    app.state.state_dir = manager.root
    app.state.max_bytes = max_bytes

    @app.exception_handler(HttpError)
    async def _http_error(request: Request, exc: HttpError) -> JSONResponse:
        return _error(exc.status, exc.detail, exc.code, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _starlette_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such page: {request.url.path[:100]}"
        return _error(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(x) for x in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', 'invalid')}"
            for e in exc.errors()[:3]
        ]
        return _error(422, "; ".join(problems) or "invalid request", "invalid_request")

    app.add_middleware(_Guard)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/v1/health", response_model=Health, tags=["service"])
    async def health() -> Health:
        return Health(
            status="ok",
            version=__version__,
            model=manager.model_state,
            running=manager.running,
            queued=manager.queued,
            max_jobs=manager.max_jobs,
            queue_size=manager.queue_size,
            max_upload_mb=max_upload_mb,
        )

    errors = {s: {"model": ApiError} for s in (400, 413, 415, 422, 429)}

    @app.post(
        "/v1/assessments",
        status_code=202,
        response_model=JobOut,
        responses=errors,
        tags=["assessments"],
        summary="Upload a video or keypoint file and start an assessment",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {
                                "file": {"type": "string", "format": "binary", "description": uploads.ALLOWED},
                                "kind": {"type": "string", "enum": ["auto", "video", "keypoints"], "default": "auto"},
                                "sport": {"type": "string", "description": "optional, e.g. 'bicep curl'"},
                                "skeleton": {
                                    "type": "string",
                                    "description": "keypoint files only: the joint layout when the joint count does "
                                    "not say it, e.g. openpose25 or openpose25b (25 joints)",
                                },
                            },
                        }
                    }
                },
            }
        },
    )
    async def create_assessment(request: Request) -> JSONResponse:
        """The file's type is checked by its content; the job then runs in the background (poll ``status_url``)."""
        if manager.is_full():
            raise HttpError(
                429, "queue_full", "the server is busy (queue full); try again in a minute", {"Retry-After": "30"}
            )
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes + 64 * 1024:
            raise HttpError(413, "too_large", f"the file is larger than the {max_upload_mb:g} MB limit")
        try:
            upload = await uploads.receive_multipart(
                request.stream(), request.headers.get("content-type", ""), upload_dir, max_bytes
            )
        except uploads.UploadTooLarge:
            raise HttpError(413, "too_large", f"the file is larger than the {max_upload_mb:g} MB limit") from None
        except uploads.BadUpload as exc:
            raise HttpError(400, "bad_request", str(exc)) from None
        assert upload.path is not None
        try:
            job = await _admit(upload)
        except BaseException:
            upload.path.unlink(missing_ok=True)
            raise
        out = _job_out(job, manager)
        return JSONResponse(
            out.model_dump(mode="json", by_alias=True), status_code=202, headers={"Location": out.status_url}
        )

    async def _admit(upload: uploads.Upload) -> Job:
        assert upload.path is not None
        name = upload.filename
        if upload.size == 0:
            raise HttpError(422, "empty_file", f"{name} is empty (0 bytes)")
        ftype = uploads.sniff(upload.head)
        if ftype is None:
            raise HttpError(415, "unsupported_type", f"{name} is not a supported file: send {uploads.ALLOWED}")
        wanted = upload.fields.get("kind", "auto").strip().lower() or "auto"
        if wanted not in ("auto", "video", "keypoints"):
            raise HttpError(400, "bad_request", f"kind must be auto, video or keypoints, not {wanted!r}")
        if wanted != "auto" and wanted != ftype.kind:
            raise HttpError(415, "unsupported_type", f"{name} is a {ftype.name}, not {wanted}")
        path = upload.path.rename(upload.path.with_suffix(ftype.suffix))
        upload.path = path
        if "checks" not in limiters:
            limiters["checks"] = anyio.CapacityLimiter(check_slots)
        checks = limiters["checks"]
        skeleton = upload.fields.get("skeleton", "").strip()[:40] or None
        if skeleton and ftype.kind != "keypoints":
            raise HttpError(400, "bad_request", "skeleton applies to keypoint files, not videos")
        problem = await anyio.to_thread.run_sync(_check_content, path, ftype, skeleton, limiter=checks)
        if problem:
            code = "invalid_video" if ftype.kind == "video" else "invalid_keypoints"
            raise HttpError(422, code, clean_message(problem, path, name))
        options: dict[str, Any] = {}
        sport = upload.fields.get("sport", "").strip()
        if sport:
            options["sport"] = sport[:100]
        if skeleton:
            options["skeleton"] = skeleton
        try:
            return manager.submit(path, filename=name, kind=ftype.kind, options=options)
        except QueueFullError:
            raise HttpError(
                429, "queue_full", "the server is busy (queue full); try again in a minute", {"Retry-After": "30"}
            ) from None

    @app.get(
        "/v1/assessments/{job_id}",
        response_model=JobOut,
        responses={404: {"model": ApiError}},
        tags=["assessments"],
        summary="Status, progress and (when done) the assessment",
    )
    async def get_assessment(job_id: str) -> JSONResponse:
        job = _find(job_id)
        return JSONResponse(_job_out(job, manager).model_dump(mode="json", by_alias=True))

    @app.get(
        "/v1/assessments/{job_id}/report",
        response_class=HTMLResponse,
        responses={404: {"model": ApiError}, 409: {"description": "still running"}, 422: {"description": "failed"}},
        tags=["assessments"],
        summary="The self-contained HTML report",
    )
    async def get_report(job_id: str, download: bool = False) -> HTMLResponse:
        job = _find(job_id)
        if job.status is JobStatus.failed:
            body = f'<p class="msg">{html.escape(job.filename)}: {html.escape(job.error or "failed")}</p>'
            return _page("The assessment failed", body, status=422)
        if job.status is not JobStatus.done:
            body = f"<p>{html.escape(job.filename)}: {html.escape(job.stage)} ({100 * job.progress:.0f}%)</p>"
            return _page("Still working…", body, status=409, refresh_s=2)
        report = await run_in_threadpool(manager.report_html, job)
        if report is None:
            body = f'<p class="msg">{html.escape(job.filename)}: the report of this job is no longer available</p>'
            return _page("No report", body, status=404)
        headers = {"Content-Security-Policy": REPORT_CSP}
        if download:
            stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(job.filename).stem)
            headers["Content-Disposition"] = f'attachment; filename="{stem or "report"}_report.html"'
        return HTMLResponse(report, headers=headers)

    def _find(job_id: str) -> Job:
        job = manager.get(job_id)
        if job is None:
            raise HttpError(404, "not_found", f"no assessment with id {job_id[:64]!r} (finished jobs are kept a while)")
        return job

    return app


def _check_content(path: Path, ftype: uploads.FileType, skeleton: str | None = None) -> str | None:
    """A readability check before queuing: probe the video header and first frame, or read the keypoints with the
    same reader (and bounds) as the job. ``None`` when fine, else a one-line reason. A parser that blows its stack
    or memory on a hostile file (deep nesting, a huge declared shape) makes the file invalid, not the server broken.
    """
    try:
        if ftype.kind == "keypoints":
            from crosstrainer.keypoints.io import load_keypoints

            problem = uploads.check_npy(path) if ftype is uploads.NPY else None
            if problem:
                return problem
            load_keypoints(path, skeleton)
            return None
        from crosstrainer.video.decode import probe_video

        info = probe_video(path)
        if info.duration_s <= 0:
            return "the video has no duration"
        return None
    except CrossTrainerError as exc:
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__
    except RecursionError:
        return "nested too deeply to be a keypoint file" if ftype.kind == "keypoints" else "too deeply nested"
    except MemoryError:
        return "too large to read (it would not fit in memory)"
