"""The evaluation report says what each model is (the tiny LLM has random weights) and how clips are counted; the
transfer heatmap shows n in every cell; a trained model gets its own name and version; max_steps < warmup_steps
is warned about."""

from __future__ import annotations

import json
import re

from crosstrainer import __version__
from crosstrainer.evaluation import plots
from crosstrainer.evaluation.report import describe_run, write_run
from crosstrainer.training.config import TrainConfig


def test_report_says_the_tiny_llm_has_random_weights_and_how_clips_count(tmp_path):
    config = {"options": {"config": "tiny", "overrides": ["max_steps=2"], "model_dir": None, "heads_only": False}}
    metrics = {"Splits": {"seed 0": {"test clips": 5}, "seed 1": {"test clips": 5}}}
    lines = describe_run(config, metrics)
    text = "\n".join(lines)
    assert "RANDOM weights" in text and "at most 2 steps per stage" in text
    assert "Warning: max_steps (2) is below warmup_steps (10)" in text
    assert "count a clip once per split it is tested in" in text
    report = write_run(tmp_path / "run", metrics, {}, config)["report"].read_text()
    assert "## What was run" in report and "RANDOM weights" in report
    # the embedded preset is named as SmolLM2, and one split needs no counting note
    one = describe_run({"options": {"config": "embedded", "overrides": []}}, {"Splits": {"a": {}}})
    assert "SmolLM2-135M-Instruct" in one[0] and len(one) == 1


def test_report_names_a_given_model(tmp_path):
    model = tmp_path / "m"
    model.mkdir()
    (model / "model.json").write_text(
        json.dumps(
            {
                "name": "research-m1",
                "version": "0.1.0+abcd1234",
                "llm": "/models/Llama-3.1-8B-Instruct",
                "encoder": {"name": "precomputed"},
            }
        )
    )
    (line,) = describe_run({"options": {"model_dir": str(model)}}, {})
    assert "`research-m1` 0.1.0+abcd1234" in line and "the local model /models/Llama-3.1-8B-Instruct" in line


def test_heatmap_shows_n_in_every_cell(tmp_path, monkeypatch):
    texts: list[str] = []
    real_save = plots._save

    def capture(fig, path):
        texts.extend(t.get_text() for t in fig.axes[0].texts)
        return real_save(fig, path)

    monkeypatch.setattr(plots, "_save", capture)
    plots.plot_transfer_heatmap(
        [[80.0, None], [61.0, 77.0]], ["a", "b"], ["a", "b"], tmp_path / "h.png", counts=[[12, None], [7, 30]]
    )
    assert texts == ["80.0\nn=12", "-", "61.0\nn=7", "77.0\nn=30"]


def test_trained_model_name_and_version_are_its_own(tmp_path):
    from crosstrainer.commands.train import model_identity

    cfg = TrainConfig.load("embedded")
    name, version = model_identity(cfg, tmp_path / "my-squats", [], "embedded", "synthetic:8")
    assert name == "my-squats" and name != "crosstrainer-embedded-smollm2"
    assert re.fullmatch(re.escape(__version__) + r"\+[0-9a-f]{8}", version)
    other = model_identity(cfg, tmp_path / "my-squats", [], "embedded", "synthetic:9")[1]
    assert other != version  # other data, other version
    cfg2 = TrainConfig.load("embedded", ["name=coach", "version=2.0"])
    assert model_identity(cfg2, tmp_path / "x", ["name=coach", "version=2.0"], "embedded", "d") == ("coach", "2.0")
    own = tmp_path / "own.yaml"
    own.write_text("name: gym-coach\nllm: tiny-random\n")
    assert model_identity(TrainConfig.load(str(own)), tmp_path / "x", [], str(own), "d")[0] == "gym-coach"


def test_max_steps_below_warmup_is_warned():
    assert TrainConfig(max_steps=5, warmup_steps=10).warnings()
    assert not TrainConfig(max_steps=50, warmup_steps=10).warnings() and not TrainConfig().warnings()
