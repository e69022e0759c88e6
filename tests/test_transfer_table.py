"""The transfer headline table (evaluation.transfer) and the default model card built from it.

The run metrics here are SYNTHETIC (shaped like `crosstrainer evaluate`'s metrics.json); the card test rewrites a copy
of the shipped model's card from its own recorded metrics.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crosstrainer.errors import InputNotFoundError, UsageError
from crosstrainer.evaluation.transfer import ACCURACY, AUROC, markdown_table, summary, transfer_rows

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "crosstrainer" / "models" / "default"


def _cell(v: float) -> dict:
    return {"value": v, "low": v - 5, "high": v + 5}


def _run() -> dict:
    auroc, acc = {}, {}
    for held, group, model, probe in [
        ("plank", "plank", 40.0, 39.0),
        ("plank", "plank (gym_exercise_correction_vn)", 64.0, 65.0),
        ("plank", "push-up", 70.0, 71.0),  # evaluation-only clips every split tests: not this split's movement
        ("push-up", "push-up", 75.0, 79.0),
        ("squat", "squat", 90.0, 88.0),
        ("squat", "plank", 99.0, 99.0),  # in-domain row (plank trained in this split)
    ]:
        key = f"held out {held} | test: {group}"
        auroc[key] = {"n": 10, "CrossTrainer": _cell(model), "linear probe (raw)": _cell(probe), "random": 50.0}
        acc[key] = {"n": 10, "CrossTrainer (verdict)": _cell(60.0), "majority": 50.0}
    return {"config": {"command": "crosstrainer evaluate ..."}, "metrics": {AUROC: auroc, ACCURACY: acc}}


def test_rows_keep_only_each_splits_held_out_movement():
    rows = transfer_rows(_run())
    assert [r["group"] for r in rows] == ["plank", "plank (gym_exercise_correction_vn)", "push-up", "squat"]
    assert [r["auroc"]["CrossTrainer"]["value"] for r in rows] == [40.0, 64.0, 75.0, 90.0]
    s = summary(rows)
    assert s["CrossTrainer"]["mean"] == pytest.approx((40 + 64 + 75 + 90) / 4)
    assert (s["CrossTrainer"]["min"], s["CrossTrainer"]["min_group"]) == (40.0, "plank")
    table = markdown_table(rows)
    assert "| plank | 10 | 40.0 [35.0, 45.0] | 39.0 [34.0, 44.0] |" in table
    assert "over the 4 held-out test groups: CrossTrainer 67.2 (min 40.0, plank)" in table


def test_rows_refuse_runs_without_a_transfer_table(tmp_path):
    with pytest.raises(UsageError, match="no transfer AUROC"):
        transfer_rows({"metrics": {}})
    with pytest.raises(InputNotFoundError):
        transfer_rows(tmp_path)


@pytest.mark.skipif(not (SHIPPED / "model.json").is_file(), reason="shipped model not present")
def test_card_only_rewrites_the_card_with_the_transfer_table(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(SHIPPED, model)
    before = json.loads((model / "model.json").read_text())
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps(_run()))
    cmd = [sys.executable, "-m", "crosstrainer", "train", "default", "--out", str(model), "--card-only"]
    done = subprocess.run([*cmd, "--transfer-run", str(run)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    card = (model / "MODEL_CARD.md").read_text()
    assert "## Transfer to movements never trained on" in card and "crosstrainer evaluate ..." in card
    assert "| squat | 10 | 90.0 [85.0, 95.0] |" in card
    # the recorded metrics are shown, not re-measured, and model.json is untouched
    assert f"{before['metrics']['heldout']['verdict']['accuracy']:.3f}" in card
    assert json.loads((model / "model.json").read_text()) == before
    # a folder that `train default` did not make is refused with a usage error
    (model / "model.json").write_text(json.dumps({**before, "metrics": {}}))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "error:" in done.stderr and "Traceback" not in done.stderr
