"""Two processes through accelerate on CPU (gloo): ``accelerate launch --multi_gpu --num_processes 2 -m crosstrainer``.

Synthetic data and the 2-layer random LLM. On a machine without CUDA, accelerate's ``--multi_gpu`` launcher starts
the processes with torchrun and the trainer joins them with gloo (``--cpu`` alone starts one process unless MPI is
set up). Checks: one model folder and one metrics file written by the main process, both recording 2 processes,
half the steps of a single-process run, and identical weights in both processes after training.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from train_helpers import read_metrics, tiny_args

pytestmark = pytest.mark.slow


def test_two_process_cpu_run(tmp_path: Path) -> None:
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or shutil.which("accelerate")
    if accelerate is None:
        pytest.skip("the accelerate command is not installed")
    launch = [
        accelerate,
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        "29517",
        "-m",
        "crosstrainer",
    ]
    args = tiny_args(tmp_path, "run", "model", "--set", "max_steps=3")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*launch, *args], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("saved ") == 1  # only the main process writes the model
    records = read_metrics(tmp_path / "model-work")
    # 6 train samples -> 9 stage-I items; 4 per batch x 2 processes -> 2 steps per epoch, 3 epochs -> capped at 3
    assert [(r["stage"], r["step"]) for r in records] == [(s, k) for s in (1, 2) for k in (1, 2, 3)]
    assert {r["num_processes"] for r in records} == {2}
    manifest = json.loads((tmp_path / "model" / "model.json").read_text())
    assert manifest["train"]["num_processes"] == 2
    for stage in manifest["metrics"]["train"].values():
        assert stage["num_processes"] == 2 and stage["processes_in_sync"] is True
