"""Leave-one-set-out (LOSO) measurement of a learned clause-level praise gate for the offline extractor.

The gate looks at each clause the extractor turns into a fault (attributes to improve) and, when a logistic
regression gives P(praise / a good state) >= a threshold, drops that clause's attributes (the comment keeps the
attributes of its other clauses). Only the five labelled sets are used: dev, seen, blind, blind2, blind3.

Clause labels come from the comment labels, with the clauses read as the current extractor reads them:

* praise (1): every clause of a praise-only comment (``praise`` true, no fault) that is about the body or the
  technique (a body or technique word) and that the extractor's clause rules (``classify``) do not call ``none``,
  whatever kind they give it (praise, correct, maybe), whether or not the current rules rescue it (only taking
  clauses the rules call ``correct`` / ``maybe`` gave 24 praise clauses in all five sets, counted before any gate
  was run, too few);
* fault (0): a clause of a comment with faults that the extractor turns into attributes of which one is an accepted
  name of a labelled fault;
* with ``--labels wide`` (the default; the second round, see below), also praise (1): in a comment that praises and
  corrects, a clause the extractor turns into attributes that are all praised (not faults) in the labels, and a
  clause the extractor reads as praise (after praise scope) about the body or the technique;
* anything else is left out of training.

Features (all from the clause's words, its ``match`` tokens as the extractor embeds them):

* ``emb``: the bundled MiniLM embedding of the clause (``crosstrainer.text.embed``);
* ``memb``: the same with body words, technique words and one-word seed synonyms replaced by ``it`` (topic removed);
* ``ngrams``: binary word 1-2 grams of the masked clause (``min_df`` 2 in the training sets);
* ``proto`` (third round): the clause's best cosine to the extractor's praise prototypes, to its correction
  prototypes, and their difference (the extractor's own ``EMB_MARGIN`` signal);
* ``rules``: the extractor's own signals: raw clause kind and cue, opens after a turn, clause before praises (after
  praise scope), comment praises / has a contrast word / has an instruction, negator, good state, praise and
  correction cue counts, first clause, one-clause comment.

Model: ``StandardScaler`` + ``LogisticRegression(class_weight="balanced")``. ``C`` in (0.1, 1, 10) and the threshold
in (0.5, 0.7, 0.9) are picked by an inner LOSO over the four training sets only (praise clauses gated minus
``COST`` x fault clauses gated, on the labelled clauses of each inner held-out set); the outer held-out set never
picks anything. Variants, in the order tried: first round (labels ``praise-only``), all fixed in this file before
the first run: ``emb``, ``memb``, ``memb+ngrams``, ``memb+ngrams+rules``, ``ngrams+rules``; second round, the same
five with labels ``wide`` (chosen after the first round's held-out rows: more praise clauses); third round, after
both: ``proto+rules``, ``ngrams+rules+proto``. ``auc`` is the ROC AUC of P(praise) on the held-out set's labelled
clauses (a diagnostic only).

Each held-out set is scored by ``benchmarks/bench_discover.py`` (precision, recall, praise-as-fault) with the current
extractor and, for blind2 and blind3, with the extractor before the blind2 praise fixes (``4818fab``), whose rules
had not seen blind2 (the rule features are always the current extractor's, so ``rules`` variants on blind2 are not
blind). Pooled rows sum the counts of the five held-out sets (current extractor).

Result (not shipped): no variant lowers the pooled held-out praise-as-fault clearly. Pooled over the five held-out
sets (current extractor: 7/146 without a gate, all 7 on blind3) the best is ``ngrams+rules`` with labels
``praise-only``, 5/146 (blind3 7/50 -> 5/50, no recall lost), but the same variant with labels ``wide`` gives 6/146
and every other variant 6 or 7 of 146; blind3 stays at 10 to 14 % (target 5 %). The variants with an embedding
lose recall held out (``emb``: blind 0.991 -> 0.963, dev 1.000 -> 0.971; ``memb``: seen 0.989 -> 0.979). On
dev, seen, blind and blind2 the current rules already give 0 praise-as-fault (they were tuned on them), so only
blind3 (and blind2 with ``4818fab``: 10/33 -> 3 to 7/33 with the ``rules`` variants, not blind) can show a gain.
There are only 79 (``praise-only``) or 101 (``wide``) praise clauses in the five sets. Run at commit ``bf6c2fd``.

    # first round (labels praise-only), second round (labels wide), third round
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/praise_clause_loso.py --labels praise-only \
        --variants emb memb memb+ngrams memb+ngrams+rules ngrams+rules --json /tmp/clause_loso_r1.json
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/praise_clause_loso.py --labels wide \
        --variants emb memb memb+ngrams memb+ngrams+rules ngrams+rules --json /tmp/clause_loso_r2.json
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/praise_clause_loso.py --labels wide \
        --variants ngrams+rules proto+rules ngrams+rules+proto --json /tmp/clause_loso_r3.json

Each run takes about 3 to 5 minutes on 2 CPU cores.

``--test blind4`` trains each variant on all five sets and scores blind4, a fourth writer's set whose errors have
not been read (counts only are printed and written). Decided before that run: a gate would ship only if
``ngrams+rules`` with labels ``praise-only`` (the best pooled LOSO row) takes blind4's praise-as-fault from 16/56
to 13/56 or fewer, with recall and precision not lower by more than 0.01; the other variants are reported too.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/praise_clause_loso.py --test blind4 --labels praise-only
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from praise_gate_loso import _bench  # scripts/ is on sys.path when a script here runs

ROOT = Path(__file__).resolve().parents[1]
SET_NAMES = ("dev", "seen", "blind", "blind2", "blind3")
C_GRID = (0.1, 1.0, 10.0)
THRESHOLDS = (0.5, 0.7, 0.9)
COST = 5
SEED = 0
PRE_BLIND2 = "4818fab"
VARIANTS = (
    ("emb", ("emb",)),
    ("memb", ("memb",)),
    ("memb+ngrams", ("memb", "ngrams")),
    ("memb+ngrams+rules", ("memb", "ngrams", "rules")),
    ("ngrams+rules", ("ngrams", "rules")),
    # third round, added after the held-out rows of the first two were seen
    ("proto+rules", ("proto", "rules")),
    ("ngrams+rules+proto", ("ngrams", "rules", "proto")),
)
CUES = (
    "instruction",
    "correction cue",
    "correction cue beside praise",
    "body part + direction",
    "negated description of the body",
    "two sides compared",
)
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def read_clauses(text: str) -> list[dict[str, Any]]:
    """The comment's clauses as the current extractor reads them: tokens, turn, raw and scoped kind, cue, match."""
    from crosstrainer.discover import offline as o

    read = o.read_clauses(text)
    scoped = o.praise_scope(read)
    return [
        {"toks": r[0], "turn": r[1], "raw": r[2], "cue": r[3], "match": r[4], "kind": s[1]}
        for r, s in zip(read, scoped, strict=True)
    ]


def fault_clauses(extractor: Any, rows: list[dict[str, Any]]) -> tuple[list[Any], list[list[dict[str, Any]]]]:
    """The extractor's output and, per comment, the clauses it turned into attributes (tokens, match, names)."""
    from crosstrainer.discover import Item

    module = sys.modules[type(extractor).__module__]
    record: list[list[dict[str, Any]]] = [[] for _ in rows]
    original = extractor._attributes

    def spy(index, sims, tokens, threshold):
        picked = original(index, sims, tokens, threshold)
        frame = sys._getframe(1).f_locals  # extract()'s loop: the clause and the batch start
        c, start = frame["c"], frame["start"]
        names = [index.names[a] for a in picked]
        if not names and c.kind != "maybe":
            phrase = module.key_phrase(c.match)
            names = [phrase] if phrase else []
        if names:
            record[start + c.item].append({"toks": list(c.tokens), "match": list(c.match), "names": names})
        return picked

    extractor._attributes = spy
    try:
        ext = extractor.extract([Item(r["id"], r["text"], r.get("sport")) for r in rows])
    finally:
        del extractor._attributes
    for e, rec in zip(ext, record, strict=True):
        assert set(e.attributes) == {n for c in rec for n in c["names"]}, (e.attributes, rec)
    return ext, record


def mask(tokens: list[str], hints: set[str]) -> list[str]:
    from crosstrainer.discover import offline as o

    return ["it" if t in o.BODY_PARTS or t in o.TOPIC_WORDS or o._singular(t) in hints else t for t in tokens]


def rule_vector(clause: dict[str, Any], context: list[dict[str, Any]], text: str) -> list[float]:
    from crosstrainer.discover import offline as o

    toks = clause["toks"]
    pos = next((k for k, c in enumerate(context) if c["toks"] == toks), None)
    corr, praise = o.lexicon_scores(toks)
    return [
        float(clause.get("raw") == "correct"),
        float(clause.get("raw") == "maybe"),
        *[float(clause.get("cue") == cue) for cue in CUES],
        float(bool(clause.get("turn"))),
        float(pos is not None and pos > 0 and context[pos - 1]["kind"] == "praise"),
        float(any(c["kind"] == "praise" for c in context)),
        float(bool(o.CONTRAST_WORDS & set(o.split_words(text)))),
        float(any(c["cue"] == "instruction" for c in context)),
        float(any(o._is_negator(t) for t in toks)),
        float(o.good_state(toks)),
        min(praise, 3.0),
        min(corr, 3.0),
        float(pos == 0),
        float(len(context) == 1),
    ]


def examples(rows: list[dict[str, Any]], record: list[list[dict[str, Any]]], wide: bool) -> list[dict[str, Any]]:
    """Labelled training clauses of one set (see the module docstring; ``wide``: labels ``wide``)."""
    from crosstrainer.discover import offline as o

    out = []
    for i, row in enumerate(rows):
        context = read_clauses(row["text"])
        if row["praise"] and not row["faults"]:
            for c in context:
                about = any(t in o.TOPIC_WORDS or t in o.BODY_PARTS for t in c["toks"])
                if c["raw"] != "none" and about:
                    out.append({**c, "y": 1, "item": i, "rules": rule_vector(c, context, row["text"])})
        elif row["faults"]:
            accepted = {a for alts in row["faults"] for a in alts}
            praised = {a for alts in row["praised"] for a in alts} - accepted
            for rec in record[i]:
                names = set(rec["names"])
                if accepted & names:
                    y = 0
                elif wide and praised and names <= praised:  # a praised attribute read as a fault
                    y = 1
                else:
                    continue
                c = next((c for c in context if c["toks"] == rec["toks"]), {"toks": rec["toks"]})
                clause = {**c, "match": rec["match"], "y": y, "item": i}
                out.append({**clause, "rules": rule_vector(clause, context, row["text"])})
            if wide and row["praise"]:  # the praise clauses of a comment that also corrects
                recorded = [rec["toks"] for rec in record[i]]
                for c in context:
                    about = any(t in o.TOPIC_WORDS or t in o.BODY_PARTS for t in c["toks"])
                    if c["kind"] == "praise" and about and c["toks"] not in recorded:
                        out.append({**c, "y": 1, "item": i, "rules": rule_vector(c, context, row["text"])})
    return out


class Featurizer:
    """Feature blocks of clauses; the n-gram vocabulary is fitted on the training clauses."""

    def __init__(self, hints: set[str]) -> None:
        self.hints = hints
        self._cache: dict[str, np.ndarray] = {}

    def _embed(self, texts: list[str]) -> np.ndarray:
        from crosstrainer.text import embed

        todo = sorted({t for t in texts if t not in self._cache})
        if todo:
            for t, v in zip(todo, embed(todo), strict=True):
                self._cache[t] = np.asarray(v, dtype=np.float64)
        return np.vstack([self._cache[t] for t in texts]) if texts else np.zeros((0, 384))

    def fit(self, train: list[dict[str, Any]]) -> Featurizer:
        from sklearn.feature_extraction.text import CountVectorizer

        self.vec = CountVectorizer(binary=True, ngram_range=(1, 2), min_df=2, token_pattern=r"\S+", lowercase=False)
        self.vec.fit([" ".join(mask(c["match"], self.hints)) for c in train])
        return self

    def transform(self, clauses: list[dict[str, Any]], blocks: tuple[str, ...]) -> np.ndarray:
        parts = []
        if "emb" in blocks:
            parts.append(self._embed([" ".join(c["match"]) for c in clauses]))
        if "memb" in blocks:
            parts.append(self._embed([" ".join(mask(c["match"], self.hints)) for c in clauses]))
        if "ngrams" in blocks:
            parts.append(self.vec.transform([" ".join(mask(c["match"], self.hints)) for c in clauses]).toarray())
        if "rules" in blocks:
            parts.append(np.asarray([c["rules"] for c in clauses], dtype=np.float64))
        if "proto" in blocks:
            from crosstrainer.discover import offline as o

            sims = (
                self._embed([" ".join(c["match"]) for c in clauses])
                @ self._embed(o.PRAISE_PROTOTYPES + o.CORRECTION_PROTOTYPES).T
            )
            n = len(o.PRAISE_PROTOTYPES)
            good, bad = sims[:, :n].max(axis=1), sims[:, n:].max(axis=1)
            parts.append(np.stack([good, bad, bad - good], axis=1))
        return np.hstack(parts)


def fit_model(feat: Featurizer, train: list[dict[str, Any]], blocks: tuple[str, ...], c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    feat.fit(train)
    x, y = feat.transform(train, blocks), np.asarray([t["y"] for t in train])
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=SEED)
    return make_pipeline(StandardScaler(), lr).fit(x, y)


def pick(feat: Featurizer, ex: dict[str, list], names: list[str], blocks: tuple[str, ...]) -> tuple[float, float]:
    """``(C, threshold)`` with the most praise minus ``COST`` x fault clauses gated, LOSO over ``names`` only."""
    gains = {(c, t): 0 for c in C_GRID for t in THRESHOLDS}
    for inner in names:
        train = [e for n in names if n != inner for e in ex[n]]
        y = np.asarray([e["y"] for e in ex[inner]])
        for c in C_GRID:
            model = fit_model(feat, train, blocks, c)
            p = model.predict_proba(feat.transform(ex[inner], blocks))[:, 1]
            for t in THRESHOLDS:
                gains[(c, t)] += int(((p >= t) & (y == 1)).sum()) - COST * int(((p >= t) & (y == 0)).sum())
    return max(gains, key=lambda k: (gains[k], -k[0], k[1]))


def gated_predict(bench, ext, record, rows, cfg, probs, threshold):
    """Predictions with the attributes of clauses at or above ``threshold`` dropped (``probs`` per recorded clause)."""
    from crosstrainer.attributes.canonicalize import canonicalize
    from crosstrainer.discover import Item

    new, k, n_gated = [], 0, 0
    for e, rec in zip(ext, record, strict=True):
        keep: set[str] = set()
        for c in rec:
            if probs is None or probs[k] < threshold:
                keep.update(c["names"])
            else:
                n_gated += 1
            k += 1
        e2 = copy.copy(e)
        e2.attributes = [a for a in e.attributes if a in keep]
        e2.praise = bool(e.praise or (e.attributes and not e2.attributes))
        new.append(e2)
    items = [Item(r["id"], r["text"], r.get("sport")) for r in rows]
    _, names = canonicalize(items, new, cfg)
    preds = [{"attributes": n, "praise": bool(e.praise and not n), "evidence": {}} for e, n in zip(new, names)]
    return bench.score(rows, preds), n_gated


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, default=None, help="Also write the table here.")
    ap.add_argument("--variants", nargs="*", default=[v for v, _ in VARIANTS], help="Only these variants.")
    ap.add_argument("--labels", choices=("praise-only", "wide"), default="wide", help="Training clause labels.")
    ap.add_argument("--test", default=None, help="Train on all five sets and score this set instead (e.g. blind4).")
    args = ap.parse_args(argv)
    np.random.seed(SEED)
    t0 = time.perf_counter()

    from sklearn.metrics import roc_auc_score

    from crosstrainer.discover import DiscoverConfig
    from crosstrainer.discover.offline import OfflineExtractor

    bench = _bench()
    cfg = DiscoverConfig(min_count=1)
    sets = {n: bench.load_labelled(bench.SETS[n]) for n in SET_NAMES}
    current = OfflineExtractor(cfg)
    if args.test:
        return test_run(bench, cfg, current, sets, args)
    bench.BASELINE_COMMIT = PRE_BLIND2
    old = bench.baseline_extractor_class()(cfg)
    runs = {n: {"current": fault_clauses(current, rows)} for n, rows in sets.items()}
    for n in ("blind2", "blind3"):
        runs[n][PRE_BLIND2] = fault_clauses(old, sets[n])
    ex = {n: examples(sets[n], runs[n]["current"][1], args.labels == "wide") for n in SET_NAMES}
    for n in SET_NAMES:
        print(f"{n}: {sum(e['y'] for e in ex[n])} praise clauses, {sum(1 - e['y'] for e in ex[n])} fault clauses")
    feat = Featurizer(set(current._seed_index().hints))

    table = []
    for held in SET_NAMES:
        rows = sets[held]
        train_sets = [n for n in SET_NAMES if n != held]
        for base, (ext, record) in runs[held].items():
            s, _ = gated_predict(bench, ext, record, rows, cfg, None, 1.0)
            table.append({"held_out": held, "extractor": base, "gate": "none", "score": s, "gated": 0})
        for v_name, blocks in VARIANTS:
            if v_name not in args.variants:
                continue
            c, thr = pick(feat, ex, train_sets, blocks)
            model = fit_model(feat, [e for n in train_sets for e in ex[n]], blocks, c)
            y_held = [e["y"] for e in ex[held]]
            auc = roc_auc_score(y_held, model.predict_proba(feat.transform(ex[held], blocks))[:, 1])
            for base, (ext, record) in runs[held].items():
                clauses = [{"match": r["match"], **_context(r, rows[i])} for i, rec in enumerate(record) for r in rec]
                probs = model.predict_proba(feat.transform(clauses, blocks))[:, 1] if clauses else np.zeros(0)
                s, n_gated = gated_predict(bench, ext, record, rows, cfg, probs, thr)
                row = {"held_out": held, "extractor": base, "gate": f"{v_name} (C={c:g}, t={thr:g})", "score": s}
                table.append({**row, "gated": n_gated, "auc": round(float(auc), 3)})
            print(f"  {held} {v_name} done ({time.perf_counter() - t0:.0f} s)", flush=True)

    print(
        f"{'held out':8} {'extractor':9} {'gate':34} {'prec':>6} {'recall':>6} {'praise->fault':>13} "
        f"{'gated':>5} {'auc':>5}"
    )
    for t in table:
        s = t["score"]
        paf = f"{s['n_praise_as_fault']}/{s['n_praise_comments']}"
        print(
            f"{t['held_out']:8} {t['extractor']:9} {t['gate']:34} {s['precision']:>6.3f} {s['recall']:>6.3f} "
            f"{paf:>13} {t['gated']:>5} {t.get('auc', ''):>5}"
        )
    print("pooled over the five held-out sets (current extractor):")
    for gate in dict.fromkeys(t["gate"].split(" (")[0] for t in table):
        rows_ = [t["score"] for t in table if t["extractor"] == "current" and t["gate"].split(" (")[0] == gate]
        n_pred = sum(s["n_predicted"] for s in rows_)
        ok = sum(round(s["precision"] * s["n_predicted"]) for s in rows_)
        faults = sum(s["n_faults"] for s in rows_)
        found = sum(round(s["recall"] * s["n_faults"]) for s in rows_)
        paf = sum(s["n_praise_as_fault"] for s in rows_)
        n_praise = sum(s["n_praise_comments"] for s in rows_)
        print(f"  {gate:22} {ok / n_pred:.3f} {found / faults:.3f} {paf}/{n_praise} = {paf / n_praise:.3f}")
    if args.json:
        for t in table:
            t["score"] = {k: v for k, v in t["score"].items() if k != "errors"} | {
                "praise_as_fault_texts": [e["text"] for e in t["score"]["errors"] if e["praise_as_fault"]]
            }
        args.json.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


def test_run(bench: Any, cfg: Any, current: Any, sets: dict[str, list[dict[str, Any]]], args: Any) -> int:
    """Train each variant on all five sets (``C`` and threshold by LOSO inside them) and score ``args.test``."""
    rows = bench.load_labelled(bench.SETS[args.test])
    runs = {n: fault_clauses(current, r)[1] for n, r in sets.items()}
    ex = {n: examples(sets[n], runs[n], args.labels == "wide") for n in SET_NAMES}
    feat = Featurizer(set(current._seed_index().hints))
    ext, record = fault_clauses(current, rows)
    s, _ = gated_predict(bench, ext, record, rows, cfg, None, 1.0)
    table = [{"test": args.test, "gate": "none", "score": s, "gated": 0}]
    for v_name, blocks in VARIANTS:
        if v_name not in args.variants:
            continue
        c, thr = pick(feat, ex, list(SET_NAMES), blocks)
        model = fit_model(feat, [e for n in SET_NAMES for e in ex[n]], blocks, c)
        clauses = [{"match": r["match"], **_context(r, rows[i])} for i, rec in enumerate(record) for r in rec]
        probs = model.predict_proba(feat.transform(clauses, blocks))[:, 1] if clauses else np.zeros(0)
        s, n_gated = gated_predict(bench, ext, record, rows, cfg, probs, thr)
        table.append({"test": args.test, "gate": f"{v_name} (C={c:g}, t={thr:g})", "score": s, "gated": n_gated})
    for t in table:
        s = t["score"]
        print(f"{t['test']:8} {t['gate']:34} {s['precision']:>6.3f} {s['recall']:>6.3f} "
              f"{s['n_praise_as_fault']}/{s['n_praise_comments']} gated {t['gated']}")  # fmt: skip
    if args.json:  # counts only: the test set's errors stay unread
        for t in table:
            t["score"] = {k: v for k, v in t["score"].items() if k != "errors"}
        args.json.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    return 0


def _context(rec: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Rule features of a recorded fault clause of a held-out comment, read from that comment only."""
    context = read_clauses(row["text"])
    c = next((c for c in context if c["toks"] == rec["toks"]), {"toks": rec["toks"]})
    return {"rules": rule_vector(c, context, row["text"])}


if __name__ == "__main__":
    sys.exit(main())
