"""The CrossTrainer model: projector f_m + LoRA-adapted LLM + linear probes.

Video features (one vector per second) are projected into the LLM's token-embedding space and spliced into
the chat prompt where ``<video>`` stands; text around them is embedded by the LLM's own embedding table.
Training puts labels only on the assistant's answer, which ends with EOS so that generation stops.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    def _sequence(self, turn: Turn) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings (L, H) and labels (L,) of one turn; labels are -100 except on the target."""
        before, after = self._prompt_ids(turn.user)
        target = self._target_ids(turn.target) if turn.target is not None else []
        dev = self._device()
        video = self.projector(self.pool_time(torch.as_tensor(turn.features, dtype=torch.float32, device=dev)))
        emb = self._embed
        parts = [
            emb(torch.tensor(before, device=dev)),
            video.to(emb.weight.dtype),
            emb(torch.tensor(after + target, device=dev)),
        ]
        labels = torch.full((len(before) + video.shape[0] + len(after),), -100, dtype=torch.long, device=dev)
        labels = torch.cat([labels, torch.tensor(target, dtype=torch.long, device=dev)])
        return torch.cat(parts, 0), labels

    def _pad(self, turns: list[Turn], left: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        seqs = [self._sequence(t) for t in turns]
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

    @torch.no_grad()
    def generate(
        self,
        turns: list[Turn],
        max_new_tokens: int = 48,
        no_repeat_ngram_size: int = 0,
        repetition_penalty: float = 1.0,
    ) -> list[tuple[str, list[float]]]:
        """Greedy answers for a batch of turns: [(text, per-token probabilities)], stopping at EOS or after
        ``max_new_tokens``; ``no_repeat_ngram_size`` and ``repetition_penalty`` guard against loops."""
        embeds, _, mask = self._pad(turns, left=True)
        out = self.llm.generate(
            inputs_embeds=embeds,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            no_repeat_ngram_size=no_repeat_ngram_size,
            repetition_penalty=repetition_penalty,
            eos_token_id=self.eos_id,
            pad_token_id=self.pad_id,
            output_scores=True,
            return_dict_in_generate=True,
        )
        seqs = out.sequences[:, -len(out.scores) :] if out.scores else out.sequences
        probs = torch.stack([s.float().softmax(-1) for s in out.scores], 1) if out.scores else None
        results = []
        for i in range(seqs.shape[0]):
            ids, p = [], []
            for k, tok in enumerate(seqs[i].tolist()):
                if tok == self.eos_id:
                    break
                ids.append(tok)
                p.append(float(probs[i, k, tok]) if probs is not None else 1.0)
            results.append((self.tokenizer.decode(ids, skip_special_tokens=True).strip(), p))
        return results
