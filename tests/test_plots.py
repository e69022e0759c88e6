"""Report plots and the run folder (crosstrainer.evaluation.plots / .report), on synthetic numbers."""

from __future__ import annotations

import json

import matplotlib.image as mpimg
import numpy as np
import pytest

from crosstrainer.errors import InputNotFoundError, UsageError
from crosstrainer.evaluation.metrics import proficiency_metrics
from crosstrainer.evaluation.plots import plot_bars, plot_confusion, plot_transfer_heatmap
from crosstrainer.evaluation.report import to_jsonable, with_baselines, write_run

EXERCISES = ["push-up", "squat", "lunge", "plank"]


def _png_ok(path, min_w=400, min_h=300):
    img = mpimg.imread(path)
    assert img.shape[1] >= min_w and img.shape[0] >= min_h
    assert img[..., :3].std() > 0.05  # not a blank canvas
    return img


def test_plots_write_readable_pngs(tmp_path):
    cm = plot_confusion(
        [[30, 5, 1], [4, 20, 6], [2, 3, 29]], ["Novice", "Intermediate", "Late Expert"], tmp_path / "a" / "cm.png"
    )
    bars = plot_bars(
        {e: (60 + i, 52 + i, 68 + i) for i, e in enumerate(EXERCISES)},
        tmp_path / "bars.png",
        baseline={"push-up": 50.0, "squat": 41.0},
        ylabel="accuracy (%)",
        title="Held-out exercise",
    )
    heat = plot_transfer_heatmap(
        np.array([[80, 55, np.nan, 40], [61, 77, 50, 45], [58, 52, 70, 44], [50, 49, 47, 81]]),
        EXERCISES,
        EXERCISES,
        tmp_path / "heat.png",
    )
    for p in (cm, bars, heat):
        assert p.suffix == ".png" and p.is_file()
        _png_ok(p)
    # bars without CIs and with one baseline for all groups still draw
    _png_ok(plot_bars({"all": (55.0,), "none": (0.0,)}, tmp_path / "b2.png", baseline=25.0), min_w=300)


def test_plot_shape_errors(tmp_path):
    with pytest.raises(UsageError, match="shape"):
        plot_confusion([[1, 2]], ["a", "b"], tmp_path / "x.png")
    with pytest.raises(UsageError, match="shape"):
        plot_transfer_heatmap([[1.0, 2.0]], ["a", "b"], ["c", "d"], tmp_path / "y.png")
    with pytest.raises(UsageError, match="at least one"):
        plot_bars({}, tmp_path / "z.png")


def test_write_run_folder(tmp_path):
    g = proficiency_metrics(
        ["good", "bad", "good", "good"],
        ["good", "good", "good", "bad"],
        ["bad", "good"],
        y_train=["bad", "bad", "good"],
        n_boot=100,
    )
    outside = plot_confusion(g.info["confusion_matrix"]["counts"], ["bad", "good"], tmp_path / "elsewhere" / "cm.png")
    run = tmp_path / "run"
    inside = plot_bars({"squat": (70.0, 60.0, 80.0)}, run / "plots" / "bars.png", baseline=50.0)
    metrics = {
        "Proficiency": g,
        "Confusion matrix": g.info["confusion_matrix"],
        "Transfer": {
            "held out squat": {"n": 120, "accuracy": {"value": 71.0, "low": 63.2, "high": 78.1}, "majority": 52.0}
        },
        "Feedback": {
            "held out squat": {
                "ROUGE-L": {"value": 30.0, "low": 25.0, "high": 35.0, "baselines": {"NN retrieval": 22.0}}
            }
        },
        "_raw": {"nan": float("nan")},
        "Notes": "synthetic numbers",
    }
    files = write_run(run, metrics, {"confusion": outside, "per exercise": inside}, {"seed": 0, "data": tmp_path})
    data = json.loads(files["metrics"].read_text())
    assert data["schema"] == "crosstrainer.evaluation/v1" and data["config"]["seed"] == 0
    assert data["metrics"]["_raw"]["nan"] is None  # NaN -> null, so the JSON is strict
    assert data["metrics"]["Proficiency"]["rows"]["accuracy"]["value"] == 50.0
    assert data["plots"] == {"confusion": "plots/cm.png", "per exercise": "plots/bars.png"}
    assert (run / "plots" / "cm.png").is_file()

    md = files["report"].read_text()
    assert "| metric | value [95% CI] | random (baseline) | majority (baseline) |" in md
    assert "| accuracy | 50.0 [" in md and "| 50.0 | 25.0 |" in md  # majority from train = "bad": 1/4 of test
    assert "| true \\ predicted | bad | good |" in md and "| good | 1 | 2 |" in md
    assert "| held out squat | 120 | 71.0 [63.2, 78.1] | 52.0 |" in md
    assert "| held out squat | 30.0 [25.0, 35.0] | 22.0 |" in md and "| ROUGE-L NN retrieval (baseline) |" in md
    assert "_raw" not in md and "synthetic numbers" in md
    for rel in ("plots/cm.png", "plots/bars.png"):
        assert f"]({rel})" in md and (run / rel).is_file()

    with pytest.raises(InputNotFoundError, match=r"missing\.png"):
        write_run(run, metrics, {"gone": tmp_path / "missing.png"}, {})


def test_with_baselines_and_jsonable():
    main = {"BLEU@4": {"value": 40.0, "low": 35.0, "high": 45.0}, "CIDEr": {"value": 80.0}}
    other = {"BLEU@4": {"value": 30.0}}
    rows = with_baselines(main, **{"NN retrieval": other})
    assert rows["BLEU@4"]["baselines"] == {"NN retrieval": 30.0} and "baselines" not in rows["CIDEr"]
    got = to_jsonable({"a": np.float32(1.5), "b": np.arange(2), "c": (np.inf,)})
    assert got == {"a": 1.5, "b": [0, 1], "c": [None]}
