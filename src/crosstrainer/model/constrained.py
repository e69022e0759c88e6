"""Stage I constrained to the attribute vocabulary: score every answer the model could give, pick by probability.

Free generation can say anything (``"their skill-lifestyle improvement their"``, the exercise's own name). Here
the model only *scores* the answers that are allowed: each vocabulary name, ``none``, and pairs ``"a, b"`` of
likely names, each followed by EOS, exactly as Stage I was trained (``prompts.stage1_target``). The prompt and
video prefix of a turn runs once; its KV cache is shared by all of the turn's candidate answers::

    >>> scores = score_answers(model, [Turn(window_feats, prompts.stage1_user("plank"))], vocab.names)  # doctest: +SKIP
    >>> scores[0].answers  # doctest: +SKIP
    {('hip alignment',): 0.61, ('hip alignment', 'core stability'): 0.30, (): 0.05, ...}   # () is "none"
    >>> attribute_probabilities(model, turns, vocab.names)[0]  # doctest: +SKIP
    {'posture': 0.01, 'trunk control': 0.0, 'hip alignment': 0.91, 'core stability': 0.31, 'knee alignment': 0.0,
     'none': 0.05}
    >>> select_attributes(_, threshold=0.5)  # doctest: +SKIP
    [('hip alignment', 0.91)]

Probabilities are a softmax over the candidate answers' sequence log-probabilities; an attribute's probability
is the sum over the answers that contain it, so ``none`` plus the answers that name anything sum to 1.
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import permutations
from typing import Any

import torch

from crosstrainer.model import prompts
from crosstrainer.model.crosstrainer import CrossTrainerModel, Turn

Answer = tuple[str, ...]
"""A candidate Stage-I answer: the attribute names it lists, in order; ``()`` is ``"none"``."""

TURN_BATCH = 16
"""Turns whose prompt+video prefixes run through the LLM together."""
TOKEN_BUDGET = 512
"""Candidate tokens scored in one forward pass (bounds the logits' memory: tokens x vocabulary floats)."""


@dataclass
class AnswerScores:
    """The candidate answers of one turn with their probabilities.

    ``log_probs``: teacher-forced log P(answer tokens + EOS | prompt, video) under the model, per answer.
    ``answers``: the same, normalised over the candidates (softmax), so they sum to 1.
    """

    log_probs: dict[Answer, float]
    answers: dict[Answer, float] = field(init=False)

    def __post_init__(self) -> None:
        top = max(self.log_probs.values())
        weights = {a: math.exp(lp - top) for a, lp in self.log_probs.items()}
        total = sum(weights.values())
        self.answers = {a: w / total for a, w in weights.items()}

    @property
    def top(self) -> Answer:
        """The most probable answer (``()`` for none)."""
        return max(self.answers, key=lambda a: (self.answers[a], a == ()))

    @property
    def coverage(self) -> float:
        """How much of the model's own answer distribution the candidates hold (low: it wanted to say else)."""
        return float(sum(math.exp(lp) for lp in self.log_probs.values()))

    def attribute_probabilities(self, names: Sequence[str]) -> dict[str, float]:
        """``{name: P(an answer lists name)}`` for every name, plus ``{"none": P(none)}``."""
        probs = {n: 0.0 for n in names}
        for answer, p in self.answers.items():
            for n in answer:
                probs[n] += p
        probs[prompts.NONE] = self.answers.get((), 0.0)
        return probs


def answer_text(answer: Answer) -> str:
    """The Stage-I target text of an answer: ``("posture", "trunk control")`` -> ``"posture, trunk control"``."""
    return prompts.stage1_target(list(answer))


def _check_names(names: Sequence[str]) -> list[str]:
    names = list(dict.fromkeys(names))
    if not names:
        raise ValueError("constrained Stage I needs at least one attribute name")
    if prompts.NONE in names:
        raise ValueError(f"{prompts.NONE!r} cannot be an attribute name: it is the empty answer")
    return names


@dataclass
class _Prefix:
    cache: Any  # transformers Cache of the prompt+video prefixes, batch = turns
    last_log_probs: torch.Tensor  # (turns, vocab): log P(first answer token)
    mask: torch.Tensor  # (turns, L) attention mask of the left-padded prefixes
    next_position: torch.Tensor  # (turns,) position id of the first answer token


def _run_prefix(model: CrossTrainerModel, turns: Sequence[Turn]) -> _Prefix:
    """One forward pass over the left-padded prompt+video prefixes, keeping the KV cache (as ``generate`` does)."""
    embeds, _, mask = model._pad([Turn(t.features, t.user) for t in turns], left=True)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # generate()'s position ids for left padding
    out = model.llm(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
    cache = getattr(out, "past_key_values", None)
    cache = getattr(out, "cache", None) if cache is None else cache
    return _Prefix(cache, out.logits[:, -1].float().log_softmax(-1), mask, positions[:, -1] + 1)


def _cache_kwarg(llm: Any) -> str:
    """``cache`` in newer transformers (5.2x+), ``past_key_values`` before."""
    return "cache" if "cache" in inspect.signature(llm.forward).parameters else "past_key_values"


def _select_cache(cache: Any, rows: torch.Tensor) -> Any:
    """A cache whose batch rows are ``cache``'s rows ``rows`` (repeats allowed), leaving ``cache`` unchanged."""
    if hasattr(cache, "layers"):  # transformers >= 4.56: shallow copies; batch_select_indices re-binds tensors
        new = copy.copy(cache)
        new.layers = [copy.copy(layer) for layer in cache.layers]
    else:
        new = copy.deepcopy(cache)
    new.batch_select_indices(rows)
    return new


def _score_rows(model: CrossTrainerModel, prefix: _Prefix, rows: list[tuple[int, list[int]]]) -> list[list[float]]:
    """Per-token log-probabilities of each row's answer tokens (row = (turn index, token ids ending in EOS))."""
    dev = prefix.mask.device
    result: list[list[float]] = []
    start = 0
    while start < len(rows):
        width = max(len(r[1]) for r in rows[start : start + 1])
        stop = start + 1
        while stop < len(rows):
            w = max(width, len(rows[stop][1]))
            if (stop + 1 - start) * (w - 1) > TOKEN_BUDGET:
                break
            width, stop = w, stop + 1
        chunk = rows[start:stop]
        turn_idx = torch.tensor([t for t, _ in chunk], device=dev)
        ids = torch.full((len(chunk), width), model.pad_id, dtype=torch.long, device=dev)
        valid = torch.zeros((len(chunk), width), dtype=torch.long, device=dev)
        for i, (_, toks) in enumerate(chunk):
            ids[i, : len(toks)] = torch.tensor(toks, device=dev)
            valid[i, : len(toks)] = 1
        first = prefix.last_log_probs[turn_idx].gather(1, ids[:, :1])  # (rows, 1)
        if width > 1:
            mask = torch.cat([prefix.mask[turn_idx], valid[:, :-1]], 1)
            positions = prefix.next_position[turn_idx, None] + torch.arange(width - 1, device=dev)
            out = model.llm(
                input_ids=ids[:, :-1],
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                **{_cache_kwarg(model.llm): _select_cache(prefix.cache, turn_idx)},
            )
            rest = out.logits.float().log_softmax(-1).gather(2, ids[:, 1:, None])[..., 0]
            token_lp = torch.cat([first, rest], 1)
        else:
            token_lp = first
        for i, (_, toks) in enumerate(chunk):
            result.append(token_lp[i, : len(toks)].tolist())
        start = stop
    return result


@torch.no_grad()
def score_answers(
    model: CrossTrainerModel, turns: Sequence[Turn], names: Sequence[str], *, pair_top_k: int = 5
) -> list[AnswerScores]:
    """Score the allowed Stage-I answers of each turn (its ``user`` is a Stage-I prompt with ``<video>``).

    Candidates: every single name, ``none`` and the ordered pairs ``"a, b"`` of the ``pair_top_k`` names most
    likely to start the answer (all pairs when ``pair_top_k >= len(names)``; none with 0). Deterministic.
    """
    names = _check_names(names)
    ids = {a: model._target_ids(answer_text(a)) for a in [(n,) for n in names] + [()]}
    k = min(pair_top_k, len(names)) if len(names) > 1 else 0
    all_pairs = [tuple(p) for p in permutations(names, 2)] if k == len(names) else []
    ids |= {a: model._target_ids(answer_text(a)) for a in all_pairs}
    results: list[AnswerScores] = []
    for b0 in range(0, len(turns), TURN_BATCH):
        batch = turns[b0 : b0 + TURN_BATCH]
        prefix = _run_prefix(model, batch)
        first = [(i, a) for i in range(len(batch)) for a in ids]
        scored = _score_rows(model, prefix, [(i, ids[a]) for i, a in first])
        log_probs: list[dict[Answer, float]] = [{} for _ in batch]
        starts: list[dict[str, float]] = [{} for _ in batch]  # log P(answer starts with the name)
        for (i, a), token_lp in zip(first, scored):
            log_probs[i][a] = float(sum(token_lp))
            if len(a) == 1:
                starts[i][a[0]] = float(sum(token_lp[:-1]))
        if 1 < k < len(names):
            second = [
                (i, pair)
                for i in range(len(batch))
                for pair in permutations(sorted(names, key=lambda n, i=i: -starts[i][n])[:k], 2)
            ]
            for (i, pair), token_lp in zip(
                second, _score_rows(model, prefix, [(i, model._target_ids(answer_text(p))) for i, p in second])
            ):
                log_probs[i][pair] = float(sum(token_lp))
        results += [AnswerScores(lp) for lp in log_probs]
    return results


def attribute_probabilities(
    model: CrossTrainerModel, turns: Sequence[Turn], names: Sequence[str], *, pair_top_k: int = 5
) -> list[dict[str, float]]:
    """Per turn ``{name: P(the answer lists name)}`` for every vocabulary name, plus ``{"none": P(none)}``.

    ``[{"posture": 0.72, "trunk control": 0.64, "hip alignment": 0.01, ..., "none": 0.2}]``
    """
    names = _check_names(names)
    return [s.attribute_probabilities(names) for s in score_answers(model, turns, names, pair_top_k=pair_top_k)]


def select_attributes(probs: dict[str, float], threshold: float) -> list[tuple[str, float]]:
    """The attributes to report: probability >= ``threshold`` and above P(none), most probable first.

    >>> select_attributes({"posture": 0.7, "trunk control": 0.55, "balance": 0.1, "none": 0.25}, 0.5)
    [('posture', 0.7), ('trunk control', 0.55)]
    """
    p_none = probs.get(prompts.NONE, 0.0)
    chosen = [(n, p) for n, p in probs.items() if n != prompts.NONE and p >= threshold and p > p_none]
    return sorted(chosen, key=lambda x: (-x[1], x[0]))
