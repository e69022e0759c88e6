"""Greedy decoding of ``CrossTrainerModel.generate`` (shared prompt-prefix cache, rows leaving the batch when they
end) against transformers' own ``generate`` on the same prompt, and batched against one by one.

Synthetic: the 2-layer random LLM (``tiny-random``) with random features; random weights make long, loopy answers,
which exercise the repetition penalty and the n-gram ban on every step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crosstrainer.model import prompts
from crosstrainer.model.crosstrainer import CrossTrainerModel, Turn
from train_helpers import tiny_crosstrainer_model

SETTINGS = [
    {"no_repeat_ngram_size": 0, "repetition_penalty": 1.0},
    {"no_repeat_ngram_size": 3, "repetition_penalty": 1.2},
    {"no_repeat_ngram_size": 2, "repetition_penalty": 1.0},
]


@pytest.fixture(scope="module")
def tiny_model() -> CrossTrainerModel:
    return tiny_crosstrainer_model().eval()


@pytest.fixture(scope="module")
def turns() -> list[Turn]:
    rng = np.random.default_rng(1)
    specs = [(3, "plank", ["posture"]), (1, None, []), (5, "squat", ["knee alignment", "balance"]), (2, None, [])]
    return [
        Turn(rng.normal(size=(n, 16)).astype(np.float32), prompts.stage2_user(sport, attrs))
        for n, sport, attrs in specs
    ]


def reference(model: CrossTrainerModel, turn: Turn, max_new_tokens: int, **kw) -> tuple[list[int], list[float]]:
    """transformers' ``generate`` on one unpadded prompt (whole, no shared prefix): token ids and probabilities."""
    embeds, _, mask = model._pad([turn], left=True)
    with torch.no_grad():
        out = model.llm.generate(
            inputs_embeds=embeds, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
            eos_token_id=model.eos_id, pad_token_id=model.pad_id, output_scores=True, return_dict_in_generate=True,
            **kw,
        )  # fmt: skip
    ids, probs = [], []
    for k, tok in enumerate(out.sequences[0, -len(out.scores) :].tolist()):
        if tok == model.eos_id:
            break
        ids.append(tok)
        probs.append(float(out.scores[k][0].float().softmax(-1)[tok]))
    return ids, probs


@pytest.mark.parametrize("settings", SETTINGS)
def test_one_prompt_matches_transformers_generate(tiny_model, turns, settings) -> None:
    for turn in turns:
        ids, probs = reference(tiny_model, turn, 24, **settings)
        [(text, got_probs)] = tiny_model.generate([turn], max_new_tokens=24, **settings)
        assert text == tiny_model.tokenizer.decode(ids, skip_special_tokens=True).strip()
        np.testing.assert_allclose(got_probs, probs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("settings", SETTINGS)
def test_batch_equals_one_by_one(tiny_model, turns, settings) -> None:
    alone = [tiny_model.generate([t], max_new_tokens=24, **settings)[0] for t in turns]
    together = tiny_model.generate(turns, max_new_tokens=24, **settings)
    assert [t for t, _ in together] == [t for t, _ in alone]
    for (_, p_batch), (_, p_alone) in zip(together, alone, strict=True):
        np.testing.assert_allclose(p_batch, p_alone, rtol=1e-4, atol=1e-6)


def test_rows_that_end_early_leave_the_batch(tiny_model, turns) -> None:
    """An answer that hits EOS stops there while the others go on; lengths differ and none exceeds the limit."""
    out = tiny_model.generate(turns, max_new_tokens=6)
    assert all(len(p) <= 6 for _, p in out)
    assert all(0.0 < q <= 1.0 for _, p in out for q in p)
    assert tiny_model.generate([], max_new_tokens=6) == []


def test_prefix_cache_is_dropped_when_weights_change(tiny_model, turns) -> None:
    """A training step changes the weights in place: the cached system-prompt prefix must not be reused."""
    import copy

    model = copy.deepcopy(tiny_model)
    before = model.generate(turns[:1], max_new_tokens=8)
    param = next(p for p in model.llm.parameters() if p.requires_grad)
    with torch.no_grad():
        param.add_(0.5)  # in place, as an optimizer step does
    after = model.generate(turns[:1], max_new_tokens=8)
    ids, probs = reference(model, turns[0], 8)
    assert after[0][0] == model.tokenizer.decode(ids, skip_special_tokens=True).strip()
    np.testing.assert_allclose(after[0][1], probs, rtol=1e-4, atol=1e-6)
    assert after != before
