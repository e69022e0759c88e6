"""The CrossTrainer model: projector f_m + LoRA-adapted LLM + linear probes.

Video features (one vector per second) are projected into the LLM's token-embedding space and spliced into
the chat prompt where ``<video>`` stands; text around them is embedded by the LLM's own embedding table.
Training puts labels only on the assistant's answer, which ends with EOS so that generation stops.

Inference shares work between turns: the text before ``<video>`` (system prompt and chat header, 28 tokens with
SmolLM2) is the same in every prompt, so its KV cache is computed once and each turn's pass starts after it
(:meth:`CrossTrainerModel.prefill`); greedy decoding (:meth:`CrossTrainerModel.generate`) drops a row from the batch
as soon as it has ended. A batch's row layout, for turns whose video+text parts differ in length::

    [shared prefix (cached)][pad pad][video][text after video]   <- attention mask 1..1 0 0 1..1, positions skip pads
    [shared prefix (cached)][video......][text after video..]
"""

from __future__ import annotations

import copy
import inspect
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from crosstrainer.model import prompts
from crosstrainer.model.projector import Projector


@dataclass
class Turn:
    """One prompt (with its video) and, for training, its target answer.

    ``features``: (S, D) float32 per-second encoder features. ``user``: user text containing ``<video>`` once.
    """

    features: np.ndarray
    user: str
    target: str | None = None


@dataclass
class Prefill:
    """Where decoding or scoring continues from after a batch's prompts: the KV ``cache`` (batch = rows),
    ``last_logits`` (rows, vocab) float32 for the next token, the attention ``mask`` (rows, L) of what the cache
    holds (0 = padding) and each row's ``next_position`` id."""

    cache: Any
    last_logits: torch.Tensor
    mask: torch.Tensor
    next_position: torch.Tensor


def output_cache(out: Any) -> Any:
    """The KV cache of a forward pass (``past_key_values``; ``cache`` in newer transformers)."""
    cache = getattr(out, "past_key_values", None)
    return getattr(out, "cache", None) if cache is None else cache


def cache_kwarg(llm: Any) -> str:
    """The name of the forward argument taking a KV cache: ``cache`` in newer transformers (5.2x+), else
    ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(llm.forward).parameters else "past_key_values"


def select_cache(cache: Any, rows: torch.Tensor) -> Any:
    """A cache whose batch rows are ``cache``'s rows ``rows`` (repeats allowed), leaving ``cache`` unchanged."""
    if hasattr(cache, "layers"):  # transformers >= 4.56: shallow copies; batch_select_indices re-binds tensors
        new = copy.copy(cache)
        new.layers = [copy.copy(layer) for layer in cache.layers]
    else:
        new = copy.deepcopy(cache)
    new.batch_select_indices(rows)
    return new


_PREFIX_LOCK = threading.Lock()


class CrossTrainerModel(nn.Module):
    def __init__(self, llm: nn.Module, tokenizer, projector: Projector, max_video_tokens: int = 64) -> None:
        super().__init__()
        self.llm = llm
        self.tokenizer = tokenizer
        self.projector = projector
        self.max_video_tokens = max_video_tokens
        self._template_cache: dict[str, tuple[list[int], list[int]]] = {}
        im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
        self.eos_id = (
            int(im_end) if isinstance(im_end, int) and im_end != tokenizer.unk_token_id else int(tokenizer.eos_token_id)
        )
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id)
        self._prefix_caches: dict[tuple, Any] = {}

    def __getstate__(self) -> dict:  # copies and pickles start without cached prefixes
        return {**self.__dict__, "_prefix_caches": {}}

    def train(self, mode: bool = True) -> CrossTrainerModel:
        self._prefix_caches.clear()  # the weights are about to change: cached prompt prefixes would be stale
        return super().train(mode)

    # ---- text pieces -------------------------------------------------------------------------------------------
    def _prompt_ids(self, user: str) -> tuple[list[int], list[int]]:
        """Token ids before and after the video placeholder of a chat prompt (cached per user text)."""
        if user not in self._template_cache:
            messages = [{"role": "system", "content": prompts.SYSTEM}, {"role": "user", "content": user}]
            if getattr(self.tokenizer, "chat_template", None):
                text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            else:
                text = f"{prompts.SYSTEM}\n\nUser: {user}\nAssistant: "
            before, after = text.split(prompts.VIDEO, 1)
            enc = self.tokenizer
            self._template_cache[user] = (
                enc(before, add_special_tokens=False)["input_ids"],
                enc(after, add_special_tokens=False)["input_ids"],
            )
        return self._template_cache[user]

    def _target_ids(self, target: str) -> list[int]:
        return self.tokenizer(target, add_special_tokens=False)["input_ids"] + [self.eos_id]

    @property
    def _embed(self) -> nn.Module:
        return self.llm.get_input_embeddings()

    def _device(self) -> torch.device:
        return next(self.projector.parameters()).device

    def pool_time(self, feats: torch.Tensor) -> torch.Tensor:
        """(S, D) -> (min(S, max_video_tokens), D) by averaging neighbouring seconds (long videos stay in context)."""
        if feats.shape[0] <= self.max_video_tokens:
            return feats
        return nn.functional.adaptive_avg_pool1d(feats.T.unsqueeze(0), self.max_video_tokens)[0].T

    def project(self, features: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(features, dtype=np.float32), device=self._device())
        return self.projector(x)

    # ---- batches -----------------------------------------------------------------------------------------------
    def _sequence(self, turn: Turn, skip: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings (L, H) and labels (L,) of one turn; labels are -100 except on the target. ``skip``: leave out
        the first ``skip`` prompt tokens (a prefix whose KV cache is already computed)."""
        before, after = self._prompt_ids(turn.user)
        before = before[skip:]
        target = self._target_ids(turn.target) if turn.target is not None else []
        dev = self._device()
        video = self.projector(self.pool_time(torch.as_tensor(turn.features, dtype=torch.float32, device=dev)))
        emb = self._embed
        parts = [
            emb(torch.tensor(before, dtype=torch.long, device=dev)),
            video.to(emb.weight.dtype),
            emb(torch.tensor(after + target, dtype=torch.long, device=dev)),
        ]
        labels = torch.full((len(before) + video.shape[0] + len(after),), -100, dtype=torch.long, device=dev)
        labels = torch.cat([labels, torch.tensor(target, dtype=torch.long, device=dev)])
        return torch.cat(parts, 0), labels

    def _pad(self, turns: list[Turn], left: bool, skip: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        seqs = [self._sequence(t, skip) for t in turns]
        length = max(s[0].shape[0] for s in seqs)
        hidden = seqs[0][0].shape[1]
        dev = self._device()
        pad_vec = self._embed(torch.tensor([self.pad_id], device=dev))[0]
        embeds = pad_vec.expand(len(seqs), length, hidden).clone()
        labels = torch.full((len(seqs), length), -100, dtype=torch.long, device=dev)
        mask = torch.zeros((len(seqs), length), dtype=torch.long, device=dev)
        for i, (e, lab) in enumerate(seqs):
            n = e.shape[0]
            sl = slice(length - n, length) if left else slice(0, n)
            embeds[i, sl], labels[i, sl], mask[i, sl] = e, lab, 1
        return embeds, labels, mask

    def loss(self, turns: list[Turn]) -> torch.Tensor:
        """Mean next-token cross-entropy on the target tokens of a batch of turns."""
        embeds, labels, mask = self._pad(turns, left=False)
        out = self.llm(inputs_embeds=embeds, attention_mask=mask, labels=labels)
        return out.loss

    # ---- inference ---------------------------------------------------------------------------------------------
    def _weights_version(self) -> int:
        """Changes whenever a trainable weight is updated in place (optimizer steps), invalidating prefix caches."""
        return sum(p._version for p in self.parameters() if p.requires_grad)

    def _prefix_cache(self, ids: tuple[int, ...]) -> Any:
        """The KV cache (batch 1) of the prompt tokens ``ids`` that every turn starts with; computed once."""
        key = (ids, self._weights_version(), torch.is_inference_mode_enabled())
        with _PREFIX_LOCK:
            if key not in self._prefix_caches:
                if len(self._prefix_caches) > 8:
                    self._prefix_caches.clear()
                dev = self._device()
                out = self.llm(input_ids=torch.tensor([ids], device=dev), use_cache=True, logits_to_keep=1)
                self._prefix_caches[key] = output_cache(out)
            return self._prefix_caches[key]

    def prefill(self, turns: list[Turn]) -> Prefill:
        """One forward pass over a batch of prompts (video included), keeping the KV cache.

        The tokens before ``<video>`` that all turns share come from :meth:`_prefix_cache`; the rest of each turn is
        left-padded after them, with padding masked and position ids that skip it, so a row computes what it
        would alone (up to floating-point rounding).
        """
        starts = [self._prompt_ids(t.user)[0] for t in turns]
        shared = tuple(starts[0]) if all(s == starts[0] for s in starts) else ()
        turns = [Turn(t.features, t.user) for t in turns]
        dev = self._device()
        embeds, _, mask = self._pad(turns, left=True, skip=len(shared))
        extra: dict[str, Any] = {}
        if shared:
            prefix = self._prefix_cache(shared)
            extra[cache_kwarg(self.llm)] = select_cache(prefix, torch.zeros(len(turns), dtype=torch.long, device=dev))
            mask = torch.cat([torch.ones((len(turns), len(shared)), dtype=mask.dtype, device=dev), mask], 1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # generate()'s position ids for left padding
        out = self.llm(
            inputs_embeds=embeds,
            attention_mask=mask,
            position_ids=positions[:, len(shared) :],
            use_cache=True,
            logits_to_keep=1,
            **extra,
        )
        return Prefill(output_cache(out), out.logits[:, -1].float(), mask, positions[:, -1] + 1)

    @torch.no_grad()
    def generate(
        self,
        turns: list[Turn],
        max_new_tokens: int = 48,
        no_repeat_ngram_size: int = 0,
        repetition_penalty: float = 1.0,
    ) -> list[tuple[str, list[float]]]:
        """Greedy answers for a batch of turns: [(text, per-token probabilities)], stopping at EOS or after
        ``max_new_tokens``; ``no_repeat_ngram_size`` and ``repetition_penalty`` guard against loops.

        The logits processing is that of transformers' ``generate`` (``RepetitionPenaltyLogitsProcessor`` then
        ``NoRepeatNGramLogitsProcessor``, both over the generated tokens; probabilities are the softmax of the
        processed scores), except that the penalty covers every generated token of a left-padded row too
        (transformers skips as many of them as the row has padding). A row leaves the batch when it ends.
        """
        if not turns:
            return []
        state = self.prefill(turns)
        cache, mask, position, logits = state.cache, state.mask, state.next_position, state.last_logits
        dev = logits.device
        tokens: list[list[int]] = [[] for _ in turns]
        probs: list[list[float]] = [[] for _ in turns]
        alive = list(range(len(turns)))
        for step in range(max_new_tokens):
            scores = logits
            generated = torch.tensor([tokens[i] for i in alive], dtype=torch.long, device=dev).view(len(alive), step)
            if repetition_penalty != 1.0 and step:
                seen = scores.gather(1, generated)
                seen = torch.where(seen < 0, seen * repetition_penalty, seen / repetition_penalty)
                scores = scores.scatter(1, generated, seen)
            n = no_repeat_ngram_size
            if n and step >= n:
                windows = generated.unfold(1, n, 1)  # every n-gram so far; a match of its first n-1 bans its last
                matches = (windows[..., :-1] == generated[:, step + 1 - n :].unsqueeze(1)).all(-1)
                banned = torch.zeros((len(alive), scores.shape[-1] + 1), dtype=torch.bool, device=dev)
                banned.scatter_(1, torch.where(matches, windows[..., -1], scores.shape[-1]), True)
                scores = scores.masked_fill(banned[:, :-1], -float("inf"))
            chosen = scores.argmax(-1)
            chosen_lp = scores.log_softmax(-1).gather(1, chosen[:, None])[:, 0]
            keep = []
            for j, (tok, lp) in enumerate(zip(chosen.tolist(), chosen_lp.tolist(), strict=True)):
                if tok != self.eos_id:
                    tokens[alive[j]].append(tok)
                    probs[alive[j]].append(float(np.exp(lp)))
                    keep.append(j)
            if not keep or step + 1 == max_new_tokens:
                break
            if len(keep) < len(alive):
                rows = torch.tensor(keep, dtype=torch.long, device=dev)
                cache.batch_select_indices(rows)
                mask, position, chosen = mask[rows], position[rows], chosen[rows]
                alive = [alive[j] for j in keep]
            mask = torch.cat([mask, mask.new_ones((len(alive), 1))], 1)
            out = self.llm(
                input_ids=chosen[:, None],
                attention_mask=mask,
                position_ids=position[:, None],
                use_cache=True,
                **{cache_kwarg(self.llm): cache},
            )
            cache, logits, position = output_cache(out), out.logits[:, -1].float(), position + 1
        return [(self.tokenizer.decode(ids, skip_special_tokens=True).strip(), p) for ids, p in zip(tokens, probs)]
