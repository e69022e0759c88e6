"""Stage I constrained to the attribute vocabulary: score every answer the model could give, pick by probability.

Free generation can say anything (``"their skill-lifestyle improvement their"``, the exercise's own name). Here
the model only *scores* the answers that are allowed: each vocabulary name, ``none``, and pairs ``"a, b"`` of
likely names, each followed by EOS, exactly as Stage I was trained (``prompts.stage1_target``). The prompt and
video prefix of a turn runs once; all of the turn's candidate answers are then scored as branches of one tree after
it (one KV cache per turn, tree attention: :func:`_grow`)::

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
from crosstrainer.model.crosstrainer import CrossTrainerModel, Prefill, Turn, cache_kwarg, output_cache

Answer = tuple[str, ...]
"""A candidate Stage-I answer: the attribute names it lists, in order; ``()`` is ``"none"``."""

TURN_BATCH = 16
"""Turns whose prompt+video prefixes, and answer trees, run through the LLM together."""
TREE_TOKENS = 1024
"""Answer tokens of a batch of turns fed in one forward pass at most (fewer turns a batch for large vocabularies)."""
HEAD_TOKENS = 128
"""Positions whose log-probabilities over the whole vocabulary exist at once (128 x 49,152 floats: 25 MB)."""


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


def _hidden_states(
    model: CrossTrainerModel, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any
) -> tuple[torch.Tensor, Any, Any]:
    """The LLM's last hidden states (rows, tokens, hidden) for ``ids`` after ``cache``, the new cache, and the
    output head that turns hidden states into logits. Logits for every answer token of a batch would take hundreds
    of megabytes (tokens x a 49k vocabulary); the caller applies the head a few positions at a time.
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


@dataclass
class _Node:
    """A branch of answer tokens appended to one turn's row of the tree (see :func:`_grow`).

    ``log_probs[t]``: log P(token t | what precedes it); ``eos[t]``: log P(EOS) right after token t; ``next``: the
    whole next-token distribution after the last token (only for nodes that get children); ``columns``: the cache
    columns of this node's tokens and its ancestors'; ``end``: the position id after its last token.
    """

    row: int
    log_probs: list[float]
    eos: list[float]
    next: torch.Tensor | None
    columns: list[int]
    end: int


@dataclass
class _Tree:
    """A batch of turns after their prompt+video prefixes, growing answer branches in one KV cache (batch = turns).

    ``width`` is the prefix part of the cache (``mask`` says which of its columns are padding); columns after it hold
    the tokens of earlier branches, which a branch sees only when they are its ancestors."""

    cache: Any
    mask: torch.Tensor  # (turns, width) 1 = a prompt token, 0 = padding
    first: torch.Tensor  # (turns, vocab) log P(first answer token | prompt, video)
    next_position: torch.Tensor  # (turns,)
    length: int  # columns in the cache

    @classmethod
    def after(cls, start: Prefill) -> _Tree:
        """The tree of a batch just prefilled (:meth:`CrossTrainerModel.prefill`): no answer token yet."""
        first = start.last_logits.log_softmax(-1)
        return cls(start.cache, start.mask, first, start.next_position, start.mask.shape[1])

    @property
    def width(self) -> int:
        return self.mask.shape[1]


def _grow(
    model: CrossTrainerModel, tree: _Tree, branches: list[tuple[int, list[int], _Node | None, bool]]
) -> list[_Node]:
    """Feed branches ``(row, tokens, parent, keep_next)`` in one forward pass (tree attention).

    Each row of the batch gets all of its turn's branches one after another; a 4-D attention mask lets every token
    see its turn's prompt, its parent chain and the earlier tokens of its own branch, nothing else, and position ids
    continue from the parent, so each branch is scored exactly as if it were alone after its parent (up to
    floating-point rounding). No KV cache is copied per answer: the tree's cache stays one row per turn. The mask is
    additive (0 or the dtype's minimum), which transformers' ``eager`` and ``sdpa`` attention take as given (its
    default; kernels that take no mask, such as ``flash_attention_2``, cannot run this)::

        row i: [prompt+video (cached)] [a, ,] [b ,] [none] [pad]     <- pass 1: each first name + comma
               [...]                                [tail of "a, c"] <- pass 2: sees the prompt and [a ,] only
    """
    dev = tree.mask.device
    rows = tree.mask.shape[0]
    starts: list[int] = []
    used = [0] * rows
    for row, tokens, _, _ in branches:
        starts.append(used[row])
        used[row] += len(tokens)
    width, total = max(used), tree.length + max(used)
    ids = torch.full((rows, width), model.pad_id, dtype=torch.long, device=dev)
    positions = torch.zeros((rows, width), dtype=torch.long, device=dev)
    allowed = torch.zeros((rows, width, total), dtype=torch.bool, device=dev)
    allowed[:, :, : tree.width] = tree.mask.bool()[:, None, :]  # every token (padding too) sees its prompt
    causal = torch.ones((width, width), dtype=torch.bool, device=dev).tril()
    columns: list[list[int]] = []
    for (row, tokens, parent, _), s in zip(branches, starts, strict=True):
        n = len(tokens)
        ids[row, s : s + n] = torch.tensor(tokens, device=dev)
        begin = parent.end if parent is not None else int(tree.next_position[row])
        positions[row, s : s + n] = torch.arange(begin, begin + n, device=dev)
        own = [tree.length + s + t for t in range(n)]
        if parent is not None:
            allowed[row, s : s + n, parent.columns] = True
        allowed[row, s : s + n, own[0] : own[0] + n] = causal[:n, :n]
        columns.append((parent.columns if parent is not None else []) + own)
    min_value = torch.finfo(model._embed.weight.dtype).min
    mask = torch.zeros(allowed.shape, dtype=model._embed.weight.dtype, device=dev).masked_fill_(~allowed, min_value)
    hidden, tree.cache, head = _hidden_states(model, ids, mask[:, None], positions, tree.cache)
    tree.length = total
    # log-probabilities over the vocabulary, HEAD_TOKENS positions at a time: the next token's, EOS, the last one's
    flat = [(row, s + t) for (row, tokens, _, _), s in zip(branches, starts, strict=True) for t in range(len(tokens))]
    next_id = [tok for _, tokens, _, _ in branches for tok in [*tokens[1:], model.eos_id]]
    wanted = {(row, s + len(tokens) - 1) for (row, tokens, _, keep), s in zip(branches, starts, strict=True) if keep}
    at_all, next_all = torch.tensor(flat, device=dev), torch.tensor(next_id, device=dev)
    picked_parts, eos_parts, kept = [], [], {}
    for c0 in range(0, len(flat), HEAD_TOKENS):
        at = at_all[c0 : c0 + HEAD_TOKENS]
        log_probs = head(hidden[at[:, 0], at[:, 1]]).float().log_softmax(-1)
        picked_parts.append(log_probs.gather(1, next_all[c0 : c0 + HEAD_TOKENS, None])[:, 0])
        eos_parts.append(log_probs[:, model.eos_id])
        kept.update({key: log_probs[j].clone() for j, key in enumerate(flat[c0 : c0 + HEAD_TOKENS]) if key in wanted})
        del log_probs  # before the next chunk's exist: one chunk of vocabulary log-probabilities at a time
    picked, eos = torch.cat(picked_parts).tolist(), torch.cat(eos_parts).tolist()
    nodes, k = [], 0
    for (row, tokens, parent, keep), s, cols in zip(branches, starts, columns, strict=True):
        before = parent.next if parent is not None else tree.first[row]
        assert before is not None, "a parent branch must keep its next-token distribution"
        n = len(tokens)
        log_probs = [float(before[tokens[0]]), *picked[k : k + n - 1]]
        nodes.append(_Node(row, log_probs, eos[k : k + n], kept.get((row, s + n - 1)) if keep else None, cols,
                           int(positions[row, s + n - 1]) + 1))  # fmt: skip
        k += n
    return nodes


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
    ``AnswerScores.unscored``. Per batch of turns, three forward passes whatever the number of answers: the
    prompt+video prefixes, then every scored name (giving each single answer's EOS), with a comma where its first
    token is at least ``pair_min_prob`` likely (giving its lists' starts), as branches of one tree
    (:func:`_grow`), then the chosen lists' second names as branches after their first.
    Deterministic.
    """
    names = _check_names(names)
    singles: list[Answer] = [(n,) for n in names] + [()]
    head = {a: model._target_ids(answer_text(a))[:-1] for a in singles}  # the answer's tokens without EOS
    sep, tail, whole = _pair_plan(model, names, head) if max_pairs > 0 else ({}, {}, {})
    first_row = [head[a] + ([sep[a[0]]] if a and a[0] in sep else []) for a in singles]
    row_tokens = sum(len(t) for t in first_row) + sum(len(t) - 1 for t in whole.values())  # a turn's widest row
    turn_batch = max(1, min(TURN_BATCH, TREE_TOKENS // max(1, row_tokens)))
    results: list[AnswerScores] = []
    for b0 in range(0, len(turns), turn_batch):
        batch = turns[b0 : b0 + turn_batch]
        tree = _Tree.after(model.prefill(list(batch)))
        unscored = [0.0] * len(batch)
        log_probs: list[dict[Answer, float]] = [{} for _ in batch]
        # pass 1: every likely single name (with its comma) and "none"; lists that tokenise oddly, whole
        branches: list[tuple[int, list[int], _Node | None, bool]] = []
        keys: list[tuple[int, Answer, int]] = []  # (turn, answer, tokens before EOS)
        for i in range(len(batch)):
            scored: set[str] = set()  # this turn's first names that get a branch
            for j, a in enumerate(singles):
                bound = math.exp(float(tree.first[i, first_row[j][0]]))
                if a == () or bound >= min_prob:
                    # the comma only where a list "a, b" can reach pair_min_prob: P("a, " + b...) <= bound
                    comma = bool(a) and a[0] in sep and bound >= pair_min_prob
                    branches.append((i, first_row[j] if comma else head[a], None, comma))
                    keys.append((i, a, len(head[a])))
                    scored.update(a)
                else:
                    unscored[i] += bound
            for pair, toks in whole.items():
                if pair[0] in scored:  # else already bounded by its first name
                    branches.append((i, toks[:-1], None, False))
                    keys.append((i, pair, len(toks) - 1))
        firsts: dict[tuple[int, str], _Node] = {}
        for (i, a, n), node in zip(keys, _grow(model, tree, branches), strict=True):
            log_probs[i][a] = sum(node.log_probs[:n]) + node.eos[n - 1]
            if len(a) == 1 and node.next is not None:
                firsts[(i, a[0])] = node
            elif len(a) == 1 and a[0] in sep:  # its lists are left out: P(a's tokens, then not EOS) bounds them
                unscored[i] += math.exp(sum(node.log_probs[:n])) * -math.expm1(node.eos[n - 1])
        # pass 2: the second names of the lists most likely to start so, after their first name's branch
        branches, picked = [], []
        for i in range(len(batch)):
            starts = []  # (-log P(the answer starts "a, " + b's first token), pair)
            for pair, t in tail.items():
                node = firsts.get((i, pair[0]))
                if node is not None:  # else its first name was not scored: already bounded in ``unscored``
                    starts.append((-sum(node.log_probs) - float(cast(torch.Tensor, node.next)[t[0]]), pair))
            starts.sort()
            chosen = {pair for cost, pair in starts[:max_pairs] if math.exp(-cost) >= pair_min_prob}
            unscored[i] += sum(math.exp(-cost) for cost, pair in starts if pair not in chosen)
            for _, pair in starts:
                if pair in chosen:
                    branches.append((i, tail[pair][:-1], firsts[(i, pair[0])], False))
                    picked.append((i, pair))
        if branches:
            for (i, pair), node in zip(picked, _grow(model, tree, branches), strict=True):
                log_probs[i][pair] = sum(firsts[(i, pair[0])].log_probs) + sum(node.log_probs) + node.eos[-1]
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
