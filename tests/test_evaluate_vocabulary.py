"""``crosstrainer evaluate --vocabulary``: the discovered vocabulary is canonical in the samples and is every split
model's base vocabulary (not the 5-attribute exercise vocabulary); ``--features`` finds Ego-Exo4D's own file names."""

from __future__ import annotations

from pathlib import Path

import torch

from crosstrainer.attributes.vocabulary import Attribute, Vocabulary
from crosstrainer.cli import main
from crosstrainer.data.sample import Commentary, Sample
from crosstrainer.training.config import TrainConfig

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "egoexo"


def _vocab(path: Path) -> Path:
    Vocabulary(
        attributes=[
            Attribute(name="knee flexion", synonyms=["bend knees"], definition="how deep the knees bend"),
            Attribute(name="footwork", synonyms=["feet placement"]),
        ]
    ).save(path)
    return path


def test_evaluate_cli_passes_the_vocabulary_and_finds_official_files(tmp_path, monkeypatch):
    import crosstrainer.evaluation.runner as runner
    from crosstrainer.data.registry import load_samples

    feats = tmp_path / "omnivore_video"
    feats.mkdir()
    for s in load_samples(f"egoexo:{FIXTURE}"):
        torch.save(torch.zeros(8, 1, 4), feats / f"{s.meta['take_uid']}_aria01_rgb.pt")
    seen = {}

    def fake_run(samples, proto, opts, out, **kw):
        seen.update(samples=samples, opts=opts)
        return {"plots": {}}

    monkeypatch.setattr(runner, "run_evaluation", fake_run)
    vocab = _vocab(tmp_path / "vocab.json")
    argv = ["evaluate", "--data", f"egoexo:{FIXTURE}", "--features", str(feats), "--vocabulary", str(vocab),
            "--protocol", "zero-shot", "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) == 0
    assert seen["opts"].vocabulary == vocab
    files = {Path(s.features).name for s in seen["samples"]}
    assert files == {f"{s.meta['take_uid']}_aria01_rgb.pt" for s in seen["samples"]}
    assert all(s.meta["features_fps"] == 1.875 for s in seen["samples"])  # the family's rate travels with them


def test_split_models_start_from_the_given_vocabulary(tmp_path, monkeypatch):
    import crosstrainer.training.recipe as recipe
    from crosstrainer.evaluation.runner import train_split_model

    got = {}
    monkeypatch.setattr(recipe, "recipe_main", lambda cfg, train, folder, vocab, **kw: got.update(vocab=vocab, cfg=cfg))
    train = [
        Sample(id="a", commentary=[Commentary(text="Bend your knees.", attributes=["bend knees"])]),
        Sample(id="b", commentary=[Commentary(text="Nice.", attributes=[])]),
    ]
    cfg = TrainConfig.load("tiny")
    vocab = _vocab(tmp_path / "vocab.json")
    train_split_model(cfg, train, tmp_path / "m", ["bad", "good"], "fp", log=lambda m: None, vocabulary=vocab)
    assert got["vocab"].names == ["knee flexion"]  # the synonym is mapped to the file's name
    assert got["vocab"].get("knee flexion").definition == "how deep the knees bend"
    assert got["cfg"].name == f"crosstrainer-tiny-test-{tmp_path.name}"  # a split model is not the shipped model
    assert got["cfg"].version.endswith("+fp")
    got.clear()
    train_split_model(cfg, train, tmp_path / "m2", ["bad", "good"], "fp2", log=lambda m: None)
    assert got["vocab"].names == ["bend knees"]  # without --vocabulary the raw name stays
    # raw commentary (nothing discovered): the file's vocabulary, not the exercise one
    raw = [Sample(id="c", commentary=[Commentary(text="Keep your feet under you.")])]
    got.clear()
    train_split_model(cfg, raw, tmp_path / "m3", ["bad", "good"], "fp3", log=lambda m: None, vocabulary=vocab)
    assert got["vocab"].names == ["knee flexion", "footwork"]
    got.clear()
    train_split_model(cfg, raw, tmp_path / "m4", ["bad", "good"], "fp4", log=lambda m: None)
    assert "posture" in got["vocab"].names and "footwork" not in got["vocab"].names
