"""The whole training entry point, litgpt style: ``crosstrainer train ...`` end to end on a 2-layer random LLM.

Synthetic data only (``synthetic:8?dim=16``: random per-second features, tabled commentary); each run takes a
few seconds on a CPU. Checks the files and log lines the command produces, not internals.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crosstrainer.cli import main
from crosstrainer.model.checkpoint import load_model
from crosstrainer.model.predict import predict
from train_helpers import PINNED, TOL, losses, read_metrics, tiny_args


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded two-stage run shared by the tests below."""
    tmp = tmp_path_factory.mktemp("train-run")
    assert main(tiny_args(tmp)) == 0
    return tmp


def test_run_writes_a_loadable_model(run_dir: Path) -> None:
    from crosstrainer.data.registry import load_samples
    from crosstrainer.features.provider import load_feature_file
    from crosstrainer.model.crosstrainer import Turn
    from crosstrainer.model.prompts import stage1_user

    folder = run_dir / "model"
    for name in (
        "model.json",
        "projector.safetensors",
        "probes.safetensors",
        "vocabulary.json",
        "MODEL_CARD.md",
        "adapter/adapter_config.json",
    ):
        assert (folder / name).is_file(), name
    model, parts = load_model(folder)
    assert parts.manifest.llm == "tiny-random"
    assert parts.manifest.levels == ["Novice", "Early Expert", "Intermediate Expert", "Late Expert"]  # ordinal
    assert set(parts.vocabulary.names) <= {"balance", "posture", "knee alignment", "hand positioning", "timing"}
    sample = load_samples(f"synthetic:8?dim=16&root={run_dir / 'feats'}")[0]
    feats = load_feature_file(sample.features)
    ((text, probs),) = model.generate([Turn(feats, stage1_user(sample.sport))], max_new_tokens=6)
    assert isinstance(text, str) and len(probs) <= 6
    pred = predict(model, parts, feats, generate=False)
    assert pred.probs.shape == (len(parts.manifest.levels),) and abs(pred.probs.sum() - 1) < 1e-5


def test_loss_went_down_and_is_pinned(run_dir: Path) -> None:
    """The seeded run reproduces its losses to 1e-4 (also checked after a kill + resume in test_training_resume)."""
    got = losses(run_dir / "model-work")
    assert sorted(got) == [(s, k) for s in (1, 2) for k in range(1, 9)]
    for stage in (1, 2):
        first = got[(stage, 1)]
        last = sum(got[(stage, k)] for k in (7, 8)) / 2
        assert last < first - 0.15, (stage, first, last)
    for key, value in PINNED.items():
        assert got[key] == pytest.approx(value, abs=TOL), key
    assert {r["num_processes"] for r in read_metrics(run_dir / "model-work")} == {1}


def test_model_holds_config_metrics_and_overrides(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "model" / "model.json").read_text())
    cfg = manifest["train"]["config"]
    assert cfg["max_steps"] == 8 and cfg["lr_lora"] == 0.02 and cfg["encoder"] == "precomputed"  # --set applied
    assert cfg["lora_r"] == 4 and cfg["seed"] == 0  # from the tiny preset
    stages = manifest["metrics"]["train"]
    assert stages["stage1"]["steps"] == 8 and stages["stage2"]["steps"] == 8
    assert stages["stage2"]["last_loss"] < stages["stage2"]["first_loss"]
    assert manifest["train"]["num_processes"] == 1 and manifest["train"]["n_train"] == 6  # the 6 train samples
    ckpt = run_dir / "model-work" / "checkpoint"
    assert (ckpt / "state.pt").is_file() and not (ckpt / "state.pt.tmp").exists()


def test_stage1_only(tmp_path: Path) -> None:
    assert main(tiny_args(tmp_path, "stage1", "s1", "--set", "max_steps=2")) == 0
    assert {r["stage"] for r in read_metrics(tmp_path / "s1-work")} == {1}
    manifest = json.loads((tmp_path / "s1" / "model.json").read_text())
    assert list(manifest["metrics"]["train"]) == ["stage1"]
    assert (tmp_path / "s1" / "probes.safetensors").is_file()


def test_e2e_skips_stage1(tmp_path: Path) -> None:
    """``train e2e`` is the paper's "w/o two-stage" ablation: Stage II from scratch, no rehearsal."""
    assert main(tiny_args(tmp_path, "e2e", "e2e", "--set", "max_steps=2")) == 0
    assert {r["stage"] for r in read_metrics(tmp_path / "e2e-work")} == {2}
    manifest = json.loads((tmp_path / "e2e" / "model.json").read_text())
    assert manifest["train"]["config"]["two_stage"] is False
    assert list(manifest["metrics"]["train"]) == ["stage2"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("no_such_key=1", "unknown config keys"),
        ("lora_r=abc", "lora_r must be int"),
        ("batch_size=0", "positive"),
        ("mixed_precision=fp17", "mixed_precision"),
    ],
)
def test_bad_config_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture, override: str, message: str
) -> None:
    assert main(tiny_args(tmp_path, "run", "bad", "--set", override)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()


def test_unknown_preset_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "run", "--config", "huge", "--data", "synthetic:4", "--out", str(tmp_path / "m")]) == 2
    assert "presets: embedded, research, tiny" in capsys.readouterr().err


def test_discover_then_train_with_vocabulary(tmp_path: Path) -> None:
    """discover (offline backend) fills attributes + windows of raw samples; train reads them with --vocabulary."""
    raw = f"synthetic:8?dim=16&annotated=false&root={tmp_path / 'feats'}"
    vocab, samples = tmp_path / "vocab.json", tmp_path / "disc.samples.jsonl"
    assert main(["discover", raw, "--out", str(vocab), "--samples-out", str(samples), "--min-count", "1"]) == 0
    records = [json.loads(line) for line in samples.read_text().splitlines()]
    comments = [c for r in records for c in r["commentary"]]
    assert all(c["attributes"] and c["window"] for c in comments)
    discovered = {a["name"]: a for a in json.loads(vocab.read_text())["attributes"]}
    assert {a for c in comments for a in c["attributes"]} <= set(discovered)
    args = [
        "train",
        "run",
        "--config",
        "tiny",
        "--data",
        f"samples:{samples}",
        "--vocabulary",
        str(vocab),
        "--out",
        str(tmp_path / "m"),
        "--set",
        "encoder=precomputed",
        "--set",
        "max_steps=2",
    ]
    assert main(args) == 0
    trained = json.loads((tmp_path / "m" / "vocabulary.json").read_text())
    names = [a["name"] for a in trained["attributes"]]
    assert names and set(names) <= set(discovered)
    assert all(a["synonyms"] == discovered[a["name"]]["synonyms"] for a in trained["attributes"])
