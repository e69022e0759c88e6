"""The web app under load (issue 12): many concurrent clients against a real ``uvicorn`` server in a subprocess.

Each client sends a mix of valid keypoint uploads (``.npy`` and JSON; a 429 is retried a few times, an accepted job is
polled to its end and its report read slowly), hostile uploads (100,000 nested brackets, random bytes, an empty file,
a truncated ``.npy``, a ``.npy`` whose header claims a shape of 10^10 frames, a body that is not multipart), oversized
uploads (one with a ``Content-Length`` above the limit, one streamed without a length) and slow uploads (a valid file
trickled in small chunks). Meanwhile a probe times ``GET /v1/health`` every 0.1 s and the server's RSS is sampled.
It then checks: every answer has the expected status, every error is the documented ``{"detail", "code"}`` JSON,
no 5xx, no reset connection, health always under 1 s, RSS growth bounded, every accepted job done or failed with a
reason, no upload left behind.

    .venv/bin/python benchmarks/bench_server_load.py                    # 50 clients x 4 requests, table + JSON
    .venv/bin/python benchmarks/bench_server_load.py --clients 100 --rounds 10 --json benchmarks/results/x.json
    .venv/bin/python benchmarks/bench_server_load.py serve --state-dir DIR   # the server alone; prints "PORT <n>"

The server is ``crosstrainer.server.app.create_app`` with a light assessor by default: it reads the keypoints with the
real reader, spends ``--work-s`` seconds, and returns a synthetic result whose report is rendered as usual, so the
figures measure the web app and not the model (``--assessor real`` loads the shipped model: slow on a CPU).
``tests/test_server_load.py`` runs the same code at CI size; ``tests/test_server_restart.py`` uses ``ServerProcess``
to kill a server with SIGKILL and start another on its state folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
SAMPLE = ROOT / "examples" / "sample_bicep_curl.mp4"
HEALTH_LIMIT_S = 1.0

# ------------------------------------------------------------------------------------------------ the server side


class LightAssessor:
    """Reads keypoints with the real reader, spends ``work_s`` seconds in four stages, returns a synthetic result.

    A video fails the job as the real pipeline does on a clip without a person (``NoPersonError``);
    ``sport="crash"`` raises ``RecursionError`` inside the job (a worker must survive it); ``sport="block"`` makes
    the job run until the process ends (for the restart test's SIGKILL).
    """

    def __init__(self, work_s: float = 0.05) -> None:
        self.work_s = work_s

    def assess(self, path: str, *, kind: str = "auto", progress: Any = None, **options: Any) -> Any:
        from crosstrainer.keypoints.io import load_keypoints

        if str(TESTS) not in sys.path:
            sys.path.insert(0, str(TESTS))
        from report_fixtures import fake_result

        if kind == "keypoints":
            load_keypoints(path)
        else:
            from crosstrainer.errors import NoPersonError

            time.sleep(self.work_s)
            raise NoPersonError(f"{path}: no person detected in any frame")
        if options.get("sport") == "block":
            threading.Event().wait()
        if options.get("sport") == "crash":
            raise RecursionError("maximum recursion depth exceeded")
        for stage in ("pose", "features", "attributes", "feedback"):
            time.sleep(self.work_s / 4)
            if progress:
                progress(stage, 1.0)
        return fake_result(path, kind=kind)


def serve(args: argparse.Namespace) -> None:
    """Run the app on a port the OS picks; print ``PORT <n>`` on stdout once it listens."""
    import uvicorn

    from crosstrainer.server.app import create_app

    if args.assessor == "real":
        factory = None
    else:

        def factory() -> LightAssessor:
            return LightAssessor(args.work_s)

    app = create_app(
        assessor_factory=factory,
        max_upload_mb=args.max_upload_mb,
        max_jobs=args.max_jobs,
        queue_size=args.queue_size,
        state_dir=args.state_dir,
        shutdown_timeout=2.0,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=30))

    def announce() -> None:
        while not server.started:
            time.sleep(0.02)
        print(f"PORT {sock.getsockname()[1]}", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[sock])


@dataclass
class ServerProcess:
    """``crosstrainer`` web app in a subprocess (this file's ``serve``): ``url``, ``pid``, ``rss_mb()``, ``kill()``."""

    state_dir: Path
    max_upload_mb: float = 1.0
    queue_size: int = 8
    max_jobs: int = 1
    work_s: float = 0.05
    assessor: str = "light"
    proc: subprocess.Popen | None = None
    url: str = ""
    log_path: Path | None = None

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.log_path = Path(tempfile.mkstemp(prefix="crosstrainer-serve-", suffix=".log")[1])
        cmd = [sys.executable, str(Path(__file__).resolve()), "serve", "--state-dir", str(self.state_dir)]
        cmd += ["--max-upload-mb", str(self.max_upload_mb), "--queue-size", str(self.queue_size)]
        cmd += ["--max-jobs", str(self.max_jobs), "--work-s", str(self.work_s), "--assessor", self.assessor]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, cwd=ROOT)
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith(b"PORT "):
            self.kill()
            raise RuntimeError(f"the server did not start in {timeout:.0f}s:\n{self.log()}")
        self.url = f"http://127.0.0.1:{int(line[0].split()[1])}"
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_mb(self) -> float | None:
        try:
            for row in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if row.startswith("VmRSS:"):
                    return int(row.split()[1]) / 1024
        except OSError:
            pass
        return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def stop(self) -> None:
        """Ctrl+C (SIGINT): uvicorn's graceful shutdown, then the app's lifespan shutdown."""
        self.kill(signal.SIGINT)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# ------------------------------------------------------------------------------------------------ the payloads


def pose_npy(frames: int = 60, seed: int = 0) -> bytes:
    """A valid CT17 keypoint array (T, 17, 3): a standing person swaying a little, every joint seen."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from report_fixtures import STANDING

    base = np.array(list(STANDING.values()), np.float32)
    rng = np.random.default_rng(seed)
    xy = base[None] + rng.normal(0, 2, (frames, len(base), 2)).astype(np.float32)
    arr = np.concatenate([xy, np.ones((frames, len(base), 1), np.float32)], axis=2)
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def pose_json(frames: int = 60) -> bytes:
    from crosstrainer.keypoints.io import load_keypoints, save_keypoints

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "a.npy"
        src.write_bytes(pose_npy(frames, seed=1))
        save_keypoints(load_keypoints(src, skeleton="ct17", fps=30), Path(tmp) / "a.json")
        return (Path(tmp) / "a.json").read_bytes()


def huge_shape_npy() -> bytes:
    """A .npy whose header claims (9999999999, 17, 3) float32 followed by 1 KB: must be refused, never allocated."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (9999999999, 17, 3), }"
    header += " " * (118 - len(header)) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(1024)


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    expect: frozenset[int]
    data: bytes = b""
    mode: str = "form"  # form | chunked | slow | raw
    job_ends: str = ""  # for an accepted file: "done" or "failed" (the job's expected end)
    sport: str = ""


def make_cases(max_upload_mb: float) -> dict[str, Case]:
    """The requests, each with the statuses it may get: 429 (queue full) answers any upload while the queue is full,
    before the body is read."""
    limit = int(max_upload_mb * 1024 * 1024)
    good = pose_npy()
    rng = random.Random(0)
    oversized = good[:128] + bytes(limit + 256 * 1024)
    cases = [
        Case("valid npy", "pose.npy", frozenset({202, 429}), good, job_ends="done"),
        Case("valid json", "pose.json", frozenset({202, 429}), pose_json(), job_ends="done"),
        Case("slow upload", "slow.npy", frozenset({202, 429}), pose_npy(seed=2), mode="slow", job_ends="done"),
        Case("video, no person", "gym.mp4", frozenset({202, 429}), SAMPLE.read_bytes(), job_ends="failed"),
        Case("job crashes", "pose.npy", frozenset({202, 429}), good, job_ends="failed", sport="crash"),
        Case("nested json", "deep.json", frozenset({422, 429}), b"[" * 100_000 + b"]" * 100_000),
        Case(
            "random bytes", "clip.mp4", frozenset({415, 429}), b"\x01" + bytes(rng.getrandbits(8) for _ in range(4095))
        ),
        Case("empty file", "empty.npy", frozenset({422, 429}), b""),
        Case("truncated npy", "cut.npy", frozenset({422, 429}), good[:200]),
        Case("huge-shape npy", "huge.npy", frozenset({422, 429}), huge_shape_npy()),
        Case("not multipart", "-", frozenset({400, 429}), good, mode="raw"),
        Case("oversized", "big.npy", frozenset({413, 429}), oversized),
        Case("oversized stream", "big.npy", frozenset({413, 429}), oversized, mode="chunked"),
    ]
    return {c.name: c for c in cases}


# A client's sequence: valid uploads about half the time (the jobs), the rest hostile, oversized or slow.
MIX = [
    "valid npy",
    "nested json",
    "valid json",
    "random bytes",
    "slow upload",
    "huge-shape npy",
    "video, no person",
    "oversized",
    "truncated npy",
    "valid json",
    "empty file",
    "oversized stream",
    "job crashes",
    "not multipart",
    "valid npy",
]


# ------------------------------------------------------------------------------------------------ the clients


@dataclass
class Tally:
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    bad_error_bodies: list[str] = field(default_factory=list)
    transport_errors: dict[str, int] = field(default_factory=dict)
    accepted: list[tuple[str, str]] = field(default_factory=list)  # (case, job id)
    ends: dict[str, dict] = field(default_factory=dict)  # job id -> its last state as its client saw it
    retries_429: int = 0
    slow_reads: int = 0

    def note(self, case: str, status: int) -> None:
        self.statuses.setdefault(case, {}).setdefault(status, 0)
        self.statuses[case][status] += 1


def _multipart(case: Case, boundary: str = "crosstrainerloadtestboundary") -> tuple[bytes, str]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{case.filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + case.data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


async def _send(client: Any, case: Case) -> Any:
    if case.mode == "form":
        data = {"sport": case.sport} if case.sport else None
        return await client.post("/v1/assessments", files={"file": (case.filename, case.data)}, data=data)
    if case.mode == "raw":
        return await client.post("/v1/assessments", content=case.data, headers={"content-type": "video/mp4"})
    body, ctype = _multipart(case)
    pieces = 8 if case.mode == "slow" else 32
    step = max(1, len(body) // pieces + 1)

    async def stream():  # no Content-Length: chunked transfer, the server has to count
        for i in range(0, len(body), step):
            yield body[i : i + step]
            if case.mode == "slow":
                await asyncio.sleep(0.15)

    return await client.post("/v1/assessments", content=stream(), headers={"content-type": ctype})


def _check_error_body(tally: Tally, case: str, response: Any) -> None:
    try:
        body = response.json()
        ok = set(body) == {"detail", "code"} and body["detail"] and "\n" not in body["detail"]
    except ValueError:
        ok = False
    if not ok:
        tally.bad_error_bodies.append(f"{case}: {response.status_code} {response.text[:120]!r}")


async def _slow_read(client: Any, url: str, tally: Tally) -> None:
    """Read an answer 1 KB at a time with pauses (a slow phone on a bad network)."""
    async with client.stream("GET", url) as r:
        async for _ in r.aiter_bytes(1024):
            await asyncio.sleep(0.02)
    tally.slow_reads += 1


async def _client(n: int, url: str, rounds: int, cases: dict[str, Case], tally: Tally, job_timeout: float) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for r in range(rounds):
            case = cases[MIX[(n + r * 5) % len(MIX)]]
            await asyncio.sleep(random.random() * 0.2)
            try:
                for attempt in range(4):
                    response = await _send(client, case)
                    if response.status_code != 429 or attempt == 3:
                        break
                    tally.retries_429 += 1
                    await asyncio.sleep(0.5 + random.random())
            except httpx.TransportError as exc:
                key = f"{case.name}: {type(exc).__name__}"
                tally.transport_errors[key] = tally.transport_errors.get(key, 0) + 1
                continue
            status = response.status_code
            tally.note(case.name, status)
            if status not in case.expect:
                tally.unexpected.append(f"{case.name}: {status} {response.text[:160]!r}")
            if status >= 400:
                _check_error_body(tally, case.name, response)
            if status != 202:
                continue
            job = response.json()
            tally.accepted.append((case.name, job["id"]))
            deadline = time.monotonic() + job_timeout
            while time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                state = (await client.get(job["status_url"])).json()
                if state["status"] in ("done", "failed"):
                    tally.ends[job["id"]] = state
                    break
            if n % 3 == 0:
                await _slow_read(client, job["report_url"] if n % 2 else "/openapi.json", tally)


class Watch(threading.Thread):
    """In its own thread (so the load generator's event loop cannot delay it): time ``GET /v1/health`` every 0.1 s
    on a keep-alive connection and sample the server's RSS. ``slow`` holds (seconds since start, ms) over 250 ms.
    """

    def __init__(self, server: ServerProcess) -> None:
        super().__init__(daemon=True)
        self.server, self.stop = server, threading.Event()
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.slow: list[tuple[float, int]] = []
        self.rss: list[float] = []

    def run(self) -> None:
        import httpx

        t0 = time.perf_counter()
        with httpx.Client(base_url=self.server.url, timeout=10) as client:
            while not self.stop.is_set():
                t = time.perf_counter()
                try:
                    r = client.get("/v1/health")
                    if r.status_code != 200 or r.json().get("status") != "ok":
                        self.failures.append(f"{r.status_code} {r.text[:80]}")
                except Exception as exc:
                    self.failures.append(type(exc).__name__)
                self.latencies.append(time.perf_counter() - t)
                if self.latencies[-1] > 0.25:
                    self.slow.append((round(t - t0, 2), round(1000 * self.latencies[-1])))
                rss = self.server.rss_mb()
                if rss is not None:
                    self.rss.append(rss)
                self.stop.wait(0.1)


async def _final_states(url: str, ids: list[str]) -> dict[str, dict]:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return {job_id: (await client.get(f"/v1/assessments/{job_id}")).json() for job_id in ids}


async def run_load(server: ServerProcess, clients: int = 50, rounds: int = 4, job_timeout: float = 120.0) -> dict:
    """Run the load against a started server; returns the figures (see ``check``)."""
    import httpx

    random.seed(0)
    cases = make_cases(server.max_upload_mb)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as warm:  # one job first: imports, first render
        r = await warm.post("/v1/assessments", files={"file": ("warm.npy", cases["valid npy"].data)})
        r.raise_for_status()
        while (await warm.get(r.json()["status_url"])).json()["status"] not in ("done", "failed"):
            await asyncio.sleep(0.1)
    rss_warm = server.rss_mb()
    tally, watch = Tally(), Watch(server)
    watch.start()
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(n, server.url, rounds, cases, tally, job_timeout) for n in range(clients)))
    load_s = time.perf_counter() - t0
    # every accepted job: wait for its end (the clients polled theirs; this catches any still going)
    deadline = time.monotonic() + job_timeout
    ids = [job_id for _, job_id in tally.accepted if job_id not in tally.ends]  # finished ones may be evicted now
    states = await _final_states(server.url, ids)
    while time.monotonic() < deadline and any(s.get("status") not in ("done", "failed") for s in states.values()):
        await asyncio.sleep(0.5)
        states = await _final_states(server.url, ids)
    states.update(tally.ends)
    watch.stop.set()
    watch.join(15)
    latencies, failures, slow, rss = watch.latencies, watch.failures, watch.slow, watch.rss
    ends = {"done": 0, "failed": 0, "unfinished": 0, "failed_without_reason": 0, "wrong_end": 0}
    by_case: dict[str, dict[str, int]] = {}
    reasons: dict[str, int] = {}
    for case, job_id in tally.accepted:
        s = states[job_id]
        status = s.get("status") if s.get("status") in ("done", "failed") else "unfinished"
        ends[status] += 1
        by_case.setdefault(case, {}).setdefault(status, 0)
        by_case[case][status] += 1
        if status == "failed":
            error = s.get("error") or {}
            reasons[f"{error.get('code')}: {error.get('message', '')[:60]}"] = (
                reasons.get(f"{error.get('code')}: {error.get('message', '')[:60]}", 0) + 1
            )
            if not error.get("message"):
                ends["failed_without_reason"] += 1
        if status != "unfinished" and status != cases[case].job_ends:
            ends["wrong_end"] += 1
    leftovers = sorted(p.name for p in (server.state_dir / "uploads").iterdir()) if server.state_dir else []
    lat = sorted(latencies) or [0.0]
    return {
        "clients": clients,
        "rounds": rounds,
        "requests": sum(sum(v.values()) for v in tally.statuses.values()) + sum(tally.transport_errors.values()),
        "load_s": round(load_s, 2),
        "statuses": {k: {str(s): n for s, n in sorted(v.items())} for k, v in sorted(tally.statuses.items())},
        "unexpected": tally.unexpected,
        "bad_error_bodies": tally.bad_error_bodies,
        "transport_errors": tally.transport_errors,
        "server_errors_5xx": sum(n for v in tally.statuses.values() for s, n in v.items() if s >= 500),
        "retries_429": tally.retries_429,
        "slow_reads": tally.slow_reads,
        "jobs": {"accepted": len(tally.accepted), **ends, "by_case": by_case, "failure_reasons": reasons},
        "health": {
            "probes": len(latencies),
            "failures": failures,
            "p50_ms": round(1000 * statistics.median(lat), 1),
            "p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1),
            "max_ms": round(1000 * lat[-1], 1),
            "slow": slow,
        },
        "rss_mb": {
            "after_warmup": round(rss_warm or 0.0, 1),
            "peak": round(max(rss, default=0.0), 1),
            "end": round(rss[-1] if rss else 0.0, 1),
            "growth_peak": round(max(rss, default=0.0) - (rss_warm or 0.0), 1),
        },
        "uploads_left": leftovers,
    }


def check(result: dict, rss_growth_mb: float = 200.0) -> list[str]:
    """What went wrong (an empty list when the server held)."""
    problems = []
    if result["unexpected"]:
        problems.append(f"unexpected statuses: {result['unexpected'][:5]}")
    if result["bad_error_bodies"]:
        problems.append(f"errors not in the documented JSON shape: {result['bad_error_bodies'][:5]}")
    if result["transport_errors"]:
        problems.append(f"connections reset or failed: {result['transport_errors']}")
    if result["server_errors_5xx"]:
        problems.append(f"{result['server_errors_5xx']} server errors (5xx)")
    h = result["health"]
    if h["failures"] or h["max_ms"] > 1000 * HEALTH_LIMIT_S or h["probes"] < 5:
        problems.append(f"health not always answered within {HEALTH_LIMIT_S:g} s: {h}")
    if result["rss_mb"]["growth_peak"] > rss_growth_mb:
        problems.append(f"RSS grew by {result['rss_mb']['growth_peak']} MB (> {rss_growth_mb} MB): {result['rss_mb']}")
    j = result["jobs"]
    if j["unfinished"] or j["failed_without_reason"] or j["wrong_end"] or not j["done"] or not j["failed"]:
        problems.append(f"jobs not all finished with a reason: {j}")
    if result["uploads_left"]:
        problems.append(f"uploads left behind: {result['uploads_left'][:5]}")
    return problems


# ------------------------------------------------------------------------------------------------ the command


def table(result: dict) -> str:
    rows = [f"{'case':<18} statuses"]
    rows += [f"{k:<18} " + ", ".join(f"{s}: {n}" for s, n in v.items()) for k, v in result["statuses"].items()]
    h, r, j = result["health"], result["rss_mb"], result["jobs"]
    rows += [
        "",
        f"clients {result['clients']} x {result['rounds']} requests: {result['requests']} answered in "
        f"{result['load_s']} s; 429 retries {result['retries_429']}; slow reads {result['slow_reads']}",
        f"health: {h['probes']} probes, p50 {h['p50_ms']} ms, p99 {h['p99_ms']} ms, max {h['max_ms']} ms, "
        f"failures {len(h['failures'])}",
        f"RSS: {r['after_warmup']} MB after warm-up, peak {r['peak']} MB (+{r['growth_peak']}), end {r['end']} MB",
        f"jobs: {j['accepted']} accepted, {j['done']} done, {j['failed']} failed, {j['unfinished']} unfinished",
        f"5xx: {result['server_errors_5xx']}; reset connections: {sum(result['transport_errors'].values())}; "
        f"uploads left: {len(result['uploads_left'])}",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    s = sub.add_parser("serve", help="run the server alone (used by the load run and the restart test)")
    s.add_argument("--state-dir", type=Path, required=True)
    s.add_argument("--port", type=int, default=0)
    for p in (parser, s):
        p.add_argument("--max-upload-mb", type=float, default=1.0)
        p.add_argument("--queue-size", type=int, default=8)
        p.add_argument("--max-jobs", type=int, default=1)
        p.add_argument("--work-s", type=float, default=0.05, help="time the light assessor spends per job")
        p.add_argument("--assessor", choices=("light", "real"), default="light")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "server_load.json")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(
            Path(tmp) / "state",
            max_upload_mb=args.max_upload_mb,
            queue_size=args.queue_size,
            max_jobs=args.max_jobs,
            work_s=args.work_s,
            assessor=args.assessor,
        )
        with server:
            result = asyncio.run(run_load(server, clients=args.clients, rounds=args.rounds))
    problems = check(result)
    result["problems"] = problems
    result["settings"] = {
        "max_upload_mb": args.max_upload_mb,
        "queue_size": args.queue_size,
        "max_jobs": args.max_jobs,
        "work_s": args.work_s,
        "assessor": args.assessor,
    }
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(table(result))
    print("problems: " + ("; ".join(problems) if problems else "none"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if problems else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
