"""Benchmark the offline discover extractor on hand-labelled coaching comments (a script, not a test).

Inputs, hand-labelled comments (fitness, diving, climbing, ball sports), one JSON object a line:

* ``dev``: ``tests/fixtures/coaching_dev.jsonl`` (44 comments), the first tuning set;
* ``seen``: ``tests/fixtures/coaching_heldout.jsonl`` (114 comments), written as the held-out set of the first
  version; its errors were looked at after that, so it became tuning material too (reported as ``seen``);
* ``blind``: ``tests/fixtures/coaching_blind.jsonl`` (127 comments), written and committed (``ab4be22``) before the
  second round of tuning, which used only the errors of ``dev`` and ``seen``.
* ``blind2``: ``tests/fixtures/coaching_blind2.jsonl`` (149 comments), written by a separate writer who never read the
  extractor, its lexicons or the earlier sets (only the vocabulary's names and definitions), and committed before
  any run.
* ``blind3``: ``tests/fixtures/coaching_blind3.jsonl`` (158 comments), written by a third separate writer who never read
  the extractor, its lexicons, the earlier sets or the commit messages (only the vocabulary's names and definitions),
  and committed before any run.
* ``blind4``: ``tests/fixtures/coaching_blind4.jsonl`` (162 comments), written by a fourth separate writer under the
  same rules (only the seed vocabulary's names and definitions), and committed before any run.

Each line::

    {"id": "h001", "sport": "fitness", "text": "...", "faults": [["knee alignment"], ["footwork", "balance"]],
     "praised": [["range of motion"]], "praise": true}

``faults`` lists the faults the comment corrects, each as the vocabulary names a careful labeller accepts for it
(overlapping seed attributes such as ``posture`` / ``trunk control``); ``praised`` the attributes it praises;
``praise`` whether it praises anything at all.

Systems, run in the same process on the same comments, through extraction and canonicalisation (``min_count: 1``):

* ``cue-words (baseline)``: the offline extractor before issue 14 (``crosstrainer/discover/offline.py`` at commit
  ``BASELINE_COMMIT``, read with ``git show``), which drops every clause without a lexicon cue word;
* ``offline (current)``: the offline extractor of this working tree.

Metrics, per set:

* **precision**: predicted attributes that are one of the accepted names of a labelled fault / all predicted;
* **recall**: labelled faults with at least one accepted name predicted / all labelled faults;
* **praise-as-fault**: comments that praise something where a praised attribute (not also a labelled fault), or
  anything at all in a comment with no fault, is predicted as something to improve / comments that praise;
* **neutral-with-attribute**: comments that neither praise nor correct but get an attribute / such comments.

    .venv/bin/python benchmarks/bench_discover.py [--json benchmarks/results/discover.json]
    .venv/bin/python benchmarks/bench_discover.py --sets dev seen --show-errors dev seen --json /tmp/d.json  # tuning
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SETS = {
    "dev": FIXTURES / "coaching_dev.jsonl",
    "seen": FIXTURES / "coaching_heldout.jsonl",
    "blind": FIXTURES / "coaching_blind.jsonl",
    "blind2": FIXTURES / "coaching_blind2.jsonl",
    "blind3": FIXTURES / "coaching_blind3.jsonl",
    "blind4": FIXTURES / "coaching_blind4.jsonl",
}
BASELINE_COMMIT = "da7b70b"
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_labelled(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def baseline_extractor_class() -> type:
    """``OfflineExtractor`` as it was at ``BASELINE_COMMIT`` (the cue-word extractor)."""
    src = subprocess.run(
        ["git", "show", f"{BASELINE_COMMIT}:src/crosstrainer/discover/offline.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType("crosstrainer_discover_offline_baseline")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(src, f"offline.py@{BASELINE_COMMIT}", "exec"), module.__dict__)
    return module.OfflineExtractor


def predict(extractor: Any, rows: list[dict[str, Any]], cfg: Any) -> list[dict[str, Any]]:
    """Canonical attributes and praise flag per labelled comment."""
    from crosstrainer.attributes.canonicalize import canonicalize
    from crosstrainer.discover import Item

    items = [Item(r["id"], r["text"], r.get("sport")) for r in rows]
    extractions = extractor.extract(items)
    _, names = canonicalize(items, extractions, cfg, seed=extractor.seed)
    return [
        {"attributes": n, "praise": bool(e.praise and not n), "evidence": e.evidence}
        for e, n in zip(extractions, names, strict=True)
    ]


def score(rows: list[dict[str, Any]], preds: list[dict[str, Any]]) -> dict[str, Any]:
    n_pred = n_pred_ok = n_faults = n_found = 0
    n_praise = n_paf = n_neutral = n_neutral_bad = 0
    errors = []
    for row, pred in zip(rows, preds, strict=True):
        got = set(pred["attributes"])
        fault_names = {a for alts in row["faults"] for a in alts}
        praised = {a for alts in row["praised"] for a in alts} - fault_names
        ok = got & fault_names
        n_pred += len(got)
        n_pred_ok += len(ok)
        n_faults += len(row["faults"])
        found = sum(bool(got & set(alts)) for alts in row["faults"])
        n_found += found
        paf = False
        if row["praise"]:
            n_praise += 1
            paf = bool(got & praised) or (not row["faults"] and bool(got))
            n_paf += paf
        if not row["praise"] and not row["faults"]:
            n_neutral += 1
            n_neutral_bad += bool(got)
        if got - fault_names or found < len(row["faults"]) or paf:
            errors.append(
                {
                    "id": row["id"],
                    "text": row["text"],
                    "got": sorted(got),
                    "want": row["faults"],
                    "praise_as_fault": paf,
                }
            )
    return {
        "n_comments": len(rows),
        "n_faults": n_faults,
        "n_predicted": n_pred,
        "precision": round(n_pred_ok / n_pred, 3) if n_pred else 0.0,
        "recall": round(n_found / n_faults, 3) if n_faults else 0.0,
        "n_praise_comments": n_praise,
        "praise_as_fault": round(n_paf / n_praise, 3) if n_praise else 0.0,
        "n_praise_as_fault": n_paf,
        "n_neutral": n_neutral,
        "neutral_with_attribute": n_neutral_bad,
        "errors": errors,
    }


def per_sport(rows: list[dict[str, Any]], preds: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out = {}
    for sport in sorted({r["sport"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["sport"] == sport]
        s = score([rows[i] for i in idx], [preds[i] for i in idx])
        out[sport] = {k: s[k] for k in ("n_comments", "precision", "recall", "praise_as_fault")}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "discover.json")
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--show-errors", nargs="*", default=[], help="Print the misses of these sets (current system).")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args(argv)

    from crosstrainer.discover import DiscoverConfig
    from crosstrainer.discover.offline import OfflineExtractor

    cfg = DiscoverConfig(min_count=1)
    systems: dict[str, Any] = {"offline (current)": OfflineExtractor(cfg)}
    if not args.no_baseline:
        systems = {"cue-words (baseline)": baseline_extractor_class()(cfg), **systems}
    results: dict[str, Any] = {"sets": {}, "config": cfg.model_dump(exclude={"cache_dir"})}
    for set_name in args.sets:
        rows = load_labelled(SETS[set_name])
        results["sets"][set_name] = {"file": str(SETS[set_name].relative_to(ROOT)), "systems": {}}
        for sys_name, extractor in systems.items():
            t0 = time.perf_counter()
            preds = predict(extractor, rows, cfg)
            s = score(rows, preds)
            s["seconds"] = round(time.perf_counter() - t0, 2)
            s["per_sport"] = per_sport(rows, preds)
            results["sets"][set_name]["systems"][sys_name] = s

    head = f"{'set':8} {'system':22} {'n':>4} {'faults':>6} {'prec':>6} {'recall':>6}"
    print(f"{head} {'praise->fault':>14} {'neutral+':>8}")
    for set_name, block in results["sets"].items():
        for sys_name, s in block["systems"].items():
            paf = f"{s['praise_as_fault']:.3f} ({s['n_praise_as_fault']}/{s['n_praise_comments']})"
            print(
                f"{set_name:8} {sys_name:22} {s['n_comments']:>4} {s['n_faults']:>6} {s['precision']:>6.3f} "
                f"{s['recall']:>6.3f} {paf:>14} {s['neutral_with_attribute']:>3}/{s['n_neutral']}"
            )
    for set_name in args.show_errors:
        for e in results["sets"][set_name]["systems"]["offline (current)"]["errors"]:
            print(f"  {e['id']} {'PRAISE-AS-FAULT ' if e['praise_as_fault'] else ''}{e['text']!r}")
            print(f"       got {e['got']}  want {e['want']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        print(f"-> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
