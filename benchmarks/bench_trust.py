"""Benchmark trust: is anything shown to a user nonsense, and are the verdict's probabilities honest? (a script)

Inputs, each through ``Assessor.assess_pose`` and the default model:

- **fuzz**: the corpus of ``tests/test_nonsense.py`` (random walks, a static pose, one joint only, a 0.3 s clip, an
  upside-down, a mirrored and a 90-degree-rotated real clip, a 10-minute looped clip, push-ups, hostile sports);
- **held-out real movements** (labelled): ``exercise_correction`` clips the model held out (``heldout_ids`` of its
  manifest), UI-PRMD repetitions of subjects s09/s10 (held out of training), ``gym_exercise_correction_vn``
  push-up (never trained on) and plank. The full pipeline (LLM included) runs on a small sample per movement and
  label (``--per-label``); the verdict alone (no LLM, cheap) on every clip of these groups, for calibration.

Measured per group, in one run:

- the share of assessments holding a **non-word or a token run** anywhere shown to the user (feedback, attribute
  names, definitions and measurements, warnings, confidence reasons): ``check_text`` rejects a line (non-words over
  its allowance, a repeated token or n-gram, characters outside prose), and, stricter, any unknown word at all.
  Target: 0;
- the share of feedback lines from the model (checked Stage-II text) vs grounded in a measurement;
- the share of ``confidence: low``;
- on the labelled groups, the expected calibration error (ECE, 10 bins) of the verdict before (softmax of the raw
  logits: ``head.predict_proba(calibrated=False)``) and after calibration (the probabilities the JSON shows).

**Baseline**, measured on the same assessments: the same checks applied to the raw, unvalidated Stage-II text
(``assessment.llm_text``, split into the sentences the old pipeline showed), i.e. what a user saw before the
feedback was checked and grounded.

    .venv/bin/python benchmarks/bench_trust.py [--threads 1] [--per-label 1] [--json benchmarks/results/trust.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
sys.path.insert(0, str(ROOT / "tests"))  # the fuzz corpus is defined once, in tests/test_nonsense.py


def shown_texts(a: Any) -> list[str]:
    """Every text the user is shown, besides the level names: feedback, attributes, measurements, warnings, reasons."""
    texts = [*a.feedback, *a.warnings, *a.proficiency.confidence_reasons]
    for at in a.attributes:
        texts += [at.name, at.definition or ""]
        measured = (at.model_extra or {}).get("measured") or {}
        texts.append(str(measured.get("detail") or ""))
    return [t for t in texts if t and t.strip()]


def text_flags(texts: list[str]) -> dict[str, bool]:
    """``rejected``: ``check_text`` rejects one of ``texts`` (non-words, token runs, odd characters);
    ``unknown_word``: one of them holds any word that is not English (no allowance); ``empty``: there is none."""
    from crosstrainer.text.validate import check_text, unknown_words

    return {
        "rejected": any(check_text(t) for t in texts),
        "unknown_word": any(unknown_words(t) for t in texts),
        "empty": not texts,
    }


def baseline_texts(a: Any) -> list[str]:
    """The raw Stage-II text as the old pipeline showed it: the sentences after ``Level: ...`` (else the text)."""
    from crosstrainer.model.prompts import parse_stage2

    raw = (a.model_extra or {}).get("llm_text") or ""
    _, sentences = parse_stage2(raw, list(a.proficiency.levels))
    return sentences or ([raw] if raw.strip() else [])


def labelled_groups(data: Path, manifest: Any, seed: int) -> dict[str, list[Any]]:
    """``{group: [Sample]}`` of held-out real movements (each sample has ``proficiency``)."""
    from crosstrainer.data.pose_csv import load_exercise_correction, load_gym_vn
    from crosstrainer.data.ui_prmd import load_ui_prmd

    groups: dict[str, list[Any]] = {}
    if (data / "exercise_correction").is_dir():
        held = set((manifest.train or {}).get("heldout_ids") or [])
        ec = load_exercise_correction(data)
        groups["exercise_correction held-out" if held else "exercise_correction (all)"] = [
            s for s in ec if not held or s.id in held
        ]
    if (data / "ui_prmd").is_dir():
        groups["UI-PRMD s09/s10"] = load_ui_prmd(data / "ui_prmd", subjects=["s09", "s10"])
    if (data / "gym_exercise_correction_vn").is_dir():
        vn = load_gym_vn(data)
        groups["gym_vn push-up (unseen)"] = [s for s in vn if s.sport == "push-up"]
        groups["gym_vn plank"] = [s for s in vn if s.sport == "plank"]
    rng = random.Random(seed)
    for samples in groups.values():
        rng.shuffle(samples)
    return groups


def sample_per_label(samples: list[Any], per_label: int, min_s: float = 0.5) -> list[Any]:
    """``per_label`` samples per (movement, label), preferring clips of at least ``min_s`` seconds."""
    by_key: dict[tuple, list[Any]] = defaultdict(list)
    for s in sorted(samples, key=lambda s: s.pose.duration_s < min_s):  # stable: keeps the shuffled order
        by_key[s.sport, s.proficiency].append(s)
    return [s for key in sorted(by_key) for s in by_key[key][:per_label]]


def verdict(assessor: Any, pose: Any) -> tuple[np.ndarray, np.ndarray]:
    """(raw, calibrated) verdict probabilities of one clip, without the language model."""
    from crosstrainer.model.calibration import softmax
    from crosstrainer.model.predict import predict

    feats = assessor.encoder.encode(pose).features
    parts = assessor.parts
    pred = predict(assessor.model, parts, feats, generate=False)
    if parts.head is not None:
        raw = parts.head.predict_proba(np.nan_to_num(feats.mean(0, keepdims=True).astype(np.float64)), False)[0]
    else:  # no attribute head: the verdict is the linear probe's (uncalibrated = temperature 1)
        raw = softmax(pred.logits[None])[0]
    return np.asarray(raw), np.asarray(pred.probs)


def assess_group(assessor: Any, items: list[tuple[str, Any, str | None]], log: Any) -> list[dict[str, Any]]:
    """Full assessments of ``[(name, pose, sport)]``: what was shown, its flags and the baseline's."""
    rows = []
    for name, pose, sport in items:
        t = time.perf_counter()
        a = assessor.assess_pose(pose, sport=sport).assessment
        seconds = time.perf_counter() - t
        shown, base = shown_texts(a), baseline_texts(a)
        row = {
            "input": name,
            "sport": a.sport,
            "duration_s": round(pose.duration_s, 2),
            "seconds": round(seconds, 2),
            "level": a.proficiency.level,
            "confidence": a.proficiency.confidence,
            "attributes": [at.name for at in a.attributes],
            "feedback": a.feedback,
            "feedback_source": a.feedback_source,
            "llm_text": (a.model_extra or {}).get("llm_text"),
            "shown": text_flags(shown),
            "baseline": text_flags(base),
        }
        rows.append(row)
        bad = [k for k, v in row["shown"].items() if v] or "ok"
        raw = [k for k, v in row["baseline"].items() if v] or "ok"
        log(f"  {name[:60]:60s} {seconds:6.1f} s  shown: {bad}  raw Stage II: {raw}")
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    lines = [s for r in rows for s in r["feedback_source"]]

    def share(pred: Any) -> float | None:
        return round(sum(1 for r in rows if pred(r)) / n, 3) if n else None

    return {
        "n": n,
        "shown_rejected": share(lambda r: r["shown"]["rejected"] or r["shown"]["empty"]),
        "shown_unknown_word": share(lambda r: r["shown"]["unknown_word"]),
        "baseline_rejected": share(lambda r: r["baseline"]["rejected"] or r["baseline"]["empty"]),
        "baseline_unknown_word": share(lambda r: r["baseline"]["unknown_word"]),
        "feedback_lines": len(lines),
        "model_lines": round(lines.count("model") / len(lines), 3) if lines else None,
        "grounded_lines": round(lines.count("grounded") / len(lines), 3) if lines else None,
        "low_confidence": share(lambda r: r["confidence"] == "low"),
        "seconds_per_assessment": round(sum(r["seconds"] for r in rows) / n, 2) if n else None,
    }


def calibration(assessor: Any, samples: list[Any]) -> dict[str, Any]:
    from crosstrainer.model.calibration import expected_calibration_error

    levels = list(assessor.parts.manifest.levels)
    keep = [s for s in samples if s.proficiency in levels]
    if not keep:
        return {"n": 0}
    probs = [verdict(assessor, s.pose) for s in keep]
    y = np.array([levels.index(s.proficiency) for s in keep])
    raw, cal = np.stack([p[0] for p in probs]), np.stack([p[1] for p in probs])
    return {
        "n": len(keep),
        "ece_raw": round(expected_calibration_error(raw, y), 4),
        "ece_calibrated": round(expected_calibration_error(cal, y), 4),
        "accuracy": round(float((cal.argmax(1) == y).mean()), 3),
        "max_probability_calibrated": round(float(cal.max()), 4),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model folder (default: the bundled model)")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: fastest on 2 shared, busy cores)")
    ap.add_argument("--per-label", type=int, default=1, help="full assessments per movement and label")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-fuzz", action="store_true", help="skip the fuzz corpus")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "trust.json")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import warnings

    warnings.filterwarnings("ignore")
    import torch

    from crosstrainer.api import Assessor

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    assessor = Assessor.load(args.model)
    load_s = time.perf_counter() - start

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f} s] {msg}", flush=True)

    data = args.data if args.data.is_dir() else None
    rows: dict[str, list[dict[str, Any]]] = {}
    cal: dict[str, dict[str, Any]] = {}
    if not args.no_fuzz:
        from test_nonsense import fuzz_corpus

        corpus = fuzz_corpus(data, assessor)
        log(f"fuzz corpus: {len(corpus)} inputs")
        rows["fuzz"] = assess_group(assessor, corpus, log)
    groups = labelled_groups(data, assessor.parts.manifest, args.seed) if data else {}
    for group, samples in groups.items():
        picked = sample_per_label(samples, args.per_label)
        log(f"{group}: {len(picked)} of {len(samples)} clips assessed in full, all {len(samples)} for calibration")
        rows[group] = assess_group(assessor, [(s.id, s.pose, s.sport) for s in picked], log)
        cal[group] = calibration(assessor, samples)
    everything = [r for g in rows.values() for r in g]
    labelled = [s for samples in groups.values() for s in samples]
    if labelled:
        cal["all labelled"] = calibration(assessor, labelled)
    summary = {g: summarise(r) for g, r in rows.items()}
    summary["all"] = summarise(everything)
    total_s = time.perf_counter() - start
    head = "attribute head" if assessor.parts.head is not None else "linear probe (no attribute head in this model)"
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        "threads": args.threads,
        "model": f"{assessor.parts.manifest.name} {assessor.parts.manifest.version}",
        "verdict_from": head,
        "per_label": args.per_label,
        "seed": args.seed,
        "model_load_s": round(load_s, 2),
        "total_s": round(total_s, 1),
        "baseline": "the same checks on the raw Stage-II text (assessment.llm_text) of the same assessments",
        "summary": summary,
        "calibration": cal,
        "targets": {"shown_rejected": 0.0, "shown_unknown_word": 0.0},
        "rows": rows,
    }
    from rich.console import Console
    from rich.table import Table

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.0f}%"

    table = Table(title=f"trust, {report['machine']}, {report['model']}, {total_s:.0f} s")
    for col in ("group", "n", "shown: rejected", "shown: any non-word", "BASELINE raw: rejected",
                "BASELINE raw: any non-word", "model / grounded lines", "low confidence"):  # fmt: skip
        table.add_column(col, justify="left" if col == "group" else "right")
    for g, s in summary.items():
        table.add_row(
            g,
            str(s["n"]),
            pct(s["shown_rejected"]),
            pct(s["shown_unknown_word"]),
            pct(s["baseline_rejected"]),
            pct(s["baseline_unknown_word"]),
            f"{pct(s['model_lines'])} / {pct(s['grounded_lines'])}",
            pct(s["low_confidence"]),
        )
    console = Console(width=max(Console().width, 150))
    console.print(table)
    ctable = Table(title=f"calibration of the verdict ({head}), ECE with 10 bins")
    for col in ("group", "clips", "ECE raw logits", "ECE calibrated", "accuracy", "max probability"):
        ctable.add_column(col, justify="left" if col == "group" else "right")
    for g, c in cal.items():
        if c.get("n"):
            ctable.add_row(
                g,
                str(c["n"]),
                f"{c['ece_raw']:.3f}",
                f"{c['ece_calibrated']:.3f}",
                f"{c['accuracy']:.2f}",
                f"{c['max_probability_calibrated']:.3f}",
            )
    console.print(ctable)
    console.print(f"total {total_s:.0f} s (model load {load_s:.1f} s)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
