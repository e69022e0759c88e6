"""Resume after a kill: SIGKILL ``crosstrainer train run`` after its first checkpoint, rerun, and it continues.

Synthetic data (``synthetic:8?dim=16``) and the 2-layer random LLM. Batches depend only on (seed, stage, step,
process), so the resumed run must end with exactly the losses of an uninterrupted one (pinned in train_helpers).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from crosstrainer.cli import main
from train_helpers import PINNED, TOL, cli_subprocess, losses, read_metrics, tiny_args


def test_kill_then_resume(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = tiny_args(tmp_path)
    state = tmp_path / "model-work" / "checkpoint" / "state.pt"
    proc = cli_subprocess(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not state.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, f"run ended before its first checkpoint: {proc.stderr.read().decode()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    ckpt = torch.load(state, map_location="cpu", weights_only=False)
    assert not (tmp_path / "model").exists()  # killed before the model folder was written
    # a half-written temporary file from the kill is ignored: only the renamed state.pt counts
    (state.parent / "state.pt.tmp").write_bytes(b"\x80half a pickle")

    capsys.readouterr()
    assert main(args) == 0  # the same command again
    err = capsys.readouterr().err
    assert f"stage {ckpt['stage']}: resuming at step {ckpt['step']}/8" in err
    records = read_metrics(tmp_path / "model-work")
    keys = [(r["stage"], r["step"]) for r in records]
    assert keys == [(s, k) for s in (1, 2) for k in range(1, 9)]  # no step lost or logged twice
    got = losses(tmp_path / "model-work")
    for key, value in PINNED.items():
        assert got[key] == pytest.approx(value, abs=TOL), key
    assert (tmp_path / "model" / "model.json").is_file()


def test_unreadable_checkpoint_starts_over(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A corrupt state.pt (not from our atomic writer, e.g. a full disk) gives a warning and a fresh start."""
    ckpt = tmp_path / "s1-work" / "checkpoint"
    ckpt.mkdir(parents=True)
    (ckpt / "state.pt").write_bytes(b"not a checkpoint")
    assert main(tiny_args(tmp_path, "stage1", "s1", "--set", "max_steps=1")) == 0
    assert "ignoring unreadable checkpoint" in capsys.readouterr().err
    assert [r["step"] for r in read_metrics(tmp_path / "s1-work")] == [1]
