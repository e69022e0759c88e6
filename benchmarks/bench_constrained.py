"""Benchmark constrained Stage I (scoring the vocabulary's answers) against free generation (a script, not a test).

On the real pose clips (``exercise_correction``: bicep curl, plank, lunge, the default model's training domain; and
with ``--gym-vn`` also ``gym_exercise_correction_vn``: plank and the unseen push-up), each clip's kinematic features
are cut into 2-s windows and given the Stage-I prompt of its sport. For the same windows it measures:

- time per window of ``model.generate(turns, max_new_tokens=24)`` (today's Stage I) and of
  ``constrained.score_answers`` with its defaults (every single name and ``none``; up to 4 lists ``"a, b"``, those
  most likely to be started, when at least 1 % likely), in batches of 16 windows and one window at a time, as
  wall and process-CPU time;
- how often the constrained top answer's attribute set equals the free answer's parsed attributes (mapped onto the
  vocabulary; an answer naming anything outside it never agrees), and the same for the thresholded selection;
- how often the free answer names something outside the vocabulary or fails ``check_text``, and how often each
  method's set equals the clip's label (note: most ``exercise_correction`` clips were training clips).

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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
MODEL = ROOT / "src" / "crosstrainer" / "models" / "default"


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


def timed_pair(fn_a, fn_b, batches: list) -> tuple[list, list, dict[str, float]]:
    """Run both methods batch by batch, alternating (so that a busy machine slows both alike).

    Returns both methods' results and ``{"a_wall", "b_wall", "a_cpu", "b_cpu"}`` seconds (CPU: this process, all
    threads; less sensitive than wall time to other programs on a shared machine).
    """
    out_a, out_b = [], []
    t = dict.fromkeys(("a_wall", "b_wall", "a_cpu", "b_cpu"), 0.0)
    for b in batches:
        w0, c0 = time.perf_counter(), time.process_time()
        out_a += fn_a(b)
        w1, c1 = time.perf_counter(), time.process_time()
        out_b += fn_b(b)
        w2, c2 = time.perf_counter(), time.process_time()
        t["a_wall"] += w1 - w0
        t["b_wall"] += w2 - w1
        t["a_cpu"] += c1 - c0
        t["b_cpu"] += c2 - c1
    return out_a, out_b, t


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
    from crosstrainer.model.constrained import score_answers, select_attributes
    from crosstrainer.model.crosstrainer import Turn
    from crosstrainer.text.validate import check_text

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model, parts = load_model(args.model)
    load_s = time.perf_counter() - t0
    names, vocab, threshold = parts.vocabulary.names, parts.vocabulary, parts.manifest.attribute_threshold
    width = max(1, round(parts.manifest.stage1_window_s))
    sets = {"exercise_correction": load_exercise_correction(args.data)}
    if args.gym_vn:
        sets["gym_exercise_correction_vn"] = load_gym_vn(args.data)

    def free(batch: list[Turn]) -> list[tuple[str, list[float]]]:
        return model.generate(batch, max_new_tokens=24)

    def constrained(batch: list[Turn]) -> list:
        return score_answers(model, batch, names)

    report: dict = {
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "torch": torch.__version__,
            "threads": args.threads,
            "cpus": os.cpu_count(),
        },
        "model": str(args.model.resolve().relative_to(ROOT)) if args.model.resolve().is_relative_to(ROOT) else "",
        "model_load_s": round(load_s, 2),
        "vocabulary": names,
        "sets": {},
    }
    all_windows = {name: windows(samples, width) for name, samples in sets.items()}
    with torch.inference_mode():
        warm = [Turn(w["features"], prompts.stage1_user(w["sport"])) for w in all_windows["exercise_correction"][:2]]
        free(warm), constrained(warm)
        for set_name, samples in sets.items():
            wins = all_windows[set_name]
            print(f"{set_name}: {len(wins)} windows", file=sys.stderr, flush=True)
            turns = [Turn(w["features"], prompts.stage1_user(w["sport"])) for w in wins]
            batches = [turns[i : i + args.batch] for i in range(0, len(turns), args.batch)]
            free_out, cons_out, tb = timed_pair(free, constrained, batches)
            single = [[t] for t in turns[: args.single]]
            _, _, t1 = timed_pair(free, constrained, single)
            agree_top = agree_sel = out_of_vocab = rejected = free_label = top_label = sel_label = n_label = 0
            examples = []
            for w, (text, _), sc in zip(wins, free_out, cons_out):
                parsed = prompts.parse_attributes(text)
                canon = [vocab.get(p) for p in parsed]
                free_set = {c.name if c else f"?{p}" for c, p in zip(canon, parsed)}
                out_of_vocab += any(c is None for c in canon)
                rejected += bool(check_text(text, allowed_attributes=names))
                top_set = set(sc.top)
                sel_set = {n for n, _ in select_attributes(sc.attribute_probabilities(names), threshold)}
                agree_top += free_set == top_set
                agree_sel += free_set == sel_set
                if w["label"] is not None:
                    n_label += 1
                    free_label += free_set == set(w["label"])
                    top_label += top_set == set(w["label"])
                    sel_label += sel_set == set(w["label"])
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
            n = len(wins)
            print(f"  free {tb['a_wall']:.1f} s, constrained {tb['b_wall']:.1f} s", file=sys.stderr, flush=True)
            report["sets"][set_name] = {
                "clips": len(samples),
                "windows": n,
                "batch": args.batch,
                "free_ms_per_window": round(1000 * tb["a_wall"] / n, 1),
                "constrained_ms_per_window": round(1000 * tb["b_wall"] / n, 1),
                "free_cpu_ms_per_window": round(1000 * tb["a_cpu"] / n, 1),
                "constrained_cpu_ms_per_window": round(1000 * tb["b_cpu"] / n, 1),
                "single_windows": len(single),
                "free_ms_per_window_batch1": round(1000 * t1["a_wall"] / len(single), 1),
                "constrained_ms_per_window_batch1": round(1000 * t1["b_wall"] / len(single), 1),
                "free_cpu_ms_per_window_batch1": round(1000 * t1["a_cpu"] / len(single), 1),
                "constrained_cpu_ms_per_window_batch1": round(1000 * t1["b_cpu"] / len(single), 1),
                "candidates_per_window": round(sum(len(sc.answers) for sc in cons_out) / n, 2),
                "windows_with_pairs_scored": round(sum(any(len(a) == 2 for a in sc.answers) for sc in cons_out) / n, 4),
                "max_unscored_mass": round(max(sc.unscored for sc in cons_out), 4),
                "agree_top_answer": round(agree_top / n, 4),
                "agree_selected": round(agree_sel / n, 4),
                "free_out_of_vocabulary": round(out_of_vocab / n, 4),
                "free_rejected_by_check_text": round(rejected / n, 4),
                "labelled_windows": n_label,
                "label_match_free": round(free_label / max(1, n_label), 4),
                "label_match_constrained_top": round(top_label / max(1, n_label), 4),
                "label_match_constrained_selected": round(sel_label / max(1, n_label), 4),
                "disagreements": examples,
            }

    rows = [
        ("windows", "windows", "{}"),
        (f"free ms/window (batch {args.batch})", "free_ms_per_window", "{:.1f}"),
        (f"constrained ms/window (batch {args.batch})", "constrained_ms_per_window", "{:.1f}"),
        (f"free CPU ms/window (batch {args.batch})", "free_cpu_ms_per_window", "{:.1f}"),
        (f"constrained CPU ms/window (batch {args.batch})", "constrained_cpu_ms_per_window", "{:.1f}"),
        ("free ms/window (batch 1)", "free_ms_per_window_batch1", "{:.1f}"),
        ("constrained ms/window (batch 1)", "constrained_ms_per_window_batch1", "{:.1f}"),
        ("free CPU ms/window (batch 1)", "free_cpu_ms_per_window_batch1", "{:.1f}"),
        ("constrained CPU ms/window (batch 1)", "constrained_cpu_ms_per_window_batch1", "{:.1f}"),
        ("candidates scored per window", "candidates_per_window", "{:.2f}"),
        ("windows with pairs scored", "windows_with_pairs_scored", "{:.1%}"),
        ("max unscored list mass", "max_unscored_mass", "{:.4f}"),
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
    print(f"{'':38s}" + "".join(f"{c[:26]:>28s}" for c in cols))
    for title, key, fmt in rows:
        print(f"{title:38s}" + "".join(f"{fmt.format(report['sets'][c][key]):>28s}" for c in cols))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
