"""End to end in a real browser: ``crosstrainer serve`` in a subprocess, Debian's Chromium driven by Playwright.

Uploads examples/sample_bicep_curl.mp4 through the upload page, waits for the report, checks that the verdict,
the feedback and the timeline are on the page and saves a screenshot under the pytest tmp dir. Set
``CROSSTRAINER_UPDATE_DOCS_IMG=1`` to also copy it to docs/img/web_report.png; ``CROSSTRAINER_TEST_MODEL=DIR`` to
serve another model folder than the shipped one. ``scripts/setup_test_env.sh``
installs Chromium; the test never downloads a browser (``executable_path`` points at the system one).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample_bicep_curl.mp4"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _model_dir() -> Path:
    """The shipped model, or the folder named by ``CROSSTRAINER_TEST_MODEL``."""
    from crosstrainer.api import DEFAULT_MODEL_DIR

    return Path(os.environ.get("CROSSTRAINER_TEST_MODEL") or DEFAULT_MODEL_DIR)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"crosstrainer serve exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/v1/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"crosstrainer serve did not answer on {url} within {timeout:.0f}s")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "crosstrainer.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if _model_dir().exists():
        cmd += ["--model", str(_model_dir())]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        print(log.read_text(errors="replace")[-3000:])


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (run scripts/setup_test_env.sh, which apt-installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the python playwright package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def test_bad_file_shows_a_clear_error(server, browser, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("just some text, renamed to look like a video\n")
    page = browser.new_page()
    page.goto(server + "/")
    page.set_input_files("#file", str(text))
    page.click("#submit")
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=15_000)
    assert "notes.mp4 is not a supported file" in error.inner_text()
    page.close()


def test_upload_the_sample_and_read_the_report(server, browser, tmp_path):
    if not _model_dir().exists():
        pytest.skip(f"no trained model at {_model_dir()} (make train-default, or set CROSSTRAINER_TEST_MODEL)")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server + "/")
    assert page.title().startswith("CrossTrainer")
    page.set_input_files("#file", str(SAMPLE))
    page.fill("#sport", "bicep curl")  # a coach knows the exercise; the report echoes it
    page.click("#submit")
    page.locator("#status").wait_for(state="visible", timeout=10_000)  # progress is shown while it runs
    page.wait_for_url("**/v1/assessments/*/report", timeout=300_000)
    verdict = page.locator("#verdict .level")
    verdict.wait_for(timeout=10_000)
    assert verdict.inner_text().strip()
    assert page.locator("#verdict .bars .bar").count() >= 2  # one probability bar per level
    feedback = page.locator("#feedback")
    assert feedback.locator("li").count() >= 1 or "No feedback" in feedback.inner_text()
    timeline = page.locator("#timeline svg.timeline")
    assert timeline.is_visible() and page.locator("#timeline g.row").count() >= 1
    assert "sample_bicep_curl.mp4" in page.locator("header.top").inner_text()
    assert "bicep curl" in page.locator("body").inner_text()  # the sport typed in the form reached the model
    shot = tmp_path / "web_report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("CROSSTRAINER_UPDATE_DOCS_IMG") == "1":
        (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ROOT / "docs" / "img" / "web_report.png")
    page.close()
