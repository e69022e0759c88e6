"""The embedded extractor that needs no LLM: rule-based clauses, a praise/correction detector, MiniLM matching.

For each comment:

1. split it into clauses at punctuation and conjunctions (``and``, ``but``, ``so``, ...); fragments shorter than
   three words are glued back to the clause before (``"vibration of the hips" + "and legs here"``);
2. score each clause for correction and praise with cue lexicons and negation (``"not perfect"`` corrects,
   ``"barely a splash"`` praises), plus MiniLM similarity to a few praise and correction prototypes;
3. keep corrective clauses that talk about the body or the technique (a lexicon of body parts and skill nouns),
   and map each onto the nearest seed attribute when the cosine similarity reaches ``seed_threshold``; otherwise
   its key words (``"pike shape"``, ``"ankles"``) become a candidate attribute, clustered later by canonicalisation.

A comment whose clauses only praise gives ``praise=True`` and no attributes::

    >>> OfflineExtractor(DiscoverConfig()).extract([Item("1", "great entry, perfect rip")])[0].praise
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from crosstrainer.attributes.vocabulary import Vocabulary
from crosstrainer.discover.config import DiscoverConfig
from crosstrainer.discover.items import Item
from crosstrainer.discover.prompt import Extraction

SPLIT_WORDS = {
    "and", "but", "so", "though", "although", "because", "while", "which", "then", "yeah", "okay", "ok", "whereas",
    "however", "cos", "cause", "mm-hmm", "oh",
}  # fmt: skip
CORRECTION_CUES = [
    "too", "not quite", "not enough", "lack", "lacking", "lacked", "lost", "loss", "losing", "error", "errors",
    "mistake", "fault", "short", "went short", "came short", "over-rotated", "over rotated", "overcooked",
    "over rotating", "under-rotated", "under rotated", "under rotating", "under-rotating", "splash", "splashy",
    "apart", "bent", "crooked", "scruffy", "messy", "untidy", "sloppy", "wobble", "wobbled", "wobbly", "vibration",
    "faltered", "disaster", "wrong", "missed", "off vertical", "rolled", "rolling", "roll over", "went over",
    "came over", "arched", "arch", "low", "late", "too early", "slow", "needs", "needed", "need to", "should",
    "could have", "would like", "want to see", "wanted", "disappointed", "disappointing", "problem", "problems",
    "trouble", "struggled", "struggling", "little bit", "bit of", "slightly", "punished", "deduction",
    "out of shape", "bad", "poor", "poorly", "ugly", "shaky", "tight to",
    "close to the board", "closeness", "hit the board", "hesitated", "hesitation", "fell", "falling", "dropped",
    "flat", "heavy", "sloppy", "loose", "separated", "uneven", "unbalanced", "off balance", "rushed", "cut short",
]  # fmt: skip
PRAISE_CUES = [
    "nice", "good", "great", "perfect", "perfectly", "beautiful", "beautifully", "lovely", "excellent", "superb",
    "brilliant", "clean", "cleanly", "tidy", "neat", "rip", "ripped", "rips", "vertical", "vertically",
    "straight up and down", "wonderful", "fantastic", "graceful", "impressive", "textbook", "smooth", "solid",
    "spot on", "spot-on", "well done", "amazing", "stunning", "gorgeous", "elegant", "precise", "best",
    "magnificent", "terrific", "decent", "strong", "tight", "fine", "well", "nicely", "sweet", "classy", "lovely",
    "no splash", "controlled", "exquisite", "outstanding", "good job",
]  # fmt: skip
NEGATORS = {"not", "no", "never", "without", "barely", "hardly", "minimal", "n't", "nothing", "isn't", "wasn't",
            "didn't", "don't", "doesn't", "hasn't", "lack", "lacking"}  # fmt: skip
TOPIC_WORDS = {
    # body
    "head", "chin", "neck", "eyes", "shoulder", "shoulders", "arm", "arms", "elbow", "elbows", "wrist", "wrists",
    "hand", "hands", "palm", "palms", "fingers", "back", "spine", "chest", "torso", "trunk", "core", "body", "hip",
    "hips", "waist", "bottom", "leg", "legs", "knee", "knees", "shin", "shins", "thigh", "thighs", "ankle", "ankles",
    "foot", "feet", "toe", "toes", "heel", "heels",
    # technique
    "entry", "entries", "landing", "takeoff", "take-off", "take", "approach", "hurdle", "jump", "height", "position",
    "shape", "form", "line", "alignment", "balance", "posture", "rotation", "rotating", "rotated", "twist",
    "twisting", "twists", "somersault", "somersaults", "spin", "tuck", "pike", "straight", "armstand", "handstand",
    "timing", "speed", "tempo", "rhythm", "control", "grip", "stance", "swing", "release", "follow", "finish",
    "finished", "finishing", "extension", "drop", "board", "platform", "water", "angle", "vertical", "splash",
    "lean", "leaning", "straightening", "opening", "kick", "come-out", "comeout", "spotting", "spot",
}  # fmt: skip
# topic words too vague to name an attribute on their own ("water", "back", "take")
GENERIC_TOPICS = {"back", "take", "follow", "finish", "finished", "finishing", "water", "board", "platform", "spot",
                  "body", "straight", "vertical", "splash", "drop", "rotated", "rotating", "position",
                  "shape", "form", "angle", "opening", "line"}  # fmt: skip
PRAISE_PROTOTYPES = [
    "a beautiful clean entry with no splash",
    "perfectly vertical, he ripped it",
    "great position, really tight and well controlled",
    "excellent take off and lovely height",
]
CORRECTION_PROTOTYPES = [
    "his legs came apart on the entry",
    "she went over and made a big splash",
    "bent at the hips, not quite vertical",
    "a little bit short on the rotation and too close to the board",
]


def split_clauses(text: str) -> list[list[str]]:
    """Clauses of a comment as token lists (lower-case), short fragments glued to the clause before."""
    clauses: list[list[str]] = []
    for chunk in re.split(r"[.,;:!?()\"]+|\s-\s", text.lower()):
        current: list[str] = []
        for tok in chunk.split():
            if tok in SPLIT_WORDS:
                if current:
                    clauses.append(current)
                current = []
            else:
                current.append(tok)
        if current:
            clauses.append(current)
    merged: list[list[str]] = []
    for c in clauses:
        if merged and len(c) < 3:
            merged[-1] = merged[-1] + c
        else:
            merged.append(c)
    return [c for c in merged if len(c) >= 2]


def segments(tokens: list[str], max_len: int = 12) -> list[list[str]]:
    """A short clause as is; a long one as windows (4 words before, 6 after) around its cues, overlaps merged."""
    if len(tokens) <= max_len:
        return [tokens]
    hits = sorted({i for cue in CORRECTION_CUES + PRAISE_CUES for i in _find(tokens, cue)})
    spans: list[list[int]] = []
    for i in hits:
        lo, hi = max(0, i - 4), min(len(tokens), i + 7)
        if spans and lo <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], hi)
        else:
            spans.append([lo, hi])
    return [tokens[lo:hi] for lo, hi in spans]


def _find(tokens: list[str], cue: str) -> list[int]:
    parts = cue.split()
    n = len(parts)
    return [i for i in range(len(tokens) - n + 1) if tokens[i : i + n] == parts]


def _negated(tokens: list[str], i: int) -> bool:
    before = tokens[max(0, i - 3) : i]
    if any(t in NEGATORS or t.endswith("n't") for t in before):
        return True
    return i >= 1 and tokens[i - 1] == "little" and (i < 2 or tokens[i - 2] != "a")  # "very little splash"


def lexicon_scores(tokens: list[str]) -> tuple[float, float]:
    """``(correction, praise)`` cue counts of a clause; a negated cue counts for the other side."""
    corr = praise = 0.0
    used: set[int] = set()
    for cue in sorted(PRAISE_CUES, key=lambda c: -len(c.split())):
        for i in _find(tokens, cue):
            if i in used:
                continue
            used.update(range(i, i + len(cue.split())))
            if _negated(tokens, i) and cue not in ("no splash",):
                corr += 1
            else:
                praise += 1
    for cue in sorted(CORRECTION_CUES, key=lambda c: -len(c.split())):
        for i in _find(tokens, cue):
            if i in used:
                continue
            used.update(range(i, i + len(cue.split())))
            if _negated(tokens, i) and cue not in ("lack", "lacking"):
                praise += 1
            else:
                corr += 1
    return corr, praise


def key_phrase(tokens: list[str]) -> str:
    """Short candidate name of a clause: its first run of naming topic words (``"pike position"``, ``"ankles"``)."""
    runs: list[list[str]] = [[]]
    for t in tokens:
        if t in TOPIC_WORDS and t not in GENERIC_TOPICS:
            runs[-1].append(t)
        elif runs[-1]:
            runs.append([])
    best = next((r for r in runs if r), [])
    return " ".join(best[:3])


@dataclass
class SeedIndex:
    """Embeddings of every seed attribute's name, ``name: definition`` and synonyms (rows), with their owner."""

    names: list[str]
    owner: np.ndarray
    vectors: np.ndarray

    @classmethod
    def build(cls, seed: Vocabulary, embed: Callable[[list[str]], np.ndarray]) -> SeedIndex:
        texts, owner = [], []
        for k, a in enumerate(seed.attributes):
            for t in [a.name, f"{a.name}: {a.definition}" if a.definition else a.name, *a.synonyms]:
                texts.append(t)
                owner.append(k)
        return cls([a.name for a in seed.attributes], np.asarray(owner), embed(texts))

    def best(self, vecs: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Nearest seed attribute of each row and its cosine similarity."""
        if len(vecs) == 0:
            return [], np.zeros(0)
        sims = vecs @ self.vectors.T
        per_attr = np.full((len(vecs), len(self.names)), -1.0, dtype=np.float32)
        for k in range(len(self.names)):
            per_attr[:, k] = sims[:, self.owner == k].max(axis=1)
        idx = per_attr.argmax(axis=1)
        return [self.names[i] for i in idx], per_attr[np.arange(len(vecs)), idx]


class OfflineExtractor:
    """Rule + embedding extractor; ``extract(items)`` returns one :class:`Extraction` per item."""

    name = "offline"
    model_id = "offline-minilm"
    requests = 0

    def __init__(self, config: DiscoverConfig, seed: Vocabulary | None = None, embed: Callable | None = None) -> None:
        from crosstrainer.attributes.canonicalize import load_seed_vocabulary

        if embed is None:
            from crosstrainer.text import embed as embed_fn

            embed = embed_fn
        self.cfg = config
        self.embed = embed
        self.seed = seed or load_seed_vocabulary(config.seed_vocabulary)
        self._index: SeedIndex | None = None

    def _seed_index(self) -> SeedIndex:
        if self._index is None:
            self._index = SeedIndex.build(self.seed, self.embed)
        return self._index

    def extract(self, items: list[Item], progress: Callable[[int], None] | None = None) -> list[Extraction]:
        index = self._seed_index()
        protos = self.embed(PRAISE_PROTOTYPES + CORRECTION_PROTOTYPES)
        n_praise = len(PRAISE_PROTOTYPES)
        results = []
        for start in range(0, len(items), 64):
            batch = items[start : start + 64]
            clauses: list[tuple[int, list[str], float]] = []  # (item in batch, tokens, lexicon margin)
            has_praise = [False] * len(batch)
            for b, item in enumerate(batch):
                for toks in (seg for clause in split_clauses(item.text) for seg in segments(clause)):
                    corr, praise = lexicon_scores(toks)
                    topical = any(t in TOPIC_WORDS for t in toks)
                    if corr == 0 and praise == 0:
                        continue
                    if topical or praise > corr:
                        clauses.append((b, toks, corr - praise))
            texts = [" ".join(t) for _, t, _ in clauses]
            vecs = self.embed(texts)
            if len(vecs):
                proto_sims = vecs @ protos.T
                emb_margin = proto_sims[:, n_praise:].max(axis=1) - proto_sims[:, :n_praise].max(axis=1)
            else:
                emb_margin = np.zeros(0)
            best, sims = index.best(vecs)
            found: list[Extraction] = [Extraction() for _ in batch]
            for k, (b, toks, lex_margin) in enumerate(clauses):
                margin = lex_margin + 2.0 * float(emb_margin[k])  # > 0: corrects, < 0: praises
                if margin <= -self.cfg.praise_margin or not any(t in TOPIC_WORDS for t in toks):
                    has_praise[b] = has_praise[b] or margin < 0
                    continue
                if sims[k] >= self.cfg.seed_threshold:
                    name = best[k]
                else:
                    name = key_phrase(toks)
                    if not name:
                        continue
                ext = found[b]
                if name not in ext.attributes:
                    ext.attributes.append(name)
                    ext.evidence[name] = texts[k]
            for b, ext in enumerate(found):
                ext.praise = has_praise[b] and not ext.attributes
            results.extend(found)
            if progress is not None:
                progress(len(batch))
        return results
