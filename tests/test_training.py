"""Training building blocks: the synthetic dataset, EOS in targets, generation stopping, config as data.

Synthetic data and the 2-layer random LLM only (no real data, no download).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crosstrainer.attributes.vocabulary import Attribute, Vocabulary
from crosstrainer.data.registry import load_samples
from crosstrainer.errors import UsageError
from crosstrainer.training.config import TrainConfig
from train_helpers import tiny_crosstrainer_model


@pytest.fixture(scope="module")
def tiny_model():
    return tiny_crosstrainer_model()


def test_synthetic_dataset_is_deterministic(tmp_path) -> None:
    a = load_samples(f"synthetic:6?dim=12&seed=3&root={tmp_path / 'a'}")
    b = load_samples(f"synthetic:6?dim=12&seed=3&root={tmp_path / 'b'}")
    assert [s.model_dump(exclude={"features"}) for s in a] == [s.model_dump(exclude={"features"}) for s in b]
    for x, y in zip(a, b, strict=True):
        fx, fy = np.load(x.features), np.load(y.features)
        assert fx.shape == (x.meta["duration_s"], 12) and np.array_equal(fx, fy)
        assert all(c.window is not None and c.window[1] == c.time_s and c.attributes for c in x.commentary)
    assert [s.split for s in a] == ["train"] * 4 + ["test"] * 2
    other = load_samples(f"synthetic:6?dim=12&seed=4&root={tmp_path / 'c'}")
    assert not np.array_equal(np.load(other[0].features), np.load(a[0].features))
    raw = load_samples(f"synthetic:6?dim=12&seed=3&annotated=false&root={tmp_path / 'd'}")
    assert all(c.attributes is None and c.window is None for s in raw for c in s.commentary)


def test_synthetic_bad_spec() -> None:
    with pytest.raises(UsageError, match="number of samples"):
        load_samples("synthetic:many")
    with pytest.raises(UsageError, match="has no option 'dims'"):
        load_samples("synthetic:4?dims=3")


def test_eos_ends_every_target(tiny_model) -> None:
    from crosstrainer.model.crosstrainer import Turn

    turn = Turn(np.zeros((5, 16), np.float32), "<video>\nWhich skill-attributes?", "posture, balance")
    embeds, labels = tiny_model._sequence(turn)
    labelled = labels[labels != -100].tolist()
    assert labelled[-1] == tiny_model.eos_id
    assert labelled[:-1] == tiny_model.tokenizer("posture, balance", add_special_tokens=False)["input_ids"]
    assert embeds.shape[0] == labels.shape[0]
    assert tiny_model.tokenizer.convert_ids_to_tokens(tiny_model.eos_id) == "<|im_end|>"  # the chat turn's end


def test_generation_stops_at_eos(tiny_model, monkeypatch) -> None:
    """Make EOS the likeliest token after one step: generate must stop there and drop it from the text."""
    from crosstrainer.model.crosstrainer import Turn

    llm, eos = tiny_model.llm, tiny_model.eos_id
    decode_steps = []  # one entry per forward pass that feeds a generated token
    original = llm.forward

    def spy(*args, **kwargs):
        ids = kwargs.get("input_ids")
        if ids is not None and kwargs.get("position_ids") is not None and ids.shape[-1] == 1:
            decode_steps.append(1)
        return original(*args, **kwargs)

    head = llm.lm_head

    def biased(hidden):
        logits = torch.nn.functional.linear(hidden, head.weight)
        if decode_steps:  # the first new token (from the prompt pass) is ordinary, the second is EOS
            logits[..., eos] += 1e4
        return logits

    monkeypatch.setattr(llm, "forward", spy)
    monkeypatch.setattr(head, "forward", biased)
    ((text, probs),) = tiny_model.generate([Turn(np.zeros((3, 16), np.float32), "<video>\nHow was it?")], 20)
    assert len(decode_steps) == 1  # stopped after EOS, far before max_new_tokens
    assert len(probs) == 1 and "<|im_end|>" not in text


def test_canonicalize_attributes_maps_synonyms() -> None:
    from crosstrainer.training.recipe import canonicalize_attributes, vocabulary_from_samples

    vocab = Vocabulary(attributes=[Attribute(name="posture", synonyms=["back straight"]), Attribute(name="balance")])
    samples = load_samples("synthetic:2?dim=4")
    samples[0].commentary[0].attributes = ["Back straight", "posture", "Grip Width"]
    out = canonicalize_attributes(samples, vocab)
    assert out[0].commentary[0].attributes == ["posture", "grip width"]
    assert samples[0].commentary[0].attributes == ["Back straight", "posture", "Grip Width"]  # input untouched
    names = vocabulary_from_samples(out, base=vocab).names
    assert "posture" in names and "grip width" in names and "back straight" not in names


def test_config_presets_docs_and_types() -> None:
    research = TrainConfig.load("research")
    assert (research.lora_r, research.lora_alpha, research.lora_dropout) == (128, 256, 0.05)
    assert (research.lr_projector, research.lr_lora, research.epochs) == (2e-3, 2e-4, 2)
    assert research.mixed_precision == "bf16"
    assert TrainConfig.load("tiny", ["lora_r=8", "lora_targets=[q_proj]"]).lora_targets == ["q_proj"]
    docs = TrainConfig.field_docs()
    assert set(docs) == set(TrainConfig().to_dict()) and all(docs.values())
    with pytest.raises(UsageError, match="must be bool"):
        TrainConfig.load("tiny", ["two_stage=maybe"])
    with pytest.raises(UsageError, match="key=value"):
        TrainConfig.load("tiny", ["two_stage"])


def test_help_text_documents_every_config_field() -> None:
    """``TrainConfig.help_text()``: one ``name (type, default): doc`` line per field, from the attribute docstrings."""
    lines = TrainConfig.help_text().splitlines()
    names = list(TrainConfig().to_dict())
    assert [line.split(" ", 1)[0] for line in lines] == names
    assert "lora_r (int, 16): LoRA rank (paper: 128)." in lines
    assert "max_steps (int | None, None): Optimizer steps per stage at most (None: as many as epochs need)." in lines
    assert "lora_targets (list[str], ['q_proj', 'k_proj', 'v_proj', 'o_proj']): LLM modules" in "\n".join(lines)
    assert all(line.split("): ", 1)[1] for line in lines)  # every field has its documentation


def test_docs_list_every_config_field() -> None:
    """docs/training.md's field table is generated from TrainConfig: every field appears there."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "training.md").read_text(encoding="utf-8")
    missing = [name for name in TrainConfig.field_docs() if f"| `{name}` |" not in text]
    assert not missing, f"docs/training.md lacks config fields {missing}: regenerate its table"


def test_malformed_or_non_mapping_config_is_a_usage_error(tmp_path):
    """Synthetic config files: broken YAML and a YAML list each give one UsageError line naming the file."""
    import pytest

    from crosstrainer.errors import UsageError
    from crosstrainer.training.config import TrainConfig

    bad = tmp_path / "bad.yaml"
    bad.write_text("lora_r: [1, 2\n", encoding="utf-8")
    with pytest.raises(UsageError, match="not valid YAML"):
        TrainConfig.load(str(bad))
    listed = tmp_path / "list.yaml"
    listed.write_text("- lora_r\n", encoding="utf-8")
    with pytest.raises(UsageError, match="expected a mapping"):
        TrainConfig.load(str(listed))
