"""Benchmark constrained Stage I (scoring the vocabulary's answers) against free generation (a script, not a test).

On the real pose clips (``exercise_correction``: bicep curl, plank, lunge, the default model's training domain; and
with ``--gym-vn`` also ``gym_exercise_correction_vn``: plank and the unseen push-up), each clip's kinematic features
are cut into 2-s windows and given the Stage-I prompt of its sport. For the same windows it measures, as wall and
process-CPU time per window, in batches of 16 windows and one window at a time, the three methods run alternately
batch by batch (so that a busy machine slows them alike):

- ``free``: ``model.generate(turns, max_new_tokens=24)``, today's Stage I;
- ``constrained``: ``constrained.score_answers`` with its defaults (``none``; each name whose first token is at
  least 1e-3 likely; up to 4 lists ``"a, b"``, those at least 1 % likely to be started);
- ``exhaustive``: the same with every single name scored (``min_prob=0``) and the 4 likeliest lists.

Then how often the constrained top answer's attribute set equals the free answer's parsed attributes (mapped onto
the vocabulary; an answer naming anything outside it never agrees), the same for the thresholded selection; how
often the free answer names something outside the vocabulary or fails ``check_text``; and how often each method's
set equals the clip's label (most ``exercise_correction`` clips were training clips).

    .venv/bin/python benchmarks/bench_constrained.py [--threads 2] [--gym-vn] [--json OUT.json]

(``--json`` defaults to ``benchmarks/results/constrained_cpu.json``.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
MODEL = ROOT / "src" / "crosstrainer" / "models" / "default"
METHODS = ("free", "constrained", "exhaustive")


def windows(samples: list, width: int) -> list[dict]:
    """Every clip's 2-s windows: ``{"clip", "sport", "label", "features"}`` (features: (<=width, D) float32)."""
    from crosstrainer.encoders.kinematics import KinematicEncoder

    encoder = KinematicEncoder()
    out = []
    for s in samples:
        feats = encoder.encode(s.pose).features
        for a in range(0, len(feats), width):
            label = None if s.commentary[0].attributes is None else tuple(s.commentary[0].attributes)
            out.append({"clip": s.id, "sport": s.sport, "label": label, "features": feats[a : a + width]})
    return out


def timed(methods: dict[str, Callable], batches: list) -> tuple[dict[str, list], dict[str, dict[str, float]]]:
    """Run every method on each batch in turn: ``({method: results}, {method: {"wall": s, "cpu": s}})``.

    CPU time is this process's, all threads: less sensitive than wall time to other programs on a shared machine.
    """
    out: dict[str, list] = {m: [] for m in methods}
    secs = {m: {"wall": 0.0, "cpu": 0.0} for m in methods}
    for b in batches:
        for m, fn in methods.items():
            w0, c0 = time.perf_counter(), time.process_time()
            out[m] += fn(b)
            secs[m]["wall"] += time.perf_counter() - w0
            secs[m]["cpu"] += time.process_time() - c0
    return out, secs


def compare(wins: list[dict], free_out: list, scores: list, vocab, threshold: float) -> dict:
    """Agreement of the constrained answers with the free ones and with the clips' labels."""
    from crosstrainer.model import prompts
    from crosstrainer.model.constrained import select_attributes
    from crosstrainer.text.validate import check_text

    names = vocab.names
    c = dict.fromkeys(("top", "sel", "oov", "rejected", "free_label", "top_label", "sel_label", "labelled"), 0)
    examples = []
    for w, (text, _), sc in zip(wins, free_out, scores):
        parsed = prompts.parse_attributes(text)
        canon = [vocab.get(p) for p in parsed]
        free_set = {a.name if a else f"?{p}" for a, p in zip(canon, parsed)}
        top_set = set(sc.top)
        sel_set = {n for n, _ in select_attributes(sc.attribute_probabilities(names), threshold)}
        c["oov"] += any(a is None for a in canon)
        c["rejected"] += bool(check_text(text, allowed_attributes=names))
        c["top"] += free_set == top_set
        c["sel"] += free_set == sel_set
        if w["label"] is not None:
            c["labelled"] += 1
            c["free_label"] += free_set == set(w["label"])
            c["top_label"] += top_set == set(w["label"])
            c["sel_label"] += sel_set == set(w["label"])
        if free_set != top_set and len(examples) < 8:
            examples.append(
                {
                    "clip": w["clip"],
                    "free": text,
                    "constrained": prompts.stage1_target(list(sc.top)),
                    "p_top": round(sc.answers[sc.top], 3),
                    "coverage": round(sc.coverage, 4),
                }
            )
    n, nl = len(wins), max(1, c["labelled"])
    return {
        "agree_top_answer": round(c["top"] / n, 4),
        "agree_selected": round(c["sel"] / n, 4),
        "free_out_of_vocabulary": round(c["oov"] / n, 4),
        "free_rejected_by_check_text": round(c["rejected"] / n, 4),
        "labelled_windows": c["labelled"],
        "label_match_free": round(c["free_label"] / nl, 4),
        "label_match_constrained_top": round(c["top_label"] / nl, 4),
        "label_match_constrained_selected": round(c["sel_label"] / nl, 4),
        "disagreements": examples,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=MODEL)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--single", type=int, default=16, help="windows timed one at a time (latency)")
    ap.add_argument("--gym-vn", action="store_true", help="also the gym_exercise_correction_vn clips (push-up unseen)")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "constrained_cpu.json")
    args = ap.parse_args()

    import torch

    from crosstrainer.data.pose_csv import load_exercise_correction, load_gym_vn
    from crosstrainer.model import prompts
    from crosstrainer.model.checkpoint import load_model
    from crosstrainer.model.constrained import score_answers
    from crosstrainer.model.crosstrainer import Turn

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model, parts = load_model(args.model)
    load_s = time.perf_counter() - t0
    vocab, threshold = parts.vocabulary, parts.manifest.attribute_threshold
    names = vocab.names
    width = max(1, round(parts.manifest.stage1_window_s))
    sets = {"exercise_correction": load_exercise_correction(args.data)}
    if args.gym_vn:
        sets["gym_exercise_correction_vn"] = load_gym_vn(args.data)
    methods: dict[str, Callable] = {
        "free": lambda b: model.generate(b, max_new_tokens=24),
        "constrained": lambda b: score_answers(model, b, names),
        "exhaustive": lambda b: score_answers(model, b, names, min_prob=0.0),
    }
    report: dict = {
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "torch": torch.__version__,
            "threads": args.threads,
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "model": str(args.model),
        "model_load_s": round(load_s, 2),
        "vocabulary": names,
        "sets": {},
    }
    all_windows = {name: windows(samples, width) for name, samples in sets.items()}
    with torch.inference_mode():
        warm = [Turn(w["features"], prompts.stage1_user(w["sport"])) for w in all_windows["exercise_correction"][:2]]
        timed(methods, [warm])
        for set_name, samples in sets.items():
            wins = all_windows[set_name]
            print(f"{set_name}: {len(wins)} windows", file=sys.stderr, flush=True)
            turns = [Turn(w["features"], prompts.stage1_user(w["sport"])) for w in wins]
            out, secs = timed(methods, [turns[i : i + args.batch] for i in range(0, len(turns), args.batch)])
            single = [[t] for t in turns[: args.single]]
            _, secs1 = timed(methods, single)
            print("  " + ", ".join(f"{m} {secs[m]['wall']:.1f} s" for m in METHODS), file=sys.stderr, flush=True)
            n, cons = len(wins), out["constrained"]
            rec: dict = {"clips": len(samples), "windows": n, "batch": args.batch, "single_windows": len(single)}
            for m in METHODS:
                rec[f"{m}_ms_per_window"] = round(1000 * secs[m]["wall"] / n, 1)
                rec[f"{m}_cpu_ms_per_window"] = round(1000 * secs[m]["cpu"] / n, 1)
                rec[f"{m}_ms_per_window_batch1"] = round(1000 * secs1[m]["wall"] / len(single), 1)
                rec[f"{m}_cpu_ms_per_window_batch1"] = round(1000 * secs1[m]["cpu"] / len(single), 1)
            rec["candidates_per_window"] = round(sum(len(sc.answers) for sc in cons) / n, 2)
            rec["exhaustive_candidates_per_window"] = round(sum(len(sc.answers) for sc in out["exhaustive"]) / n, 2)
            rec["windows_with_pairs_scored"] = round(sum(any(len(a) == 2 for a in sc.answers) for sc in cons) / n, 4)
            rec["max_unscored_mass"] = round(max(sc.unscored for sc in cons), 4)
            rec["constrained_top_equals_exhaustive_top"] = round(
                sum(c.top == e.top for c, e in zip(cons, out["exhaustive"])) / n, 4
            )
            rec |= compare(wins, out["free"], cons, vocab, threshold)
            report["sets"][set_name] = rec

    rows = [("windows", "windows", "{}")]
    for m in METHODS:
        rows += [
            (f"{m} ms/window (batch {args.batch})", f"{m}_ms_per_window", "{:.1f}"),
            (f"{m} CPU ms/window (batch {args.batch})", f"{m}_cpu_ms_per_window", "{:.1f}"),
            (f"{m} ms/window (batch 1)", f"{m}_ms_per_window_batch1", "{:.1f}"),
            (f"{m} CPU ms/window (batch 1)", f"{m}_cpu_ms_per_window_batch1", "{:.1f}"),
        ]
    rows += [
        ("candidates scored per window", "candidates_per_window", "{:.2f}"),
        ("  exhaustive", "exhaustive_candidates_per_window", "{:.2f}"),
        ("windows with lists scored", "windows_with_pairs_scored", "{:.1%}"),
        ("max unscored mass (bound)", "max_unscored_mass", "{:.4f}"),
        ("constrained top = exhaustive top", "constrained_top_equals_exhaustive_top", "{:.1%}"),
        ("agreement: top answer = free", "agree_top_answer", "{:.1%}"),
        ("agreement: selected = free", "agree_selected", "{:.1%}"),
        ("free answer outside vocabulary", "free_out_of_vocabulary", "{:.1%}"),
        ("free answer rejected by check_text", "free_rejected_by_check_text", "{:.1%}"),
        ("label match: free", "label_match_free", "{:.1%}"),
        ("label match: constrained top", "label_match_constrained_top", "{:.1%}"),
        ("label match: constrained selected", "label_match_constrained_selected", "{:.1%}"),
    ]
    cols = list(report["sets"])
    print(f"model load {load_s:.1f} s, {args.threads} threads, vocabulary of {len(names)}")
    print(f"{'':40s}" + "".join(f"{c[:26]:>28s}" for c in cols))
    for title, key, fmt in rows:
        print(f"{title:40s}" + "".join(f"{fmt.format(report['sets'][c][key]):>28s}" for c in cols))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
