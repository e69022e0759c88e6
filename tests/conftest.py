"""Shared test settings: offline, few threads, and where the real data and the shipped model are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT / ".." / "shared" / "data"
SAMPLE_CLIP = ROOT / "examples" / "sample_bicep_curl.mp4"


def shipped_model_dir() -> Path:
    from crosstrainer.api import DEFAULT_MODEL_DIR

    return Path(os.environ.get("CROSSTRAINER_TEST_MODEL") or DEFAULT_MODEL_DIR)


@pytest.fixture(scope="session")
def model_dir() -> Path:
    path = shipped_model_dir()
    if not (path / "model.json").is_file():
        pytest.skip(f"no trained model at {path} (make train-default, or set CROSSTRAINER_TEST_MODEL)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "exercise_correction").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (the project's ../shared/data)")
    return SHARED_DATA
