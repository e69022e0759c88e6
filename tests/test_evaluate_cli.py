"""``crosstrainer evaluate`` end to end on the tiny config (2-layer random LLM): the real pose data (skipped when
../shared/data is absent) and the Ego-Exo4D fixture with SYNTHETIC precomputed features made here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from crosstrainer.cli import main

FIXTURE_EGOEXO = Path(__file__).resolve().parent / "fixtures" / "egoexo"


def test_evaluate_zero_shot_writes_run_folder_and_resumes(tmp_path: Path, shared_data: Path, capsys):
    out = tmp_path / "run"
    args = [
        "evaluate",
        "--data",
        f"exercise_correction:{shared_data}",
        "--protocol",
        "zero-shot",
        "--sports",
        "bicep curl,plank",
        "--holdout",
        "plank",
        "--config",
        "tiny",
        "--set",
        "max_steps=3",
        "--no-llm",
        "--n-boot",
        "50",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    split_dir = out / "splits" / "zero-shot__holdout-plank__seed0"
    for name in (
        "metrics.json",
        "report.md",
        "plots/confusion.png",
        "plots/per_sport.png",
        "plots/transfer_model.png",
        "plots/transfer_linear_probe.png",
    ):
        assert (out / name).is_file(), name
    for name in ("split.json", "predictions.json", "model/model.json", "model_e2e/model.json"):
        assert (split_dir / name).is_file(), name
    run = json.loads((out / "metrics.json").read_text())
    table = run["metrics"]["Proficiency accuracy: sports the model never trained on (transfer)"]
    row = table["held out plank | test: plank"]
    assert row["n"] == 25 and row["sport in training"] == "no"
    for system in ("CrossTrainer (verdict)", "w/o two-stage (verdict)", "linear probe (raw)", "1-NN retrieval (raw)"):
        assert 0.0 <= row[system]["value"] <= 100.0 and row[system]["low"] <= row[system]["high"]
    assert row["random"] == 50.0 and row["majority"] is not None
    split = json.loads((split_dir / "split.json").read_text())
    assert not any("/plank/" in i for i in split["train_ids"])  # the held-out sport never trains
    e2e = json.loads((split_dir / "model_e2e" / "model.json").read_text())
    assert e2e["train"]["config"]["two_stage"] is False and "stage1" not in e2e["train"]["stages"]
    report = (out / "report.md").read_text()
    assert "held out plank" in report and "![confusion matrix](plots/confusion.png)" in report

    # rerun: the finished split is reused, nothing is retrained
    stamps = {p: p.stat().st_mtime_ns for p in (split_dir / "predictions.json", split_dir / "model" / "model.json")}
    capsys.readouterr()
    assert main(args) == 0
    assert "finished earlier" in capsys.readouterr().err
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())

    # another training config is another experiment: predictions are redone, models retrained
    assert main([*args[:-2], "--set", "max_steps=2", "--no-e2e", "--out", str(out)]) == 0
    assert (split_dir / "predictions.json").stat().st_mtime_ns != stamps[split_dir / "predictions.json"]


def test_evaluate_bad_input_is_one_line(tmp_path: Path, capsys):
    assert (
        main(["evaluate", "--data", f"egoexo:{FIXTURE_EGOEXO}", "--protocol", "cross", "--out", str(tmp_path / "r")])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: unknown protocol")
    assert (
        main(["evaluate", "--data", f"egoexo:{FIXTURE_EGOEXO}", "--protocol", "none", "--out", str(tmp_path / "r")])
        == 2
    )
    assert (
        main(
            [
                "evaluate",
                "--data",
                f"egoexo:{FIXTURE_EGOEXO}",
                "--protocol",
                "none",
                "--model",
                str(tmp_path / "nope"),
                "--export-egoexo-submission",
                str(tmp_path / "s.json"),
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 7
    )


def _egoexo_model(tmp_path: Path, dim: int = 8) -> tuple[Path, Path]:
    """Synthetic per-second features for the 3 fixture takes and a tiny 4-level model trained on them."""
    from crosstrainer.data.exercise_labels import default_vocabulary
    from crosstrainer.data.registry import load_samples
    from crosstrainer.data.sample import EGOEXO_LEVELS
    from crosstrainer.training.config import TrainConfig
    from crosstrainer.training.recipe import recipe_main

    feats = tmp_path / "feats"
    feats.mkdir()
    rng = np.random.default_rng(0)
    samples = load_samples(f"egoexo:{FIXTURE_EGOEXO}")
    for s in samples:
        path = feats / f"{s.meta['take_uid']}.npy"
        np.save(path, rng.normal(size=(6, dim)).astype(np.float32))
        s.features = str(path)
    cfg = TrainConfig.load("tiny", ["max_steps=2", "two_stage=false", "augment=false", "encoder=egovlp-synthetic"])
    model = tmp_path / "model"
    recipe_main(
        cfg,
        samples,
        model,
        default_vocabulary(),
        work_dir=tmp_path / "work",
        levels=list(EGOEXO_LEVELS),
        model_card="test\n",
        log=lambda m: None,
    )
    return model, feats


def test_export_egoexo_submission(tmp_path: Path):
    model, feats = _egoexo_model(tmp_path)
    exo = tmp_path / "exo"
    exo.mkdir()
    for f in feats.iterdir():
        np.save(exo / f.name, np.load(f)[::-1] * 3.0)
    sub_path = tmp_path / "submission.json"
    assert (
        main(
            [
                "evaluate",
                "--data",
                f"egoexo:{FIXTURE_EGOEXO}",
                "--features",
                str(feats),
                "--model",
                str(model),
                "--protocol",
                "none",
                "--export-egoexo-submission",
                str(sub_path),
                "--exo-features",
                str(exo),
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    sub = json.loads(sub_path.read_text())
    assert set(sub) == {"videos", "ego_model_predictions", "exo_model_predictions"}
    # eval_script.py's layout: take names, ego 4 logits, exo 4 views x 4 logits (log-probabilities here)
    assert sorted(sub["videos"]) == ["iiith_soccer_021_6", "sfu_climbing_015_2", "unc_basketball_03-31-23_02_12"]
    ego, exo_rows = np.array(sub["ego_model_predictions"]), np.array(sub["exo_model_predictions"])
    assert ego.shape == (3, 4) and exo_rows.shape == (3, 4, 4)
    assert np.allclose(np.exp(ego).sum(-1), 1.0) and np.allclose(np.exp(exo_rows).sum(-1), 1.0)
    assert "Ego-Exo4D submission: 3 takes" in (tmp_path / "run" / "report.md").read_text()

    # without exo features the exo rows repeat the ego rows (and the report says so)
    assert (
        main(
            [
                "evaluate",
                "--data",
                f"egoexo:{FIXTURE_EGOEXO}",
                "--features",
                str(feats),
                "--model",
                str(model),
                "--protocol",
                "none",
                "--export-egoexo-submission",
                str(sub_path),
                "--out",
                str(tmp_path / "run2"),
            ]
        )
        == 0
    )
    sub2 = json.loads(sub_path.read_text())
    assert sub2["ego_model_predictions"] == sub["ego_model_predictions"]
    assert sub2["exo_model_predictions"] == [[row] * 4 for row in sub2["ego_model_predictions"]]
    assert "same as ego" in (tmp_path / "run2" / "report.md").read_text()
