"""Batched assessment (``Assessor.assess_many``: one language-model pass for several inputs) gives each input the
same assessment as assessing it alone. Real keypoints from ../shared/data/exercise_correction (skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crosstrainer.errors import InvalidKeypointsError

ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

pytestmark = pytest.mark.slow


def _comparable(assessment) -> dict:
    data = json.loads(assessment.to_json())
    data.pop("timings", None)
    return data


def test_batch_equals_one_by_one_and_keeps_errors_in_order(tmp_path):
    if not (ROOT / "exercise_correction").is_dir():
        pytest.skip(f"exercise_correction not found under {ROOT}")
    from crosstrainer.api import Assessor
    from crosstrainer.data.pose_csv import load_exercise_correction
    from crosstrainer.keypoints.io import save_keypoints

    clips = load_exercise_correction(ROOT)
    picks = [s for s in clips if 0.5 < s.pose.duration_s < 1.5][:3]  # short clips: a fast test
    assert len(picks) == 3
    files = []
    for s in picks:
        files.append(save_keypoints(s.pose, tmp_path / f"{s.id.replace('/', '_')}.npy"))
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    files.insert(1, bad)
    assessor = Assessor.load()
    alone = {f: assessor.assess(f) for f in files if f != bad}
    batched = list(assessor.assess_many(files, batch=4))
    assert [p for p, _ in batched] == files
    assert isinstance(batched[1][1], InvalidKeypointsError)
    for path, result in batched:
        if path == bad:
            continue
        assert _comparable(result.assessment) == _comparable(alone[path].assessment), path
        assert result.timings["batched_with"] == 3
