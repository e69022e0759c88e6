"""Turn raw per-comment attribute names into a canonical vocabulary (``crosstrainer.vocabulary/v1``).

1. A raw name equal to a seed attribute or one of its synonyms takes that name; otherwise it is embedded (MiniLM)
   and takes the nearest seed attribute when the cosine similarity reaches ``name_seed_threshold``.
2. The rest are clustered (agglomerative, average linkage, cosine distance ``1 - merge_threshold``); a cluster is
   named after its most frequent member and the other members become its synonyms.
3. Counts are items (comments) per attribute; ``sports`` lists where it was seen. Seed attributes, and new ones seen in
   at least ``min_sports_transferable`` sports, are ``transferable``; the others are sport-specific jargon
   (``"rip"``, ``"pike shape"`` in diving). Each attribute also carries ``n_sports``, ``seed`` and ``members``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crosstrainer.attributes.vocabulary import Attribute, Vocabulary, normalise_name

if TYPE_CHECKING:  # imported for annotations only: discover imports this module
    from crosstrainer.discover.config import DiscoverConfig
    from crosstrainer.discover.items import Item
    from crosstrainer.discover.prompt import Extraction

SEED_FILE = "seed_vocabulary.yaml"


def load_seed_vocabulary(path: str | Path | None = None, backbone: bool = True) -> Vocabulary:
    """The seed vocabulary: ``path``, or the one bundled with the package.

    The bundled one also holds the movement backbone (:data:`crosstrainer.movement.BACKBONE`: ``core stability``,
    ``symmetry``, ``compensation``, ``movement control`` are not in the YAML file), appended after the file's
    attributes, so discovery and the measured attributes share names; ``backbone=False`` gives the file alone.
    """
    if path is not None:
        return Vocabulary.load(path)
    with resources.as_file(resources.files("crosstrainer.attributes") / SEED_FILE) as bundled:
        seed = Vocabulary.load(bundled)
    if backbone:
        from crosstrainer.movement import BACKBONE

        have = set(seed.names)
        extra = [a.model_copy(deep=True) for a in BACKBONE if a.name not in have]
        seed = Vocabulary(attributes=[*seed.attributes, *extra], meta=seed.meta)
    return seed


def map_to_seed(
    names: list[str], seed: Vocabulary, threshold: float, embed: Callable[[list[str]], np.ndarray]
) -> dict[str, str]:
    """Raw names that belong to a seed attribute (exact name/synonym, or embedding similarity >= threshold)."""
    from crosstrainer.discover.offline import SeedIndex

    exact: dict[str, str] = {}
    for a in seed.attributes:  # names first, then synonyms; the first attribute to claim a spelling keeps it
        exact.setdefault(normalise_name(a.name), a.name)
    for a in seed.attributes:
        for s in a.synonyms:
            exact.setdefault(normalise_name(s), a.name)
    mapping = {n: exact[normalise_name(n)] for n in names if normalise_name(n) in exact}
    rest = [n for n in names if n not in mapping]
    if rest:
        best, sims = SeedIndex.build(seed, embed).best(embed(rest))
        mapping.update({n: b for n, b, s in zip(rest, best, sims, strict=True) if s >= threshold})
    return mapping


def cluster_names(
    names: list[str], counts: Counter, threshold: float, embed: Callable[[list[str]], np.ndarray]
) -> dict[str, str]:
    """Map each name to its cluster's name (the most frequent member, then the shortest)."""
    if len(names) < 2:
        return {n: n for n in names}
    from sklearn.cluster import AgglomerativeClustering

    labels = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=max(1e-6, 1.0 - threshold)
    ).fit_predict(embed(names))
    groups: dict[int, list[str]] = defaultdict(list)
    for n, lab in zip(names, labels, strict=True):
        groups[int(lab)].append(n)
    mapping = {}
    for members in groups.values():
        head = min(members, key=lambda m: (-counts[m], len(m), m))
        mapping.update({m: head for m in members})
    return mapping


def canonicalize(
    items: list[Item],
    extractions: list[Extraction],
    config: DiscoverConfig,
    seed: Vocabulary | None = None,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> tuple[Vocabulary, list[list[str]]]:
    """The canonical vocabulary, and each item's canonical attribute names (only names kept in the vocabulary)."""
    if embed is None:
        from crosstrainer.text import embed as embed_fn

        embed = embed_fn
    seed = seed or load_seed_vocabulary(config.seed_vocabulary)
    raw_counts: Counter = Counter(n for e in extractions for n in set(e.attributes))
    names = sorted(raw_counts)
    to_seed = map_to_seed(names, seed, config.name_seed_threshold, embed)
    new = [n for n in names if n not in to_seed]
    mapping = {**to_seed, **cluster_names(new, raw_counts, config.merge_threshold, embed)}

    per_item: list[list[str]] = []
    counts: Counter = Counter()
    sports: dict[str, set[str]] = defaultdict(set)
    members: dict[str, Counter] = defaultdict(Counter)
    examples: dict[str, list[str]] = defaultdict(list)
    for item, ext in zip(items, extractions, strict=True):
        canon: list[str] = []
        for raw in ext.attributes:
            c = normalise_name(mapping[raw])  # the spelling the vocabulary stores (so "x-y" and "x y" are one)
            members[c][raw] += 1
            if c in canon:
                continue
            canon.append(c)
            counts[c] += 1
            if item.sport:
                sports[c].add(item.sport)
            ex = ext.evidence.get(raw) or item.text
            if len(examples[c]) < config.max_examples and ex not in examples[c]:
                examples[c].append(ex[:160])
        per_item.append(canon)

    seed_by_name = {a.name: a for a in seed.attributes}
    attributes = []
    for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if count < config.min_count:
            continue
        base = seed_by_name.get(name)
        raw_members = [m for m, _ in members[name].most_common() if normalise_name(m) != name]
        synonyms = list(dict.fromkeys([*(base.synonyms if base else []), *raw_members]))
        n_sports = len(sports[name])
        attributes.append(
            Attribute(
                name=name,
                definition=base.definition
                if base
                else f"Discovered from commentary, e.g. {', '.join(raw_members[:3] or [name])}.",
                synonyms=synonyms,
                count=count,
                sports=sorted(sports[name]),
                examples=examples[name],
                feedback=list(base.feedback) if base else [],
                transferable=base is not None or n_sports >= config.min_sports_transferable,
                n_sports=n_sports,
                seed=base is not None,
                members=dict(members[name].most_common()),
            )
        )
    kept = {a.name for a in attributes}
    per_item = [[c for c in canon if c in kept] for canon in per_item]
    return Vocabulary(attributes=attributes), per_item
