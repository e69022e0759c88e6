"""Shared test settings: offline, few threads, and where the real data and the shipped model are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _hypothesis_profiles() -> None:
    """The fuzz tests' example counts: ``ci`` (default: a few dozen per test, derandomised so CI is reproducible) or
    ``fuzz`` (``HYPOTHESIS_PROFILE=fuzz``, ``FUZZ_EXAMPLES`` each, default 2000; ``make fuzz``)."""
    from hypothesis import HealthCheck, settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
    settings.register_profile("ci", max_examples=30, derandomize=True, database=None, **common)
    settings.register_profile(
        "fuzz",
        max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")),
        database=DirectoryBasedExampleDatabase(".cache/hypothesis"),
        **common,
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_hypothesis_profiles()

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
