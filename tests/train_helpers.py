"""Shared pieces of the training tests: the tiny seeded run every test repeats, and its pinned losses.

The run: ``crosstrainer train run --config tiny`` (2-layer random Llama, LoRA r 4) on 8 synthetic samples with
16-d random per-second features (``crosstrainer.data.synthetic``), 8 steps per stage, a checkpoint every 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

# Losses of the seeded tiny run (computed once, identical across runs and after a kill + resume).
PINNED = {(1, 1): 10.827293395996094, (1, 8): 10.5181303024292, (2, 8): 10.526348114013672}
TOL = 1e-4


def tiny_crosstrainer_model() -> Any:
    """Synthetic: the 2-layer random Llama (``tiny-random``, seed 0) with a seeded projector from 16-d features and
    at most 8 video tokens, in training mode (the tests that only infer call ``.eval()``)."""
    import torch

    from crosstrainer.model.crosstrainer import CrossTrainerModel
    from crosstrainer.model.llm import load_causal_lm
    from crosstrainer.model.projector import Projector

    llm, tok = load_causal_lm("tiny-random", seed=0)
    torch.manual_seed(0)
    return CrossTrainerModel(llm, tok, Projector(16, int(llm.config.hidden_size)), max_video_tokens=8)


def tiny_args(tmp: Path, verb: str = "run", out: str = "model", *extra: str) -> list[str]:
    """CLI arguments (without the program name) of the seeded tiny run writing into ``tmp``."""
    return [
        "train", verb,
        "--config", "tiny",
        "--data", f"synthetic:8?dim=16&root={tmp / 'feats'}",
        "--out", str(tmp / out),
        "--work-dir", str(tmp / f"{out}-work"),
        "--set", "encoder=precomputed",
        "--set", "epochs=3",
        "--set", "max_steps=8",
        "--set", "warmup_steps=1",
        "--set", "lr_lora=0.02",
        "--set", "lr_projector=0.02",
        "--set", "save_every=2",
        *extra,
    ]  # fmt: skip


def read_metrics(work: Path) -> list[dict[str, Any]]:
    path = work / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def losses(work: Path) -> dict[tuple[int, int], float]:
    return {(r["stage"], r["step"]): r["loss"] for r in read_metrics(work)}


def cli_subprocess(args: list[str], **kwargs: Any) -> subprocess.Popen:
    """Start ``python -m crosstrainer ARGS`` (the installed entry point's module form)."""
    return subprocess.Popen([sys.executable, "-m", "crosstrainer", *args], **kwargs)
