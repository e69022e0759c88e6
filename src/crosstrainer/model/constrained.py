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
is the sum over the answers that contain it, so ``none`` plus the answers that name anything sum to 1. Answers
that cannot be likely (their first tokens are not) are left out (:func:`score_answers`); ``AnswerScores.unscored``
bounds their probability.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import permutations
from typing import Any, cast

import torch

from crosstrainer.model import prompts
from crosstrainer.model.crosstrainer import CrossTrainerModel, Turn, cache_kwarg, output_cache, select_cache

Answer = tuple[str, ...]
"""A candidate Stage-I answer: the attribute names it lists, in order; ``()`` is ``"none"``."""

TURN_BATCH = 16
"""Turns whose prompt+video prefixes run through the LLM together."""
TOKEN_BUDGET = 512
"""Candidate tokens scored in one forward pass (bounds the logits' memory: tokens x vocabulary floats)."""
HEAD_TOKENS = 128
"""Positions whose log-probabilities over the whole vocabulary exist at once (128 x 49,152 floats: 25 MB)."""
KV_BUDGET = 384 * 2**20
"""Bytes of KV cache the candidate answers of a batch of turns may keep (each answer copies its turn's cache): short
clips mostly stay under it; a 10-minute video's 32 windows of 19 seconds kept over 1 GB at once before this bound."""


@dataclass
class AnswerScores:
    """The candidate answers of one turn with their probabilities.

    ``log_probs``: teacher-forced log P(answer tokens + EOS | prompt, video) under the model, per answer.
    ``answers``: the same, normalised over the candidates (softmax), so they sum to 1.
    ``unscored``: an upper bound on the model's probability of the allowed answers left out (unlikely names and
    lists; see :func:`score_answers`).
    """

    log_probs: dict[Answer, float]
    unscored: float = 0.0
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
class _State:
    """Where scoring continues from, per batch row: after the prompt+video prefix, or after an answer's first name."""

    cache: Any  # transformers Cache, batch = rows
    last_log_probs: torch.Tensor  # (rows, vocab): log P(next token)
    mask: torch.Tensor  # (rows, L) attention mask of what the cache holds (padding = 0)
    next_position: torch.Tensor  # (rows,) position id of the next token


def _run_prefix(model: CrossTrainerModel, turns: Sequence[Turn]) -> _State:
    """One forward pass over the prompt+video prefixes, keeping the KV cache (:meth:`CrossTrainerModel.prefill`)."""
    start = model.prefill(list(turns))
    return _State(start.cache, start.last_logits.log_softmax(-1), start.mask, start.next_position)


def _kv_bytes_per_token(model: CrossTrainerModel) -> int:
    """Bytes one token takes in the LLM's KV cache (keys and values of every layer): 46,080 for SmolLM2-135M."""
    cfg = getattr(model.llm, "config", None)
    try:
        heads = int(getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads)
        head_dim = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads)
        layers = int(cfg.num_hidden_layers)
    except (AttributeError, TypeError, ZeroDivisionError):  # not a transformers decoder: assume a Llama-8B-sized one
        heads, head_dim, layers = 8, 128, 32
    return 2 * layers * heads * head_dim * model._embed.weight.element_size()


def _hidden_states(
    model: CrossTrainerModel, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any
) -> tuple[torch.Tensor, Any, Any]:
    """The LLM's last hidden states (rows, tokens, hidden) for ``ids`` after ``cache``, the new cache, and the
    output head that turns hidden states into logits. Logits for every position of hundreds of candidate rows
    would take gigabytes (rows x tokens x a 49k vocabulary); the caller applies the head a few rows at a time.
    Models without a separate decoder (``get_decoder``) run whole and the head is the identity on their logits."""
    get_decoder = getattr(model.llm, "get_decoder", None)
    decoder = get_decoder() if get_decoder is not None else None
    head = model.llm.get_output_embeddings() if decoder is not None else None
    if decoder is None or head is None:
        out = model.llm(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                        **{cache_kwarg(model.llm): cache})  # fmt: skip
        return out.logits, output_cache(out), lambda logits: logits
    out = decoder(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                  **{cache_kwarg(decoder): cache})  # fmt: skip
    return out.last_hidden_state, output_cache(out), head


def _extend(
    model: CrossTrainerModel,
    state: _State,
    rows: list[tuple[int, list[int]]],
    keep: bool = False,
    watch: int | None = None,
    keep_cache: bool = True,
) -> tuple[list[list[float]], _State | None, list[list[float]]]:
    """Per-token log-probabilities of each row's tokens, continuing from ``state`` row ``rows[j][0]``.

    ``keep``: also return the state after each row's last token (one forward pass for all rows); otherwise the
    rows are scored in chunks of about :data:`TOKEN_BUDGET` tokens and the last token is not fed. ``watch`` (with
    ``keep``): also return, per row, log P(``watch``) before and after each of its tokens (``len + 1`` values).
    ``keep_cache=False`` (with ``keep``): the returned state has the next-token log-probabilities but no KV cache,
    and the rows run in chunks whose copies of the cache fit :data:`KV_BUDGET`.
    """
    dev = state.mask.device
    scores: list[list[float]] = []
    watched: list[list[float]] = []
    kept: _State | None = None
    kept_parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (last log-probs, mask, next position)
    per_chunk = len(rows)
    if keep and not keep_cache:
        row_bytes = _kv_bytes_per_token(model) * (state.mask.shape[1] + max(len(r[1]) for r in rows))
        per_chunk = max(1, KV_BUDGET // row_bytes)
    start = 0
    while start < len(rows):
        stop, width = start + 1, len(rows[start][1])
        while stop < len(rows) and not keep:
            w = max(width, len(rows[stop][1]))
            if (stop + 1 - start) * (w - 1) > TOKEN_BUDGET:
                break
            stop, width = stop + 1, w
        if keep:
            stop, width = min(len(rows), start + per_chunk), max(len(r[1]) for r in rows)
        chunk = rows[start:stop]
        idx = torch.tensor([r for r, _ in chunk], device=dev)
        lens = torch.tensor([len(t) for _, t in chunk], device=dev)
        ids = torch.full((len(chunk), width), model.pad_id, dtype=torch.long, device=dev)
        for i, (_, toks) in enumerate(chunk):
            ids[i, : len(toks)] = torch.tensor(toks, device=dev)
        valid = (torch.arange(width, device=dev)[None] < lens[:, None]).long()
        token_lp = state.last_log_probs[idx].gather(1, ids[:, :1])  # (rows, 1): the first token
        feed = width if keep else width - 1
        if feed:
            mask = torch.cat([state.mask[idx], valid[:, :feed]], 1)
            positions = state.next_position[idx, None] + torch.arange(feed, device=dev)
            hidden, cache, head = _hidden_states(model, ids[:, :feed], mask, positions, select_cache(state.cache, idx))
            picked, lasts, watch_lp = [], [], []
            step = max(1, HEAD_TOKENS // feed)  # rows whose (tokens x vocabulary) log-probabilities exist at once
            for r0 in range(0, len(chunk), step):
                log_probs = head(hidden[r0 : r0 + step]).float().log_softmax(-1)
                picked.append(log_probs[:, : width - 1].gather(2, ids[r0 : r0 + step, 1:, None])[..., 0])
                if keep:
                    lasts.append(log_probs[torch.arange(log_probs.shape[0], device=dev), lens[r0 : r0 + step] - 1])
                    if watch is not None:
                        watch_lp.append(log_probs[..., watch])
            token_lp = torch.cat([token_lp, torch.cat(picked)], 1)
            if keep:
                kept_parts.append((torch.cat(lasts), mask, state.next_position[idx] + lens))
                if keep_cache:
                    kept = _State(cache, *kept_parts[0])
                if watch is not None:
                    w_lp = torch.cat([state.last_log_probs[idx, watch, None], torch.cat(watch_lp)], 1)
                    watched += [w_lp[i, : len(toks) + 1].tolist() for i, (_, toks) in enumerate(chunk)]
        scores += [token_lp[i, : len(toks)].tolist() for i, (_, toks) in enumerate(chunk)]
        start = stop
    if keep and not keep_cache and kept_parts:
        kept = _State(None, *(torch.cat(part) for part in zip(*kept_parts, strict=True)))
    return scores, kept, watched


def _pair_plan(
    model: CrossTrainerModel, names: list[str], head: dict[Answer, list[int]]
) -> tuple[dict[str, int], dict[Answer, list[int]], dict[Answer, list[int]]]:
    """How each pair ``"a, b"`` is scored: ``sep[a]`` (the token after ``a``, a comma), ``tail[(a, b)]`` (the tokens
    after that, with EOS) for pairs that tokenise as ``a`` + sep + tail, and ``whole[(a, b)]`` for any other."""
    ids = {pair: model._target_ids(answer_text(pair)) for pair in permutations(names, 2)}
    sep: dict[str, int] = {}
    for a in names:
        n = len(head[(a,)])
        after = [t[n] for pair, t in ids.items() if pair[0] == a and t[:n] == head[(a,)] and len(t) > n + 2]
        if after:
            sep[a] = max(set(after), key=after.count)
    tail: dict[Answer, list[int]] = {}
    whole: dict[Answer, list[int]] = {}
    for (a, b), t in ids.items():
        n = len(head[(a,)])
        if a in sep and t[:n] == head[(a,)] and len(t) > n + 2 and t[n] == sep[a]:
            tail[(a, b)] = t[n + 1 :]
        else:
            whole[(a, b)] = t
    return sep, tail, whole


@torch.no_grad()
def score_answers(
    model: CrossTrainerModel,
    turns: Sequence[Turn],
    names: Sequence[str],
    *,
    min_prob: float = 1e-3,
    max_pairs: int = 4,
    pair_min_prob: float = 0.01,
) -> list[AnswerScores]:
    """Score the allowed Stage-I answers of each turn (its ``user`` is a Stage-I prompt with ``<video>``).

    Candidates: ``none``; every single name whose first token is at least ``min_prob`` likely (an upper bound
    on the probability of the name and of every list that starts with it; ``min_prob=0``: every name); up to
    ``max_pairs`` lists ``"a, b"``, those most likely to start so (P(answer starts ``"a, "`` + b's first token)),
    when that is at least ``pair_min_prob`` (``max_pairs=0``: no lists). What is left out is bounded by
    ``AnswerScores.unscored``. Per batch of turns: one pass over the prompt+video prefixes, one over the names +
    comma after them (giving each single answer's EOS and each list's start), one over the chosen lists' second
    names. Deterministic.
    """
    names = _check_names(names)
    singles: list[Answer] = [(n,) for n in names] + [()]
    head = {a: model._target_ids(answer_text(a))[:-1] for a in singles}  # the answer's tokens without EOS
    sep, tail, whole = _pair_plan(model, names, head) if max_pairs > 0 else ({}, {}, {})
    first_row = [head[a] + ([sep[a[0]]] if a and a[0] in sep else []) for a in singles]
    width = max(len(t) for t in first_row)
    turn_batch = max(1, min(TURN_BATCH, 2 * TOKEN_BUDGET // (len(singles) * width)))
    results: list[AnswerScores] = []
    for b0 in range(0, len(turns), turn_batch):
        batch = turns[b0 : b0 + turn_batch]
        prefix = _run_prefix(model, batch)
        unscored = [0.0] * len(batch)
        log_probs: list[dict[Answer, float]] = [{} for _ in batch]
        by_len: dict[int, list[tuple[int, int]]] = {}  # rows of equal length run together: no padding
        for i in range(len(batch)):
            for j, a in enumerate(singles):
                bound = math.exp(float(prefix.last_log_probs[i, first_row[j][0]]))
                if a == () or bound >= min_prob:
                    by_len.setdefault(len(first_row[j]), []).append((i, j))
                else:
                    unscored[i] += bound
        # (turn, a) -> (state after "a,", row, log P("a,")); the state keeps its KV cache only when the rows' copies
        # of their turn's cache fit KV_BUDGET: otherwise the few lists chosen below get their states recomputed
        firsts: dict[tuple[int, str], tuple[_State, int, float]] = {}
        first_of = {a[0]: first_row[j] for j, a in enumerate(singles) if a}  # a -> the tokens of "a,"
        held = 0  # bytes of the KV-cache copies kept so far for this batch of turns
        for _, rows1 in sorted(by_len.items()):
            toks = [(i, first_row[j]) for i, j in rows1]
            copies = len(toks) * _kv_bytes_per_token(model) * (prefix.mask.shape[1] + len(toks[0][1]))
            with_cache = held + copies <= KV_BUDGET  # else the lists' states are recomputed below
            held += copies if with_cache else 0
            scored, kept, eos = _extend(model, prefix, toks, keep=True, watch=model.eos_id, keep_cache=with_cache)
            for r, (i, j) in enumerate(rows1):
                n = len(head[singles[j]])
                log_probs[i][singles[j]] = float(sum(scored[r][:n])) + eos[r][n]
                if singles[j]:
                    firsts[(i, singles[j][0])] = (cast(_State, kept), r, float(sum(scored[r])))
        rows2: dict[int, list[tuple[int, Answer]]] = {}  # per state: (turn, pair)
        states: dict[int, _State] = {}
        picked: list[tuple[int, Answer]] = []  # the lists to score: (turn, pair)
        for i in range(len(batch)):
            starts = []  # (-log P(the answer starts "a, " + b's first token), pair)
            for pair, t in tail.items():
                if (i, pair[0]) not in firsts:
                    continue  # its first name was not scored: already bounded in ``unscored``
                state, r, lp = firsts[(i, pair[0])]
                starts.append((-lp - float(state.last_log_probs[r, t[0]]), pair))
            starts.sort()
            chosen = {pair for cost, pair in starts[:max_pairs] if math.exp(-cost) >= pair_min_prob}
            picked += [(i, pair) for _, pair in starts if pair in chosen]
            unscored[i] += sum(math.exp(-cost) for cost, pair in starts if pair not in chosen)
        # the states after "a," of the chosen lists' first names, recomputed with their caches (equal lengths together)
        need: dict[int, list[tuple[int, str]]] = {}
        continued: dict[tuple[int, str], tuple[_State, int]] = {}
        for i, pair in picked:
            state, r, _ = firsts[(i, pair[0])]
            if state.cache is not None:
                continued[(i, pair[0])] = (state, r)
            elif (i, pair[0]) not in need.get(len(first_of[pair[0]]), []):
                need.setdefault(len(first_of[pair[0]]), []).append((i, pair[0]))
        for _, keys in sorted(need.items()):
            ids = [(i, first_of[a]) for i, a in keys]
            _, state, _ = _extend(model, prefix, ids, keep=True)
            continued.update({key: (cast(_State, state), r) for r, key in enumerate(keys)})
        for i, pair in picked:
            state, r = continued[(i, pair[0])]
            states[id(state)] = state
            rows2.setdefault(id(state), []).append((i, pair))
        for key, rows in rows2.items():
            scored2, _, _ = _extend(model, states[key], [(continued[(i, p[0])][1], tail[p]) for i, p in rows])
            for (i, pair), token_lp in zip(rows, scored2):
                log_probs[i][pair] = firsts[(i, pair[0])][2] + float(sum(token_lp))
        # lists that tokenise oddly: scored whole, from the prefix, when their first name was scored
        rows3 = [(i, p) for i in range(len(batch)) for p in whole if (i, p[0]) in firsts]
        scored3, _, _ = _extend(model, prefix, [(i, whole[p]) for i, p in rows3])
        for (i, pair), token_lp in zip(rows3, scored3):
            log_probs[i][pair] = float(sum(token_lp))
        results += [AnswerScores(lp, u) for lp, u in zip(log_probs, unscored)]
    return results


def attribute_probabilities(
    model: CrossTrainerModel,
    turns: Sequence[Turn],
    names: Sequence[str],
    *,
    min_prob: float = 1e-3,
    max_pairs: int = 4,
    pair_min_prob: float = 0.01,
) -> list[dict[str, float]]:
    """Per turn ``{name: P(the answer lists name)}`` for every vocabulary name, plus ``{"none": P(none)}``.

    ``[{"posture": 0.72, "trunk control": 0.64, "hip alignment": 0.01, ..., "none": 0.2}]``
    """
    names = _check_names(names)
    scores = score_answers(model, turns, names, min_prob=min_prob, max_pairs=max_pairs, pair_min_prob=pair_min_prob)
    return [s.attribute_probabilities(names) for s in scores]


def select_attributes(probs: dict[str, float], threshold: float) -> list[tuple[str, float]]:
    """The attributes to report: probability >= ``threshold`` and above P(none), most probable first.

    >>> select_attributes({"posture": 0.7, "trunk control": 0.55, "balance": 0.1, "none": 0.25}, 0.5)
    [('posture', 0.7), ('trunk control', 0.55)]
    """
    p_none = probs.get(prompts.NONE, 0.0)
    chosen = [(n, p) for n, p in probs.items() if n != prompts.NONE and p >= threshold and p > p_none]
    return sorted(chosen, key=lambda x: (-x[1], x[0]))
