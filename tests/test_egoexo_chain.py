"""The research workflow end to end on the Ego-Exo4D fixture (real schema, fixture size, synthetic features):
precomputed features -> ``crosstrainer extract`` -> ``discover`` -> ``train run`` -> a loadable model with the four
Ego-Exo4D levels in order."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from crosstrainer.cli import main

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "egoexo"


def test_extract_discover_train_load(tmp_path: Path):
    feats = tmp_path / "feats"
    feats.mkdir()
    rng = np.random.default_rng(0)
    for take in json.loads((FIXTURE / "takes.json").read_text()):
        np.save(feats / f"{take['take_uid']}.npy", rng.normal(size=(int(take["duration_sec"]), 32)).astype("float32"))
    cache, vocab, samples, model = (tmp_path / n for n in ("cache", "vocab.json", "samples.jsonl", "model"))
    spec = f"egoexo:{FIXTURE}"
    # one take of the fixture (the redacted test split) has no feature file: reported, not fatal (exit 8)
    assert (
        main(
            [
                "extract",
                spec,
                "--encoder",
                "precomputed",
                "--features-root",
                str(feats),
                "--cache",
                str(cache),
                "--no-progress",
            ]
        )
        == 8
    )
    assert main(["discover", spec, "--out", str(vocab), "--samples-out", str(samples), "--min-count", "1"]) == 0
    # the training samples carry both the expert commentary and the demonstration feedback (good executions,
    # tips for improvement), each with a window ending at its time
    comments = [c for line in samples.read_text().splitlines() for c in json.loads(line)["commentary"]]
    assert {c["source"] for c in comments} == {"expert_commentary", "proficiency_demonstration"}
    tips = [c for c in comments if c.get("kind") == "tip for improvement"]
    assert tips and all(c["window"][1] == c["time_s"] for c in tips)
    assert (
        main(
            [
                "train",
                "run",
                "--config",
                "tiny",
                "--set",
                "encoder=precomputed",
                "--data",
                f"samples:{samples}",
                "--vocabulary",
                str(vocab),
                "--features",
                str(cache),
                "--out",
                str(model),
            ]
        )
        == 0
    )

    from crosstrainer.model.checkpoint import load_model

    loaded, parts = load_model(model)
    assert parts.manifest.levels == ["Novice", "Early Expert", "Intermediate Expert", "Late Expert"]
    assert parts.manifest.encoder["name"] == "precomputed" and parts.manifest.encoder["dim"] == 32
    discovered = {a["name"] for a in json.loads(vocab.read_text())["attributes"]}
    assert parts.vocabulary.names and set(parts.vocabulary.names) <= discovered
    from crosstrainer.model.predict import predict

    probs = predict(loaded, parts, np.zeros((3, 32), np.float32), generate=False).probs
    assert probs.shape == (4,) and abs(probs.sum() - 1) < 1e-5
