"""Leave-one-set-out (LOSO) measurement of a learned comment-level praise gate for the offline extractor (not shipped).

The gate: logistic regression "praise only (corrects nothing)" vs "corrects something" on the MiniLM embedding of
the whole comment (``crosstrainer.text.embed``); when P(praise only) >= 0.8 (fixed, never tuned) the comment gets
praise and no attribute. Labels from the fixtures: 1 = ``praise`` true and ``faults`` empty, 0 = ``faults`` not
empty; neutral comments (no praise, no fault) are left out. For each of the five labelled sets (dev, seen, blind,
blind2, blind3), the gate is trained on the other four and applied to the extractor's output on the held-out set
(the gate overrides a whole comment, so this equals running it inside the extractor; checked once against an
in-extractor version, same numbers), scored by ``benchmarks/bench_discover.py``. The current rules were patched on
blind2's errors, so blind2 and blind3 are also scored with the extractor before those patches (``4818fab``).

Variants, in the order they were tried (each after seeing the previous one's held-out rows):

* ``emb+rules`` (fixed in advance): embedding plus four rule features of the extractor (a corrective clause, an
  instruction, a praise clause, a contrast word), ``C=1``;
* ``emb``: embedding only, ``C=1``;
* ``emb, C nested``: embedding only, ``C`` from (1, 10, 100) picked inside the four training sets (LOSO over them:
  praise-only comments gated minus 5 x correcting comments gated), so the held-out set never picks it.

The rule features are those of the current extractor, whose rules were patched on blind2's errors: ``emb+rules``
on blind2 with ``4818fab`` is not blind.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/praise_gate_loso.py [--json /tmp/loso.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 0.8
C_GRID = (1.0, 10.0, 100.0)
COST = 5
SEED = 0
PRE_BLIND2 = "4818fab"
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _bench():
    spec = importlib.util.spec_from_file_location("bench_discover", ROOT / "benchmarks" / "bench_discover.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def rule_features(text: str) -> list[float]:
    """Corrective clause, instruction, praise clause, contrast word (0 / 1), as the current extractor reads them."""
    from crosstrainer.discover import offline as o

    read = o.read_clauses(text)
    kinds = [(kind, cue) for _, kind, cue, _ in o.praise_scope(read)]
    return [
        float(any(k == "correct" for k, _ in kinds)),
        float(any(c == "instruction" for _, c in kinds)),
        float(any(k == "praise" for k, _ in kinds)),
        float(bool(o.CONTRAST_WORDS & set(o.split_words(text)))),
    ]


def labels(rows: list[dict]) -> np.ndarray:
    """1 praise only, 0 corrects something, -1 neutral (left out)."""
    return np.asarray([(1 if r["praise"] else -1) if not r["faults"] else 0 for r in rows])


def fit(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    keep = y >= 0
    return LogisticRegression(C=c, solver="lbfgs", max_iter=5000, random_state=SEED).fit(x[keep], y[keep])


def pick_c(feats: dict[str, np.ndarray], ys: dict[str, np.ndarray], names: list[str]) -> float:
    """``C`` of ``C_GRID`` with the most praise-only minus ``COST`` x correcting comments gated, LOSO over ``names``."""
    gains = {}
    for c in C_GRID:
        gains[c] = 0
        for inner in names:
            rest = [n for n in names if n != inner]
            clf = fit(np.vstack([feats[n] for n in rest]), np.concatenate([ys[n] for n in rest]), c)
            flip = clf.predict_proba(feats[inner])[:, 1] >= THRESHOLD
            gains[c] += int((flip & (ys[inner] == 1)).sum()) - COST * int((flip & (ys[inner] == 0)).sum())
    return max(C_GRID, key=lambda c: (gains[c], -c))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, default=None, help="Also write the table here.")
    args = ap.parse_args(argv)
    np.random.seed(SEED)

    from crosstrainer.discover import DiscoverConfig
    from crosstrainer.discover.offline import OfflineExtractor
    from crosstrainer.text import embed

    bench = _bench()
    cfg = DiscoverConfig(min_count=1)
    sets = {name: bench.load_labelled(path) for name, path in bench.SETS.items()}
    emb = {n: np.asarray(embed([r["text"] for r in rows]), dtype=np.float64) for n, rows in sets.items()}
    rules = {n: np.asarray([rule_features(r["text"]) for r in rows]) for n, rows in sets.items()}
    variants = {
        "emb+rules": ({n: np.hstack([emb[n], rules[n]]) for n in sets}, 1.0),
        "emb": (emb, 1.0),
        "emb, C nested": (emb, None),
    }
    ys = {n: labels(rows) for n, rows in sets.items()}
    current = OfflineExtractor(cfg)
    bench.BASELINE_COMMIT = PRE_BLIND2
    old = bench.baseline_extractor_class()(cfg)
    keys = ("precision", "recall", "n_praise_as_fault", "n_praise_comments")
    table = []
    for held, rows in sets.items():
        train = [n for n in sets if n != held]
        bases = {"current": bench.predict(current, rows, cfg)}
        if held in ("blind2", "blind3"):
            bases[PRE_BLIND2] = bench.predict(old, rows, cfg)
        for base_name, base in bases.items():
            s = bench.score(rows, base)
            table.append({"held_out": held, "extractor": base_name, "gate": "none", **{k: s[k] for k in keys}})
            for v_name, (feats, c) in variants.items():
                c = c or pick_c(feats, ys, train)
                clf = fit(np.vstack([feats[n] for n in train]), np.concatenate([ys[n] for n in train]), c)
                flip = clf.predict_proba(feats[held])[:, 1] >= THRESHOLD
                preds = [{"attributes": [], "praise": True, "evidence": {}} if f else p for f, p in zip(flip, base)]
                s = bench.score(rows, preds)
                wrong = flip & (ys[held] == 0)
                table.append(
                    {
                        "held_out": held,
                        "extractor": base_name,
                        "gate": f"{v_name} (C={c:g})",
                        **{k: s[k] for k in keys},
                        "gated": int(flip.sum()),
                        "gated_correcting": [r["text"] for r, w in zip(rows, wrong) if w],
                    }
                )
    print(f"{'held out':8} {'extractor':9} {'gate':26} {'prec':>6} {'recall':>6} {'praise->fault':>10} {'gated':>12}")
    for t in table:
        paf = f"{t['n_praise_as_fault']}/{t['n_praise_comments']}"
        g = f"{t['gated']} ({len(t['gated_correcting'])} corr.)" if "gated" in t else ""
        print(
            f"{t['held_out']:8} {t['extractor']:9} {t['gate']:26} {t['precision']:>6.3f} {t['recall']:>6.3f} "
            f"{paf:>13} {g:>12}"
        )
    print("Each gate is trained on the other four sets only (emb+rules on blind2 uses rules patched on blind2).")
    if args.json:
        args.json.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
