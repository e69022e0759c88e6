"""Evaluation protocols: which clips train a model and which test it, for intra-sport and cross-sport transfer.

A protocol is data (YAML or :class:`ProtocolConfig`); :func:`make_splits` turns it and the loaded samples into
:class:`Split` objects (ids only, JSON-friendly)::

    # protocol.yaml
    protocol: zero-shot          # intra | zero-shot | few-shot
    sports: [bicep curl, plank, lunge, push-up]   # sports in play (default: every sport in the data)
    k: [1]                       # leave-k-sports-out sizes (zero-shot / few-shot); or name the sets:
    holdout: [[plank], [lunge, push-up]]
    shots: 5                     # few-shot: labelled clips of each held-out sport moved into training
    test_fraction: 0.25          # intra: clips held out per (sport, label); zero/few-shot: in-domain test clips
    seeds: [0]
    eval_only_sources: [gym_exercise_correction_vn]   # never in any training set (no license to train on)
    subject_folds: 0             # zero/few-shot: >= 2 also keeps the test clips' people out of training

- ``intra``: one split per seed; every sport trains; a stratified ``test_fraction`` of each (sport, label) tests.
- ``zero-shot``: for every held-out set H (every combination of ``k`` sports, or the named ``holdout`` sets), the
  model trains on the other sports only. Test = every clip of H + (``test_fraction`` > 0) a stratified in-domain
  share of the training sports, so each model also has in-domain cells in the transfer matrix.
- ``few-shot``: as zero-shot, plus ``shots`` labelled clips of each held-out sport (balanced over its labels)
  moved into training; they are not tested.

``subject_folds: F`` (F >= 2) makes a cross-sport protocol subject-disjoint as well: the people are dealt into F folds
(seeded), and each held-out set gets F splits; split f tests only fold f's people and trains only on the others, so
no test person is ever seen in training, on any movement. A clip without a ``participant`` id counts as its own
person (a different person from every other clip: the best that can be done without ids, and said in reports).

Clips of ``eval_only_sources`` are always test clips, never training clips. A sport that exists only there
(push-up in ``gym_exercise_correction_vn``) can be held out but never trained on: its few-shot split is skipped.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.data.sample import Sample
from crosstrainer.errors import UsageError

PROTOCOLS = ("intra", "zero-shot", "few-shot")


@dataclass
class ProtocolConfig:
    protocol: str = "zero-shot"
    """``intra``, ``zero-shot`` or ``few-shot``."""
    sports: list[str] | None = None
    """Sports in play; clips of other sports are dropped. None: every sport in the data."""
    k: list[int] = field(default_factory=lambda: [1])
    """Leave-k-sports-out sizes, each in 1..n-1 (ignored when ``holdout`` names the sets)."""
    holdout: list[list[str]] | None = None
    """Named held-out sets, e.g. ``[[plank], [lunge, push-up]]``."""
    shots: int = 5
    """Few-shot: labelled clips of each held-out sport added to training."""
    test_fraction: float = 0.25
    """Share of each (sport, label) group tested: the intra split, and in-domain cells of zero/few-shot (0: none)."""
    seeds: list[int] = field(default_factory=lambda: [0])
    """One split (and one trained model) per seed."""
    eval_only_sources: list[str] = field(default_factory=lambda: ["gym_exercise_correction_vn"])
    """Sample sources never used for training (evaluation only)."""
    subject_folds: int = 0
    """Zero/few-shot: 0 = clips split by sport only; F >= 2 = also subject-disjoint, F splits per held-out set."""

    def __post_init__(self) -> None:
        self.protocol = self.protocol.strip().lower().replace("_", "-")
        if self.protocol == "zeroshot":
            self.protocol = "zero-shot"
        if self.protocol not in PROTOCOLS:
            raise UsageError(f"unknown protocol {self.protocol!r} (choose from {', '.join(PROTOCOLS)})")
        if not 0.0 <= self.test_fraction < 1.0:
            raise UsageError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if self.shots < 0:
            raise UsageError(f"shots must be >= 0, got {self.shots}")
        if not self.seeds:
            raise UsageError("seeds must name at least one seed")
        self.subject_folds = int(self.subject_folds)
        if self.subject_folds == 1 or self.subject_folds < 0:
            raise UsageError(f"subject_folds must be 0 (off) or >= 2, got {self.subject_folds}")
        if self.subject_folds and self.protocol == "intra":
            raise UsageError("subject_folds applies to the cross-sport protocols (zero-shot, few-shot), not intra")
        self.seeds = [int(s) for s in self.seeds]
        self.k = [int(x) for x in ([self.k] if isinstance(self.k, int) else self.k)]
        if self.sports is not None:
            self.sports = [str(s) for s in self.sports]
        if self.holdout is not None:
            self.holdout = [[str(s) for s in ([h] if isinstance(h, str) else h)] for h in self.holdout]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> ProtocolConfig:
        """From a YAML file (or defaults when ``path`` is None), then ``overrides`` that are not None."""
        from crosstrainer.yamlio import read_yaml_mapping

        data = read_yaml_mapping(path, "protocol config") if path is not None else {}
        data.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"unknown protocol setting(s) {unknown} (known: {sorted(known)})")
        return cls(**data)


@dataclass
class Split:
    """One train/test partition (sample ids only). ``heldout``: the sports no training clip shows (few-shot aside)."""

    id: str
    protocol: str
    seed: int
    heldout: list[str]
    train_sports: list[str]
    train_ids: list[str]
    test_ids: list[str]
    shot_ids: list[str] = field(default_factory=list)
    subject_fold: str = ""
    """``"1of2"`` in a subject-disjoint protocol (its test people never train), else empty."""

    @property
    def folder_name(self) -> str:
        """``zero-shot__holdout-bicep_curl__seed0``: a safe folder name for the split's outputs."""
        held = "+".join(self.heldout) or "none"
        slug = "".join(c if c.isalnum() or c in "+-" else "_" for c in held)
        fold = f"__subjects{self.subject_fold}" if self.subject_fold else ""
        return f"{self.protocol}__holdout-{slug}__seed{self.seed}{fold}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stratified_split(samples: list[Sample], test_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Hold out ``test_fraction`` of the clips of every (sport, label) group, at least one when a group has 3+."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple, list[Sample]] = {}
    for s in samples:
        groups.setdefault((s.sport, s.meta.get("label")), []).append(s)
    train, test = [], []
    for key in sorted(groups, key=str):
        items = groups[key]
        order = rng.permutation(len(items))
        n_test = round(test_fraction * len(items)) if len(items) >= 3 else 0
        n_test = max(n_test, 1) if len(items) >= 3 else 0
        test += [items[i] for i in order[:n_test]]
        train += [items[i] for i in order[n_test:]]
    return train, test


def _stratified(samples: list[Sample], fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    if fraction <= 0:
        return list(samples), []
    return stratified_split(samples, fraction, seed)


def _shots(samples: list[Sample], shots: int, seed: int) -> list[Sample]:
    """``shots`` clips balanced over labels (round robin over labels, random order within a label)."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[Sample]] = {}
    for s in samples:
        by_label.setdefault(str(s.meta.get("label", s.proficiency)), []).append(s)
    queues = {lab: [items[i] for i in rng.permutation(len(items))] for lab, items in sorted(by_label.items())}
    out: list[Sample] = []
    while len(out) < shots and any(queues.values()):
        for lab in sorted(queues):
            if queues[lab] and len(out) < shots:
                out.append(queues[lab].pop())
    return out


def heldout_sets(all_sports: list[str], cfg: ProtocolConfig) -> list[list[str]]:
    """The held-out sport sets of a zero/few-shot protocol: ``cfg.holdout`` or every k-combination."""
    if cfg.holdout is not None:
        for h in cfg.holdout:
            missing = [s for s in h if s not in all_sports]
            if missing or not h:
                raise UsageError(f"held-out set {h} names sports not in the data: {missing} (sports: {all_sports})")
        return [list(h) for h in cfg.holdout]
    n = len(all_sports)
    for k in cfg.k:
        if not 1 <= k <= n - 1:
            raise UsageError(f"leave-k-out needs 1 <= k <= {n - 1} with {n} sports ({all_sports}), got k={k}")
    return [list(c) for k in cfg.k for c in itertools.combinations(all_sports, k)]


def make_splits(samples: list[Sample], cfg: ProtocolConfig, log: Any = print) -> list[Split]:
    """All splits of ``cfg`` over ``samples`` (see the module docstring); splits that cannot train are skipped
    with a logged note (every trainable sport held out; few-shot of a sport without trainable clips)."""
    all_sports = sorted({s.sport for s in samples if s.sport})
    if cfg.sports is not None:
        missing = [s for s in cfg.sports if s not in all_sports]
        if missing:
            raise UsageError(f"sports {missing} are not in the data (sports found: {all_sports})")
        all_sports = [s for s in all_sports if s in cfg.sports]
    pool = [s for s in samples if s.sport in all_sports]
    if not pool:
        raise UsageError("no samples with a sport to evaluate (the protocols need Sample.sport)")
    eval_only = [s for s in pool if s.source in cfg.eval_only_sources]
    trainable = [s for s in pool if s.source not in cfg.eval_only_sources]
    if not trainable:
        raise UsageError(f"every sample is from an evaluation-only source {cfg.eval_only_sources}: nothing to train on")
    splits: list[Split] = []
    for seed in cfg.seeds:
        if cfg.protocol == "intra":
            train, test = _stratified(trainable, cfg.test_fraction or 0.25, seed)
            splits.append(_make("intra", seed, [], train, test + eval_only, []))
            continue
        if len(all_sports) < 2:
            raise UsageError(f"cross-sport protocols need at least 2 sports, the data has {all_sports}")
        folds = subject_folds(pool, cfg.subject_folds, seed) if cfg.subject_folds else [None]
        for held in heldout_sets(all_sports, cfg):
            for f, test_people in enumerate(folds):
                rest = [s for s in trainable if s.sport not in held and not _in(s, test_people, False)]
                if not rest:
                    log(f"note: skipping held-out {held}: no trainable clips of any other sport")
                    continue
                if test_people is None:
                    train, in_domain = _stratified(rest, cfg.test_fraction, seed)
                else:  # in-domain test clips come from the fold's own people, who never train
                    own = [s for s in trainable if s.sport not in held and _in(s, test_people, False)]
                    train, in_domain = rest, _stratified(own, cfg.test_fraction, seed)[1]
                unseen = [s for s in trainable if s.sport in held]
                shots: list[Sample] = []
                if cfg.protocol == "few-shot":
                    no_clips = [h for h in held if not any(s.sport == h for s in unseen)]
                    if no_clips:
                        log(f"note: skipping few-shot held-out {held}: no trainable clips of {no_clips} for shots")
                        continue
                    for h in held:
                        shots += _shots(
                            [s for s in unseen if s.sport == h and not _in(s, test_people, False)], cfg.shots, seed
                        )
                    shot_ids = {s.id for s in shots}
                    unseen = [s for s in unseen if s.id not in shot_ids]
                unseen = [s for s in unseen if _in(s, test_people, True)]
                fold = f"{f + 1}of{len(folds)}" if test_people is not None else ""
                test = unseen + in_domain + [s for s in eval_only if _in(s, test_people, True)]
                splits.append(_make(cfg.protocol, seed, held, train + shots, test, shots, fold))
    return splits


def _in(sample: Sample, people: set[str] | None, otherwise: bool) -> bool:
    """Whether ``sample``'s person is one of ``people`` (``otherwise`` when the split is not subject-disjoint)."""
    return otherwise if people is None else person(sample) in people


def person(sample: Sample) -> str:
    """Who is in the clip: ``source/participant``, or the clip's own id when the source names nobody."""
    return f"{sample.source}/{sample.participant}" if sample.participant else f"clip:{sample.id}"


def subject_folds(samples: list[Sample], n_folds: int, seed: int) -> list[set[str]]:
    """The people of ``samples`` (see :func:`person`) dealt into ``n_folds`` seeded folds, source by source, so each
    fold gets its share of every source's people (5 + 5 of UI-PRMD's 10 subjects, not 1 + 9).

    >>> from crosstrainer.data.sample import Sample
    >>> s = [Sample(id=f"c{i}", source="d", participant=f"p{i % 4}") for i in range(8)]
    >>> s += [Sample(id=f"x{i}", source="e") for i in range(3)]
    >>> [sorted(p for p in f if p.startswith("d/")) != [] for f in subject_folds(s, 2, seed=0)]
    [True, True]
    >>> [len(f) for f in subject_folds(s, 2, seed=0)]
    [4, 3]
    """
    by_source: dict[str, set[str]] = {}
    for s in samples:
        by_source.setdefault(s.source if s.participant else f"clip:{s.source}", set()).add(person(s))
    n_people = sum(len(v) for v in by_source.values())
    if n_people < n_folds:
        raise UsageError(f"subject_folds={n_folds} needs at least {n_folds} people, the data has {n_people}")
    rng = np.random.default_rng(seed)
    folds: list[set[str]] = [set() for _ in range(n_folds)]
    offset = 0
    for key in sorted(by_source):
        people = sorted(by_source[key])
        for j, i in enumerate(rng.permutation(len(people))):
            folds[(offset + j) % n_folds].add(people[i])
        offset += len(people)
    return folds


def _make(
    protocol: str,
    seed: int,
    held: list[str],
    train: list[Sample],
    test: list[Sample],
    shots: list[Sample],
    fold: str = "",
) -> Split:
    name = f"{protocol}/holdout={'+'.join(held) or 'none'}/seed={seed}" + (f"/subjects={fold}" if fold else "")
    return Split(
        id=name,
        protocol=protocol,
        seed=seed,
        heldout=list(held),
        train_sports=sorted({s.sport for s in train if s.sport and s.sport not in held}),
        train_ids=[s.id for s in train],
        test_ids=[s.id for s in test],
        shot_ids=[s.id for s in shots],
        subject_fold=fold,
    )


def report_group(sample: Sample, eval_only_sources: list[str], trainable_sports: set[str]) -> str:
    """The column a test clip is reported under: its sport, or ``"plank (gym_exercise_correction_vn)"`` for an
    evaluation-only clip of a sport that trainable sources also have (another camera, people and labeller)."""
    sport = sample.sport or "?"
    if sample.source in eval_only_sources and sport in trainable_sports:
        return f"{sport} ({sample.source})"
    return sport
