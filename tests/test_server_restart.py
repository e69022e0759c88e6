"""The web app's job store survives a restart (issue 12): nothing is lost silently, no upload is left behind.

The app is created twice over the same state folder: jobs that were queued or running when the first server stopped
(shut down, or killed with SIGKILL) are reported failed with the reason by the second; finished jobs keep their
result and report; uploads of finished jobs and orphan uploads are deleted.
"""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from crosstrainer.errors import NoPersonError
from crosstrainer.server.app import create_app
from crosstrainer.server.jobs import RECORD_FORMAT, StateFolderBusy
from report_fixtures import fake_pose, fake_result
from test_server_load import load_bench


class Assessor:
    """A synthetic result; ``sport="fail"`` raises NoPersonError; ``sport="wait"`` waits for ``gate``."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def assess(self, path, *, kind="auto", progress=None, **options):
        if options.get("sport") == "wait":
            self.gate.wait(30)
        if options.get("sport") == "fail":
            raise NoPersonError(f"{path}: no person detected in any frame")
        return fake_result(path, kind=kind)


def _npy() -> bytes:
    pose = fake_pose()
    buf = io.BytesIO()
    np.save(buf, np.concatenate([pose.xy, pose.conf[..., None]], axis=2).astype(np.float32))
    return buf.getvalue()


def _post(client, name: str, sport: str = "") -> dict:
    r = client.post("/v1/assessments", files={"file": (name, _npy())}, data={"sport": sport} if sport else None)
    assert r.status_code == 202, r.text
    return r.json()


def _wait(client, job_id: str, until=("done", "failed"), timeout: float = 30.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = client.get(f"/v1/assessments/{job_id}").json()
        if body["status"] in until:
            return body
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still {body['status']} after {timeout}s")


def test_a_restart_reports_interrupted_jobs_and_keeps_finished_ones(tmp_path):
    state = tmp_path / "state"
    assessor = Assessor()
    app = create_app(assessor_factory=lambda: assessor, state_dir=state, queue_size=4, shutdown_timeout=0.3)
    with TestClient(app) as client:
        done = _wait(client, _post(client, "good.npy")["id"])
        failed = _wait(client, _post(client, "nobody.npy", sport="fail")["id"])
        running = _wait(client, _post(client, "long.npy", sport="wait")["id"], until=("running",))
        queued = _post(client, "waiting.npy")
        assert client.get(queued["status_url"]).json()["queue_position"] == 1
        with pytest.raises(StateFolderBusy, match="another crosstrainer server"):
            create_app(assessor_factory=Assessor, state_dir=state)  # one server per state folder
        report = client.get(done["report_url"]).text
    # the first server is stopped; its running job is still blocked (its worker is abandoned, never saved again)
    (state / "uploads" / "0123456789abcdef0123456789abcdef.npy").write_bytes(b"orphan")  # e.g. a killed upload

    again = create_app(assessor_factory=Assessor, state_dir=state)
    assert sorted(again.state.jobs.recovered) == []  # the graceful stop already recorded both as failed
    with TestClient(again) as client:
        got = {j: client.get(f"/v1/assessments/{j}").json() for j in (done["id"], failed["id"])}
        assert got[done["id"]]["status"] == "done"
        assert got[done["id"]]["result"]["input"]["path"] == "good.npy"
        assert client.get(done["report_url"]).text == report
        assert got[failed["id"]]["error"] == done_error_for("nobody.npy")
        run = client.get(running["status_url"]).json()
        assert run["status"] == "failed" and run["result"] is None
        assert run["error"]["code"] == "Interrupted" and run["error"]["exit_code"] == 130
        assert "shut down while this job was running" in run["error"]["message"]
        wait = client.get(queued["status_url"]).json()
        assert wait["status"] == "failed" and "shut down before this job started" in wait["error"]["message"]
        assert client.get(queued["report_url"]).status_code == 422
        assert not any((state / "uploads").iterdir())  # the orphan and the interrupted jobs' uploads are gone
        assert _wait(client, _post(client, "next.npy")["id"])["status"] == "done"  # and it keeps working
    assessor.gate.set()  # let the abandoned worker of the first server end
    time.sleep(0.2)
    record = json.loads((state / "jobs" / f"{running['id']}.json").read_text())
    assert record["status"] == "failed"  # the first server's late worker did not overwrite the second's record


def done_error_for(name: str) -> dict:
    return {"code": "NoPersonError", "exit_code": 5, "message": f"{name}: no person detected in any frame"}


def _record(job_id: str, status: str, upload: str, created: float) -> dict:
    return {
        "format": RECORD_FORMAT,
        "id": job_id,
        "filename": f"{status}.npy",
        "kind": "keypoints",
        "options": {},
        "upload": upload,
        "status": status,
        "stage": "pose" if status == "running" else status,
        "progress": 0.3 if status == "running" else 0.0,
        "created_at": created,
        "started_at": created + 1 if status == "running" else None,
        "finished_at": None,
        "error": None,
        "error_code": None,
        "exit_code": None,
        "has_report": False,
        "assessment": None,
    }


def test_a_crashed_servers_folder_is_recovered(tmp_path):
    """The folder as a killed server leaves it: unfinished records, their uploads, strays and a damaged record."""
    state = tmp_path / "state"
    for sub in ("jobs", "reports", "uploads"):
        (state / sub).mkdir(parents=True)
    ids = {"running": "a" * 32, "queued": "b" * 32}
    for n, (status, job_id) in enumerate(ids.items()):
        (state / "uploads" / f"{job_id[:8]}.npy").write_bytes(_npy())
        (state / "jobs" / f"{job_id}.json").write_text(json.dumps(_record(job_id, status, f"{job_id[:8]}.npy", n)))
    (state / "jobs" / ("c" * 32 + ".json")).write_text('{"format": "crosstrainer.server.job/v1", "id": "cc')  # cut
    (state / "jobs" / f".{'d' * 32}.json.x1y2.tmp").write_text("{")  # an atomic write killed half-way
    (state / "reports" / ("e" * 32 + ".html")).write_text("<html>")  # a report without a record
    (state / "uploads" / "f00d.mp4").write_bytes(b"partial upload")
    lost = "9" * 32  # a done job whose stored assessment no longer reads (another version's schema)
    (state / "jobs" / f"{lost}.json").write_text(json.dumps({**_record(lost, "done", "", 5), "assessment": {"x": 1}}))

    app = create_app(assessor_factory=Assessor, state_dir=state)
    assert sorted(app.state.jobs.recovered) == sorted(ids.values())
    with TestClient(app) as client:
        for status, job_id in ids.items():
            body = client.get(f"/v1/assessments/{job_id}").json()
            assert body["status"] == "failed" and body["filename"] == f"{status}.npy"
            assert body["error"]["code"] == "Interrupted" and body["error"]["exit_code"] == 130
            where = "while this job was running" if status == "running" else "before this job started"
            assert body["error"]["message"] == f"the server stopped {where}; upload the file again"
        assert client.get(f"/v1/assessments/{'c' * 32}").status_code == 404  # unreadable: dropped (and logged)
        body = client.get(f"/v1/assessments/{lost}").json()
        assert body["status"] == "failed" and body["result"] is None
        assert body["error"]["message"] == "the stored result of this job could not be read; upload the file again"
    assert sorted(p.stem for p in (state / "jobs").iterdir()) == sorted([*ids.values(), lost])
    assert not any((state / "uploads").iterdir()) and not any((state / "reports").iterdir())
    saved = json.loads((state / "jobs" / f"{ids['running']}.json").read_text())
    assert saved["status"] == "failed" and saved["error_code"] == "Interrupted"  # a third start says the same


def test_old_jobs_are_evicted_with_their_files(tmp_path):
    state = tmp_path / "state"
    with TestClient(create_app(assessor_factory=Assessor, state_dir=state, keep_finished=2)) as client:
        ids = [_wait(client, _post(client, f"{n}.npy")["id"])["id"] for n in range(4)]
    with TestClient(create_app(assessor_factory=Assessor, state_dir=state, keep_finished=2)) as client:
        assert [client.get(f"/v1/assessments/{j}").status_code for j in ids] == [404, 404, 200, 200]
    assert sorted(p.stem for p in (state / "jobs").iterdir()) == sorted(ids[2:])
    assert sorted(p.stem for p in (state / "reports").iterdir()) == sorted(ids[2:])


def test_sigkill_then_restart_reports_the_lost_jobs(tmp_path):
    """A real server (subprocess) killed with SIGKILL mid-job; a second server on its folder says what happened."""
    bench = load_bench()
    state = tmp_path / "state"
    npy = _npy()
    with bench.ServerProcess(state) as first, httpx.Client(base_url=first.url, timeout=30) as c:
        done = c.post("/v1/assessments", files={"file": ("good.npy", npy)}).json()
        _wait(c, done["id"])
        running = c.post("/v1/assessments", files={"file": ("long.npy", npy)}, data={"sport": "block"}).json()
        _wait(c, running["id"], until=("running",))
        queued = c.post("/v1/assessments", files={"file": ("next.npy", npy)}).json()
        assert c.get(queued["status_url"]).json()["status"] == "queued"
        report = c.get(done["report_url"]).text
        first.kill()  # SIGKILL: no shutdown code runs
        assert len(list((state / "uploads").iterdir())) == 2  # the running and the queued job's files
    with bench.ServerProcess(state) as second, httpx.Client(base_url=second.url, timeout=30) as c:
        assert c.get(done["status_url"]).json()["status"] == "done"
        assert c.get(done["report_url"]).text == report
        for job, where in ((running, "while this job was running"), (queued, "before this job started")):
            body = c.get(job["status_url"]).json()
            assert body["status"] == "failed", body
            assert body["error"] == {
                "code": "Interrupted",
                "exit_code": 130,
                "message": f"the server stopped {where}; upload the file again",
            }
        assert not any((state / "uploads").iterdir())


def test_without_a_state_folder_everything_is_removed_at_shutdown(tmp_path):
    with TestClient(create_app(assessor_factory=Assessor, workdir=tmp_path)) as client:
        _wait(client, _post(client, "a.npy")["id"])
        root = Path(client.app.state.state_dir)
        assert root.parent == tmp_path and (root / "jobs").is_dir()
    assert not any(tmp_path.iterdir())
