"""The web app's JSON API, through FastAPI's TestClient.

Queue, size and type tests inject a lightweight assessor (synthetic results from ``report_fixtures``) because they
never reach the model; the no-person and happy-path tests run the real ``crosstrainer.api.Assessor`` (marked slow)
with the shipped model, or the model folder named by ``CROSSTRAINER_TEST_MODEL``.
"""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from crosstrainer.errors import NoPersonError
from crosstrainer.server.app import create_app
from report_fixtures import fake_pose, fake_result

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample_bicep_curl.mp4"


class FakeAssessor:
    """Answers with a synthetic result, or raises ``error``; waits for ``gate`` first when one is given."""

    def __init__(self, error: Exception | None = None, gate: threading.Event | None = None) -> None:
        self.error, self.gate, self.calls = error, gate, []

    def assess(self, path, *, kind="auto", progress=None, **options):
        self.calls.append({"path": path, "kind": kind, "exists": Path(path).exists(), **options})
        if self.gate is not None:
            assert self.gate.wait(10), "test gate never opened"
        if progress:
            progress("pose", 0.5)
        if self.error is not None:
            raise type(self.error)(str(self.error).replace("{path}", path))
        return fake_result(path, kind=kind)


def _client(tmp_path: Path, assessor: FakeAssessor | None = None, **kwargs) -> TestClient:
    app = create_app(assessor_factory=lambda: assessor or FakeAssessor(), workdir=tmp_path, **kwargs)
    return TestClient(app)


def _post(client: TestClient, content: bytes, name: str = "clip.mp4", **fields):
    return client.post("/v1/assessments", files={"file": (name, io.BytesIO(content))}, data=fields)


def _wait(client: TestClient, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = client.get(f"/v1/assessments/{job_id}").json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s: {body}")


def _leftovers(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.is_file()]


def test_upload_poll_and_report_with_a_fake_assessor(tmp_path):
    fake = FakeAssessor()
    with _client(tmp_path, fake) as client:
        r = _post(client, SAMPLE.read_bytes(), name="my curl.mp4", sport="bicep curl")
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"] == job["status_url"] == f"/v1/assessments/{job['id']}"
        assert job["status"] in ("queued", "running", "done") and job["kind"] == "video"
        done = _wait(client, job["id"])
        assert done["status"] == "done" and done["progress"] == 1.0 and done["error"] is None
        assert done["result"]["schema"] == "crosstrainer.assessment/v1"
        assert done["result"]["input"]["path"] == "my curl.mp4"  # never the private upload path
        call = fake.calls[0]
        assert call["exists"] and call["kind"] == "video" and call["sport"] == "bicep curl"
        assert Path(call["path"]).suffix == ".mp4" and "my curl" not in call["path"]  # random name, sniffed suffix
        assert not Path(call["path"]).exists()  # deleted after processing
        report = client.get(done["report_url"])
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
        assert 'id="verdict"' in report.text and "good form" in report.text
        assert "default-src 'none'" in report.headers["content-security-policy"]
        dl = client.get(done["report_url"], params={"download": 1})
        assert dl.headers["content-disposition"] == 'attachment; filename="my_curl_report.html"'
        upload_dir = client.app.state.upload_dir
        assert upload_dir.is_dir() and not any(upload_dir.iterdir())
    assert not upload_dir.exists()  # removed on shutdown


def test_empty_file_is_rejected(tmp_path):
    with _client(tmp_path) as client:
        r = _post(client, b"")
        assert r.status_code == 422 and r.json()["code"] == "empty_file"
        assert "clip.mp4 is empty" in r.json()["detail"]
    assert _leftovers(tmp_path) == []


def test_text_file_renamed_mp4_is_415(tmp_path):
    with _client(tmp_path) as client:
        r = _post(client, b"this is just some text, not a video\n" * 10, name="notes.mp4")
        assert r.status_code == 415 and r.json()["code"] == "unsupported_type"
        assert r.json()["detail"].startswith("notes.mp4 is not a supported file")
    assert _leftovers(tmp_path) == []


def test_too_big_is_413_and_nothing_is_kept(tmp_path):
    with _client(tmp_path, max_upload_mb=0.05) as client:  # 52 KB; the sample is 98 KB
        r = _post(client, SAMPLE.read_bytes())
        assert r.status_code == 413 and r.json()["code"] == "too_large"
        assert "0.05 MB" in r.json()["detail"]
        assert _post(client, SAMPLE.read_bytes()[:1000] + bytes(200_000)).status_code == 413
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "content",
    [SAMPLE.read_bytes()[: 98512 // 2], SAMPLE.read_bytes()[:32] + np.random.default_rng(0).bytes(20_000)],
    ids=["truncated", "garbage-after-ftyp"],
)
def test_unreadable_mp4_is_422(tmp_path, content):
    with _client(tmp_path) as client:
        r = _post(client, content, name="broken.mp4")
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["code"] == "invalid_video" and body["detail"].startswith("broken.mp4 ")
        assert body["detail"].count("broken.mp4") == 1, body["detail"]  # one clean line: the name said once
        assert "[Errno" not in body["detail"] and "\n" not in body["detail"]
        assert str(tmp_path) not in body["detail"]  # the private path never leaks
    assert _leftovers(tmp_path) == []


def _pose_npy(missing: bool = False) -> bytes:
    pose = fake_pose()
    conf = np.zeros_like(pose.conf) if missing else pose.conf
    buf = io.BytesIO()
    np.save(buf, np.concatenate([pose.xy, conf[..., None]], axis=2).astype(np.float32))
    return buf.getvalue()


def test_keypoint_uploads_are_checked_by_content(tmp_path):
    fake = FakeAssessor()
    with _client(tmp_path, fake) as client:
        good = _pose_npy()
        r = _post(client, good, name="pose.bin")  # the name says nothing; the magic says .npy
        assert r.status_code == 202, r.text
        assert r.json()["kind"] == "keypoints"
        assert _wait(client, r.json()["id"])["status"] == "done"
        assert fake.calls[0]["kind"] == "keypoints" and fake.calls[0]["path"].endswith(".npy")
        bad = _post(client, b'{"frames": [1, 2,', name="pose.json")
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_keypoints"
        assert bad.json()["detail"].startswith("pose.json: ") and bad.json()["detail"].count("pose.json") == 1
        short = _post(client, good[:200], name="pose.npy")
        assert short.status_code == 422
        # parsed with the job's own reader before queuing: keypoints that are all missing never reach a worker
        empty = _post(client, _pose_npy(missing=True), name="nobody.npy")
        assert empty.status_code == 422 and empty.json()["code"] == "invalid_keypoints", empty.text
        assert empty.json()["detail"].count("nobody.npy") == 1
        wrong = _post(client, SAMPLE.read_bytes(), name="x.mp4", kind="keypoints")
        assert wrong.status_code == 415
        assert len(fake.calls) == 1
    assert _leftovers(tmp_path) == []


def test_deeply_nested_json_is_a_422_not_a_crash(tmp_path):
    """Issue 12: 100,000 nested brackets made the JSON parser raise RecursionError, answered as a plain-text 500."""
    with _client(tmp_path) as client:
        r = _post(client, b"[" * 100_000 + b"]" * 100_000, name="deep.json")
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["code"] == "invalid_keypoints" and r.json()["detail"].startswith("deep.json")
        assert client.get("/v1/health").json()["status"] == "ok"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("exc", [RecursionError("maximum recursion depth exceeded"), MemoryError(), KeyError("x")])
def test_any_unexpected_error_is_the_documented_json_500(tmp_path, monkeypatch, exc):
    """Whatever an upload check raises, the answer is ``{"detail", "code"}`` (no traceback, no path), not text."""
    import crosstrainer.server.app as app_module

    def boom(path, ftype, *rest):
        raise exc

    monkeypatch.setattr(app_module, "_check_content", boom)
    with _client(tmp_path) as client:  # TestClient re-raises server exceptions: this fails if one escapes
        r = _post(client, _pose_npy(), name="pose.npy")
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("application/json")
        assert r.json() == {
            "detail": f"internal error ({type(exc).__name__}); the server is still running",
            "code": "internal_error",
        }
        assert r.headers["x-content-type-options"] == "nosniff"
        assert client.get("/v1/health").status_code == 200
    assert _leftovers(tmp_path) == []  # the upload is deleted even so


def test_keep_alive_connection_survives_a_500(tmp_path, monkeypatch):
    """Through a real uvicorn server: after an internal error the same TCP connection serves the next request."""
    import socket

    import httpx
    import uvicorn

    import crosstrainer.server.app as app_module

    def boom(path, ftype, *rest):
        raise RecursionError("maximum recursion depth exceeded while decoding a JSON array")

    monkeypatch.setattr(app_module, "_check_content", boom)
    app = create_app(assessor_factory=FakeAssessor, workdir=tmp_path)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 20
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        assert server.started
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            first = c.get("/v1/health")
            local = first.extensions["network_stream"].get_extra_info("client_addr")
            r = c.post("/v1/assessments", files={"file": ("deep.json", b"[" * 1000 + b"]" * 1000)})
            assert r.status_code == 500 and r.json()["code"] == "internal_error"
            assert r.headers.get("connection", "").lower() != "close"
            again = c.get("/v1/health")  # raises ReadError/RemoteProtocolError when the connection was reset
            assert again.status_code == 200
            assert again.extensions["network_stream"].get_extra_info("client_addr") == local  # same connection
            for url, status, code in (
                ("/nope", 404, "not_found"),
                ("/v1/assessments/x/report?download=maybe", 422, "invalid_request"),
            ):
                r = c.get(url)
                assert (r.status_code, r.json()["code"]) == (status, code) and r.json()["detail"]
            r = c.delete("/v1/health")
            assert (r.status_code, r.json()["code"]) == (405, "method_not_allowed")
    finally:
        server.should_exit = True
        thread.join(10)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_worker_survives_jobs_that_blow_up(tmp_path):
    """RecursionError / MemoryError inside a job fail that job with a reason; the next job still runs."""
    with _client(tmp_path, FakeAssessor(error=RecursionError("maximum recursion depth exceeded"))) as client:
        body = _wait(client, _post(client, _pose_npy(), name="a.npy").json()["id"])
        assert body["status"] == "failed" and body["error"]["code"] == "InternalError"
        assert "RecursionError" in body["error"]["message"]
        client.app.state.jobs._assessor = FakeAssessor(error=MemoryError())  # the loaded assessor, swapped
        body = _wait(client, _post(client, _pose_npy(), name="b.npy").json()["id"])
        assert body["status"] == "failed" and "MemoryError" in body["error"]["message"]
        client.app.state.jobs._assessor = FakeAssessor()
        assert _wait(client, _post(client, _pose_npy(), name="c.npy").json()["id"])["status"] == "done"
    assert _leftovers(tmp_path) == []


def test_failed_job_reports_the_error_in_one_line(tmp_path):
    fake = FakeAssessor(error=NoPersonError("{path}: no person detected in any frame"))
    with _client(tmp_path, fake) as client:
        r = _post(client, SAMPLE.read_bytes(), name="empty_gym.mp4")
        body = _wait(client, r.json()["id"])
        assert body["status"] == "failed" and body["result"] is None
        assert body["error"] == {
            "code": "NoPersonError",
            "exit_code": 5,
            "message": "empty_gym.mp4: no person detected in any frame",
        }
        page = client.get(body["report_url"])
        assert page.status_code == 422 and "no person detected" in page.text
    assert _leftovers(tmp_path) == []


def test_unknown_id_is_404(tmp_path):
    with _client(tmp_path) as client:
        for url in ("/v1/assessments/nope", "/v1/assessments/nope/report"):
            r = client.get(url)
            assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_not_multipart_is_400(tmp_path):
    with _client(tmp_path) as client:
        r = client.post("/v1/assessments", content=SAMPLE.read_bytes(), headers={"content-type": "video/mp4"})
        assert r.status_code == 400 and "multipart/form-data" in r.json()["detail"]
        r = client.post("/v1/assessments", data={"kind": "video"}, files={"other": ("a.txt", b"x")})
        assert r.status_code == 400 and "'file'" in r.json()["detail"]


def test_queue_full_is_429_and_jobs_run_in_order(tmp_path):
    gate = threading.Event()
    fake = FakeAssessor(gate=gate)
    with _client(tmp_path, fake, max_jobs=1, queue_size=1) as client:
        first = _post(client, SAMPLE.read_bytes()).json()
        deadline = time.time() + 10
        while client.get(first["status_url"]).json()["status"] != "running" and time.time() < deadline:
            time.sleep(0.02)
        second = _post(client, SAMPLE.read_bytes()).json()
        assert client.get(second["status_url"]).json()["queue_position"] == 1
        r = _post(client, SAMPLE.read_bytes())
        assert r.status_code == 429 and r.json()["code"] == "queue_full" and r.headers["retry-after"]
        health = client.get("/v1/health").json()
        assert health["running"] == 1 and health["queued"] == 1 and health["model"] == "ready"
        gate.set()
        assert _wait(client, first["id"])["status"] == "done"
        assert _wait(client, second["id"])["status"] == "done"
        assert _post(client, SAMPLE.read_bytes()).status_code == 202  # room again
    assert _leftovers(tmp_path) == []


def test_openapi_documents_the_api_and_index_is_served(tmp_path):
    with _client(tmp_path) as client:
        spec = client.get("/openapi.json").json()
        post = spec["paths"]["/v1/assessments"]["post"]
        assert "multipart/form-data" in post["requestBody"]["content"]
        assert post["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/JobOut")
        assert {"413", "415", "422", "429"} <= set(post["responses"])
        assert "Assessment" in spec["components"]["schemas"]
        assert "/v1/assessments/{job_id}" in spec["paths"]
        page = client.get("/")
        assert page.status_code == 200 and 'id="upload-form"' in page.text
        assert '<script src="/static/app.js">' in page.text and "http" not in page.text.split("<body>")[0]
        assert client.get("/static/app.js").status_code == 200
        assert client.get("/docs").status_code == 404  # Swagger UI would need a CDN


# --------------------------------------------------------------------------------------------- real model


@pytest.fixture(scope="module")
def real_client(tmp_path_factory):
    api = pytest.importorskip("crosstrainer.api", reason="crosstrainer.api (the assessment pipeline) is not built yet")
    model_dir = Path(os.environ.get("CROSSTRAINER_TEST_MODEL") or api.DEFAULT_MODEL_DIR)
    if not model_dir.exists():
        pytest.skip(f"no trained model at {model_dir} (make train-default, or set CROSSTRAINER_TEST_MODEL)")
    assessor = api.Assessor.load(model_dir)
    app = create_app(assessor_factory=lambda: assessor, workdir=tmp_path_factory.mktemp("uploads"))
    with TestClient(app) as client:
        yield client


@pytest.mark.slow
def test_real_assessor_on_the_sample_clip(real_client):
    r = _post(real_client, SAMPLE.read_bytes(), name="sample_bicep_curl.mp4")
    assert r.status_code == 202, r.text
    body = _wait(real_client, r.json()["id"], timeout=300)
    assert body["status"] == "done", body["error"]
    result = body["result"]
    assert result["input"]["path"] == "sample_bicep_curl.mp4" and result["input"]["kind"] == "video"
    assert result["proficiency"]["level"] in result["proficiency"]["levels"]
    report = real_client.get(body["report_url"]).text
    assert 'id="verdict"' in report and 'id="timeline"' in report and "data:image/jpeg;base64," in report


@pytest.mark.slow
def test_real_assessor_on_a_clip_without_a_person(real_client, tmp_path):
    """A synthetic clip (grey gradient frames, no person) passes the upload checks and fails the job with NoPerson."""
    from crosstrainer.video.decode import write_test_clip

    frames = np.repeat(np.linspace(40, 200, 160, dtype=np.uint8)[None, :, None], 120, axis=0)
    frames = np.repeat(np.repeat(frames[None], 3, axis=3), 45, axis=0)
    clip = write_test_clip(tmp_path / "wall.mp4", frames, fps=15)
    r = _post(real_client, clip.read_bytes(), name="wall.mp4")
    assert r.status_code == 202, r.text
    body = _wait(real_client, r.json()["id"], timeout=300)
    assert body["status"] == "failed"
    assert body["error"]["code"] == "NoPersonError" and body["error"]["exit_code"] == 5
    assert body["error"]["message"].startswith("wall.mp4") or "wall.mp4" in body["error"]["message"]
    assert "\n" not in body["error"]["message"]


@pytest.mark.parametrize("slots", [1, 3])
def test_upload_checks_run_at_most_check_concurrency_at_once(tmp_path, monkeypatch, slots):
    """The content checks (which may parse a large keypoint file) are bounded, so their memory is."""
    import crosstrainer.server.app as app_module

    now, peak, lock = [0], [0], threading.Lock()

    def slow_check(path, ftype, *rest):
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.3)
        with lock:
            now[0] -= 1
        return "not keypoints"

    monkeypatch.setattr(app_module, "_check_content", slow_check)
    with _client(tmp_path, check_concurrency=slots) as client:
        answers: list[int] = []
        threads = [
            threading.Thread(target=lambda: answers.append(_post(client, _pose_npy(), name="p.npy").status_code))
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert answers == [422] * 4
    assert peak[0] == slots


def test_a_25_joint_upload_needs_and_takes_a_skeleton_field(tmp_path):
    """SYNTHETIC (T, 25, 3) OpenPose array: BODY_25 and BODY_25B are never guessed, so the form names the layout."""
    import numpy as np

    arr = np.random.default_rng(0).uniform(100, 500, (20, 25, 3)).astype(np.float32)
    arr[..., 2] = 0.9
    buf = io.BytesIO()
    np.save(buf, arr)
    fake = FakeAssessor()
    with _client(tmp_path, fake) as client:
        r = _post(client, buf.getvalue(), name="op.npy")
        assert r.status_code == 422 and "openpose25b" in r.json()["detail"], r.text
        r = _post(client, buf.getvalue(), name="op.npy", skeleton="openpose25b")
        assert r.status_code == 202, r.text
        assert _wait(client, r.json()["id"])["status"] == "done"
        assert fake.calls[0]["skeleton"] == "openpose25b"
        bad = _post(client, buf.getvalue(), name="op.npy", skeleton="kinect99")
        assert bad.status_code == 422 and "unknown skeleton" in bad.json()["detail"]
        video = _post(client, SAMPLE.read_bytes(), name="x.mp4", skeleton="coco17")
        assert video.status_code == 400
