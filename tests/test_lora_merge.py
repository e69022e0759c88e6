"""``merge_lora``: the model load's LoRA merge without peft gives the weights peft's ``merge_and_unload`` gives.

Bit for bit, on the 2-layer random LLM with random adapters (plain, rsLoRA, bf16 base); adapters other than plain
LoRA (DoRA) go through peft and still match; an adapter that does not fit the model is an error, never a silent
partial merge. ``benchmarks/bench_load.py`` checks the same on the shipped model (a fingerprint of its merged weights).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crosstrainer.model.llm import load_causal_lm, merge_lora

peft = pytest.importorskip("peft")


def _adapter(tmp_path: Path, **lora) -> Path:
    llm, _ = load_causal_lm("tiny-random", seed=0)
    config = peft.LoraConfig(
        r=lora.pop("r", 4),
        lora_alpha=lora.pop("lora_alpha", 8),
        target_modules=lora.pop("target_modules", ["q_proj", "k_proj", "v_proj", "o_proj"]),
        init_lora_weights=False,  # random A and B: a merge that skipped or mis-scaled a layer would show
        **lora,
    )
    torch.manual_seed(1)
    peft.get_peft_model(llm, config).save_pretrained(str(tmp_path / "adapter"))
    return tmp_path / "adapter"


def _both(adapter: Path, dtype: str = "float32") -> tuple[dict, dict, object]:
    reference, _ = load_causal_lm("tiny-random", dtype=dtype, seed=0)
    original = {k: v.clone() for k, v in reference.state_dict().items()}
    reference = peft.PeftModel.from_pretrained(reference, str(adapter)).merge_and_unload()
    fast, _ = load_causal_lm("tiny-random", dtype=dtype, seed=0)
    fast = merge_lora(fast, adapter)
    return reference.state_dict(), fast.state_dict(), original


@pytest.mark.parametrize(
    ("options", "dtype"),
    [({}, "float32"), ({"use_rslora": True, "r": 8, "lora_alpha": 4}, "float32"), ({}, "bfloat16")],
    ids=["plain", "rslora", "bf16-base"],
)
def test_merge_matches_peft_bit_for_bit(tmp_path, options, dtype):
    ref, fast, original = _both(_adapter(tmp_path, **options), dtype)
    assert sorted(ref) == sorted(fast)
    changed = [k for k in fast if not torch.equal(fast[k], original[k])]
    targets = ("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight")
    assert changed and sorted(changed) == sorted(k for k in fast if k.endswith(targets))
    for key in ref:
        assert ref[key].dtype == fast[key].dtype and torch.equal(ref[key], fast[key]), key


def test_other_adapters_go_through_peft(tmp_path):
    adapter = _adapter(tmp_path, use_dora=True, target_modules=["q_proj", "v_proj"])
    ref, fast, _ = _both(adapter)
    assert all(torch.equal(ref[k], fast[k]) for k in ref)


def test_adapter_that_does_not_fit_is_an_error(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    adapter = _adapter(tmp_path)
    other = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=128,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
    )
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(ValueError, match="size mismatch"):
        merge_lora(other, adapter)
    assert all(torch.equal(before[k], v) for k, v in other.state_dict().items())  # checked before anything changes
