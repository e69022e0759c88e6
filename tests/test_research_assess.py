"""A model trained on precomputed (research) features assesses takes: ``train run --features`` on files named as
Ego-Exo4D ships them (``<take_uid>_aria01_rgb.pt``, Omnivore rate 16/30 s), then ``crosstrainer assess --features``
through the real command line, the Python API, and the errors that name what is missing."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from crosstrainer import __version__
from crosstrainer.cli import main

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "egoexo"
DIM = 16
UID = "0a1b2c3d-0000-4000-8000-000000000001"  # 31.2 s in the fixture's takes.json


def omnivore_rows(duration_s: float) -> int:
    return max(1, math.ceil((round(duration_s * 30) - 32) / 16) + 1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    from crosstrainer.data.registry import load_samples

    tmp = tmp_path_factory.mktemp("research")
    feats = tmp / "omnivore_video"  # the release's feature family, recognised by its folder name
    feats.mkdir()
    gen = torch.Generator().manual_seed(0)
    for s in load_samples(f"egoexo:{FIXTURE}"):
        rows = omnivore_rows(float(s.meta.get("duration_sec") or 12.0))
        torch.save(torch.randn(rows, 1, DIM, generator=gen), feats / f"{s.meta['take_uid']}_aria01_rgb.pt")
    vocab, samples, model = tmp / "vocab.json", tmp / "samples.jsonl", tmp / "research-m1"
    spec = f"egoexo:{FIXTURE}"
    assert main(["discover", spec, "--out", str(vocab), "--samples-out", str(samples), "--min-count", "1"]) == 0
    argv = ["train", "run", "--config", "tiny", "--data", f"samples:{samples}", "--vocabulary", str(vocab),
            "--features", str(feats), "--set", "encoder=precomputed", "--set", "max_steps=2",
            "--set", "warmup_steps=1", "--out", str(model)]  # fmt: skip
    assert main(argv) == 0
    return {"tmp": tmp, "features": feats, "model": model}


def test_trained_model_has_its_own_name_and_records_its_features(trained):
    manifest = json.loads((trained["model"] / "model.json").read_text())
    assert manifest["name"] == "research-m1"  # the --out folder, not the preset's or the shipped model's name
    assert re.fullmatch(re.escape(__version__) + r"\+[0-9a-f]{8}", manifest["version"])
    assert manifest["train"]["features"]["family"] == "omnivore_video"
    assert manifest["train"]["features"]["fps"] == pytest.approx(1.875)
    assert manifest["train"]["crosstrainer_version"] == __version__


def test_assess_features_through_the_real_cli(trained):
    out = trained["tmp"] / "assessment.json"
    cmd = [sys.executable, "-m", "crosstrainer", "assess", UID, "--model", str(trained["model"]),
           "--features", str(trained["features"]), "--json", str(out), "--quiet"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    a = json.loads(out.read_text())
    assert a["input"]["kind"] == "features" and a["input"]["fps"] == pytest.approx(1.875)
    # 58 Omnivore rows of a 31.2-s take are 31 seconds, not 58: time is not stretched
    assert omnivore_rows(31.2) == 58 and len(a["timeline"]["times_s"]) == 31
    assert a["proficiency"]["levels"] == ["Novice", "Early Expert", "Intermediate Expert", "Late Expert"]
    assert abs(sum(a["proficiency"]["probabilities"]) - 1) < 1e-3
    assert a["model"]["name"] == "research-m1" and a["model"]["version"].startswith(__version__ + "+")


def test_missing_features_folder_is_named(trained, capsys):
    assert main(["assess", UID, "--model", str(trained["model"])]) == 9
    err = capsys.readouterr().err
    assert "reads precomputed omnivore_video features (1.875 rows/s)" in err
    assert "pass --features DIR with <take_uid>_<cam>_<stream>.pt files" in err
    assert "pose-kinematics" not in err and "install a matching version" not in err
    assert (
        main(["assess", "no-such-take", "--model", str(trained["model"]), "--features", str(trained["features"])]) == 3
    )
    assert "no feature file for no-such-take" in capsys.readouterr().err


def test_pose_model_refuses_features(trained, capsys):
    assert main(["assess", UID, "--features", str(trained["features"])]) == 2  # the shipped (pose) model
    assert "--features/--clip-checkpoint do not apply" in capsys.readouterr().err


def test_python_api_reads_a_feature_file_or_a_take(trained):
    import crosstrainer.api as api

    assessor = api.Assessor.load(trained["model"], features=trained["features"])
    by_take = assessor.assess(UID, sport="basketball")
    by_file = assessor.assess(trained["features"] / f"{UID}_aria01_rgb.pt")
    assert by_take.pose is None and by_take.features is not None and by_take.features.num_seconds == 31
    assert by_take.assessment.proficiency.probabilities == by_file.assessment.proficiency.probabilities
    direct = api.Assessor.load(trained["model"]).assess(trained["features"] / f"{UID}_aria01_rgb.pt")
    assert direct.assessment.input.kind == "features"
