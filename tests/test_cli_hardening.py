"""Issue 12, CLI side: Ctrl-C, hostile inputs, unwritable outputs and full disks fail clearly and lose nothing.

The corpus (``tests/corpus/make_corpus.py``) runs the real ``crosstrainer`` command in subprocesses; the full-disk
tests make the temporary file of ``crosstrainer.fileio`` raise ``ENOSPC`` part-way, as a full disk would.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from crosstrainer import fileio
from crosstrainer.cli import file_access_cause
from crosstrainer.errors import FileAccessError, InvalidVideoError, file_access_error

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CLIP = ROOT / "examples" / "sample_bicep_curl.mp4"


def _load_corpus():
    spec = importlib.util.spec_from_file_location("make_corpus", ROOT / "tests" / "corpus" / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


corpus = _load_corpus()


def leftovers(folder: Path) -> list[str]:
    return sorted(p for p in corpus.files_under(folder) if p.endswith(".tmp") or "/." in "/" + p)


# ---- the bad-input corpus ---------------------------------------------------------------------------------------


def test_bad_input_corpus(tmp_path: Path, model_dir: Path):
    """Every cheap case: its documented exit code, one ``error:`` line, no traceback, nothing left behind, and no
    model loaded for nothing (CPU seconds: loading the embedded model alone costs about 10)."""
    cases = corpus.make_corpus(tmp_path / "corpus")
    assert {c.code for c in cases} >= {2, 3, 4, 5, 6, 7, 8, 9, 130}
    _run_corpus(tmp_path, [c for c in cases if not c.slow])


def _run_corpus(tmp_path: Path, cases: list) -> None:
    for c in cases:
        if "mkdir" in c.extra:
            Path(c.extra["mkdir"]).mkdir(exist_ok=True)
    cwds = {c.name: tmp_path / "cwd" / str(i) for i, c in enumerate(cases)}
    for d in cwds.values():
        d.mkdir(parents=True)
    before = corpus.files_under(tmp_path)
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = dict(zip([c.name for c in cases], pool.map(lambda c: corpus.run_case(c, cwds[c.name]), cases)))
    problems = []
    for c in cases:
        out = outcomes[c.name]
        lines = corpus.error_lines(out.stderr)
        if out.code != c.code:
            problems.append(f"{c.name}: exit {out.code}, expected {c.code}: {out.stderr.strip()[-300:]}")
        if len(lines) != 1:
            problems.append(f"{c.name}: {len(lines)} error: lines: {out.stderr.strip()[-300:]}")
        if "Traceback" in out.stderr:
            problems.append(f"{c.name}: traceback: {out.stderr.strip()[-300:]}")
        if "hint" in c.extra and not any(c.extra["hint"] in line for line in lines):
            problems.append(f"{c.name}: no hint {c.extra['hint']!r} in {lines}")
        if out.cpu_s > c.max_cpu_s or out.wall_s > c.max_wall_s:
            problems.append(
                f"{c.name}: {out.cpu_s:.1f} CPU-s / {out.wall_s:.1f} s wall, bound {c.max_cpu_s} / {c.max_wall_s}"
                " (a model loaded for nothing?)"
            )
        if c.code == 130 and not any(line.startswith("error: interrupted") for line in lines):
            problems.append(f"{c.name}: no 'error: interrupted' line: {lines}")
    left = sorted(corpus.files_under(tmp_path) - before)
    assert not problems, "\n".join(problems)
    assert not left, f"files left behind: {left}"
    print("\n| case | exit code | CPU s | wall s |")
    for c in cases:
        print(f"| {c.name} | {outcomes[c.name].code} | {outcomes[c.name].cpu_s:.1f} | {outcomes[c.name].wall_s:.1f} |")


# ---- Ctrl-C -------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigint_during_a_batch_exits_130_and_keeps_finished_outputs(tmp_path: Path, model_dir: Path):
    """A real SIGINT to a real batch after its first output: exit 130, one line, first output whole, no temp file."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(5):
        np.save(inputs / f"k{i}.npy", corpus.curl_keypoints(frames=30))
    out = tmp_path / "out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "200"}
    cmd = [*corpus.crosstrainer_command(), "assess", str(inputs), "--skeleton", "coco17", "--out-dir", str(out)]
    cmd += ["--model", str(model_dir), "--batch-size", "1"]  # one input per language-model pass: outputs one by one
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=corpus.default_sigint,
    )
    deadline = time.monotonic() + 400
    while proc.poll() is None and time.monotonic() < deadline and not list(out.glob("*.json")):
        time.sleep(0.1)
    assert proc.poll() is None, f"the batch ended before it could be interrupted: {proc.stderr.read()[-500:]}"
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 130, stderr[-800:]
    lines = corpus.error_lines(stderr)
    assert len(lines) == 1 and lines[0].startswith("error: interrupted"), stderr[-800:]
    assert "Traceback" not in stderr
    kept = sorted(out.glob("*.json"))
    assert 1 <= len(kept) < 5
    for f in kept:  # every kept output is whole
        assert json.loads(f.read_text())["schema"] == "crosstrainer.assessment/v1"
    assert leftovers(out) == [] and leftovers(tmp_path) == []


def _stub_assessor(monkeypatch, interrupt_on: str | None = None) -> list[str]:
    """Replace the model with a stub (no load, instant results); ``interrupt_on``: a file name to Ctrl-C on."""
    import crosstrainer.api as api

    seen: list[str] = []

    class Stub:
        @classmethod
        def load(cls, *args, **kwargs):
            return cls()

        def assess(self, path, **kwargs):
            seen.append(Path(path).name)
            if interrupt_on and Path(path).name == interrupt_on:
                raise KeyboardInterrupt
            a = SimpleNamespace(
                to_json=lambda: json.dumps({"schema": "crosstrainer.assessment/v1", "input": str(path)}),
                proficiency=SimpleNamespace(level="good form", score=0.6),
                attributes=[],
            )
            return SimpleNamespace(assessment=a, source_path=str(path))

        def assess_many(self, paths, batch=8, **kwargs):  # as the real one: in order, errors yielded, Ctrl-C raised
            from crosstrainer.errors import CrossTrainerError

            for path in paths:
                try:
                    yield Path(path), self.assess(path, **kwargs)
                except CrossTrainerError as exc:
                    yield Path(path), exc

    monkeypatch.setattr(api, "Assessor", Stub)
    return seen


def _keypoint_inputs(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        np.save(folder / f"k{i}.npy", corpus.curl_keypoints(frames=20))
        paths.append(str(folder / f"k{i}.npy"))
    return paths


def test_ctrl_c_inside_a_command_is_exit_130_not_0(tmp_path: Path, monkeypatch, capsys):
    """typer returns 130 for a KeyboardInterrupt when not standalone; the CLI used to drop it and exit 0."""
    from crosstrainer.cli import main

    _stub_assessor(monkeypatch, interrupt_on="k1.npy")
    files = _keypoint_inputs(tmp_path / "in", 3)
    out = tmp_path / "out"
    assert main(["assess", *files, "--skeleton", "coco17", "--out-dir", str(out)]) == 130
    lines = corpus.error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("error: interrupted after 1 of 3 inputs"), lines
    assert sorted(p.name for p in out.iterdir()) == ["k0.json"]


# ---- full disk ----------------------------------------------------------------------------------------------------


class FullDisk:
    """The temporary files of ``crosstrainer.fileio`` take ``room`` bytes, then raise ENOSPC (as a full disk does)."""

    def __init__(self, monkeypatch, room: int = 0, after_files: int = 0):
        self.room, self.after_files, self.opened = room, after_files, 0
        original = fileio._temp_file

        def temp_file(target, mode, encoding):
            fh = original(target, mode, encoding)
            self.opened += 1
            return fh if self.opened <= self.after_files else _Limited(fh, self.room)

        monkeypatch.setattr(fileio, "_temp_file", temp_file)


class _Limited:
    def __init__(self, fh, room: int):
        self._fh, self._room = fh, room

    def write(self, data):
        if len(data) > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._fh.name)
        self._room -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._fh.__exit__(*exc)


def test_full_disk_keeps_the_previous_file(tmp_path: Path, monkeypatch):
    target = tmp_path / "result.json"
    fileio.atomic_write_text(target, "previous good\n")
    FullDisk(monkeypatch, room=3)
    with pytest.raises(OSError) as info:
        fileio.atomic_write_text(target, "new content that does not fit\n")
    assert info.value.errno == errno.ENOSPC
    assert target.read_text() == "previous good\n" and leftovers(tmp_path) == []
    err = file_access_error(info.value)
    assert isinstance(err, FileAccessError) and err.exit_code == 10 and "no space left" in str(err)


def test_feature_cache_survives_a_full_disk(tmp_path: Path, monkeypatch):
    from crosstrainer.encoders.base import ClipFeatures
    from crosstrainer.features.cache import FeatureCache

    cache = FeatureCache(tmp_path, "pose", "v1", {"x": 1})
    old = ClipFeatures(
        features=np.ones((4, 3), np.float32), times_s=np.arange(4.0), visibility=np.ones(4), encoder="pose"
    )
    cache.save("clip/a", old)
    FullDisk(monkeypatch, room=200)
    new = ClipFeatures(
        features=np.zeros((400, 3), np.float32), times_s=np.arange(400.0), visibility=np.ones(400), encoder="pose"
    )
    with pytest.raises(OSError):
        cache.save("clip/a", new)
    again = cache.load("clip/a")
    assert again is not None and again.features.shape == (4, 3) and float(again.features.sum()) == 12.0
    assert cache.has("clip/a") and leftovers(tmp_path) == []


def test_training_checkpoint_survives_a_full_disk(tmp_path: Path, monkeypatch):
    """``Trainer._save_checkpoint`` (the real method, on a minimal trainer) under ENOSPC keeps the last checkpoint."""
    import torch

    from crosstrainer.training.recipe import Trainer

    def trainer(value: float):
        return SimpleNamespace(
            acc=SimpleNamespace(is_main_process=True, num_processes=1),
            out=tmp_path,
            cfg=SimpleNamespace(to_dict=lambda: {"lr": 1e-3}),
            _trainable_state=lambda: {"w": torch.full((256, 64), value)},
        )

    opt = SimpleNamespace(state_dict=lambda: {"state": {}})
    Trainer._save_checkpoint(trainer(1.0), 1, 10, opt, opt)
    FullDisk(monkeypatch, room=4096)
    with pytest.raises((OSError, RuntimeError)) as info:  # torch's zip writer may wrap the OSError
        Trainer._save_checkpoint(trainer(2.0), 1, 20, opt, opt)
    err = file_access_cause(info.value)  # what the CLI reports: exit 10, not an internal error
    assert err is not None and err.exit_code == 10 and "no space left" in str(err)
    state = torch.load(tmp_path / "checkpoint" / "state.pt", weights_only=False)
    assert state["step"] == 10 and float(state["trainable"]["w"][0, 0]) == 1.0
    assert leftovers(tmp_path) == []


def test_html_report_is_written_atomically(tmp_path: Path, monkeypatch):
    from crosstrainer.report import html

    monkeypatch.setattr(html, "render_report", lambda result: "<html>" + "x" * 10_000 + "</html>")
    target = tmp_path / "report.html"
    target.write_text("<html>previous report</html>")
    FullDisk(monkeypatch, room=100)
    with pytest.raises(OSError):
        html.write_report(SimpleNamespace(), target)
    assert target.read_text() == "<html>previous report</html>" and leftovers(tmp_path) == []


def test_batch_on_a_full_disk_exits_10_and_keeps_what_was_written(tmp_path: Path, monkeypatch, capsys):
    """A batch whose disk fills up after the first output: exit 10 with a clear line, never exit 1."""
    from crosstrainer.cli import main

    _stub_assessor(monkeypatch)
    files = _keypoint_inputs(tmp_path / "in", 3)
    out = tmp_path / "out"
    out.mkdir()
    (out / "k1.json").write_text('{"previous": true}\n')
    FullDisk(monkeypatch, room=0, after_files=1)
    assert main(["assess", *files, "--skeleton", "coco17", "--out-dir", str(out)]) == 10
    err = capsys.readouterr().err
    lines = corpus.error_lines(err)
    assert len(lines) == 1 and "no space left" in lines[0] and "1 of 3 outputs were written" in lines[0], err
    assert json.loads((out / "k0.json").read_text())["schema"] == "crosstrainer.assessment/v1"
    assert (out / "k1.json").read_text() == '{"previous": true}\n'
    assert not (out / "k2.json").exists() and leftovers(out) == []


def test_single_json_on_a_full_disk_exits_10(tmp_path: Path, monkeypatch, capsys):
    from crosstrainer.cli import main

    _stub_assessor(monkeypatch)
    (kp,) = _keypoint_inputs(tmp_path / "in", 1)
    target = tmp_path / "result.json"
    target.write_text("previous\n")
    FullDisk(monkeypatch, room=0)
    assert main(["assess", kp, "--skeleton", "coco17", "--json", str(target), "-q"]) == 10
    lines = corpus.error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("error: cannot write") and "no space left" in lines[0]
    assert target.read_text() == "previous\n" and leftovers(tmp_path) == []


# ---- the video probe ----------------------------------------------------------------------------------------------


def test_probe_refuses_a_guessed_raw_stream_but_keeps_real_videos(tmp_path: Path):
    from crosstrainer.video.decode import probe_video

    fake = tmp_path / "clip.mp4"
    fake.write_bytes(corpus.h263_lookalike())
    with pytest.raises(InvalidVideoError, match="no video container"):
        probe_video(fake)
    named = tmp_path / "camera.h263"  # the same bytes, named for what they are: a raw H.263 stream
    named.write_bytes(fake.read_bytes())
    assert probe_video(named).codec == "h263"
    assert probe_video(SAMPLE_CLIP).codec == "h264"
    assert probe_video(corpus.tiny_blank_video(tmp_path / "grey.mkv")).width == 64
