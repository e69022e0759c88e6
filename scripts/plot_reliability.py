"""Reliability diagram of the shipped model's verdict, before and after calibration, on held-out and unseen clips.

    python scripts/plot_reliability.py --data ../shared/data --out docs/img/reliability.png

Held out: UI-PRMD subjects s09/s10 (never trained on) and the exercise_correction clips the model card lists as held
out; unseen: gym_exercise_correction_vn push-up and plank (never trained on). Prints the ECE of each curve.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from crosstrainer.api import DEFAULT_MODEL_DIR
from crosstrainer.data.pose_csv import load_exercise_correction, load_gym_vn
from crosstrainer.data.ui_prmd import load_ui_prmd
from crosstrainer.evaluation.baselines import RawFeatures
from crosstrainer.evaluation.plots import plot_reliability
from crosstrainer.model.calibration import expected_calibration_error, reliability
from crosstrainer.model.checkpoint import load_parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--out", type=Path, default=Path("docs/img/reliability.png"))
    args = ap.parse_args()
    parts = load_parts(args.model)
    if parts.head is None:
        raise SystemExit(f"{args.model} has no attribute head")
    held_ids = set(json.loads((args.model / "model.json").read_text())["train"].get("heldout_ids", []))
    ec = [s for s in load_exercise_correction(args.data) if s.id in held_ids]
    groups = {
        "held out (UI-PRMD s09/s10, exercise_correction)": ec
        + load_ui_prmd(args.data / "ui_prmd", subjects=["s09", "s10"]),
        "never trained on (gym_vn push-up, plank)": load_gym_vn(args.data),
    }
    raw = RawFeatures("pose")
    levels = list(parts.manifest.levels)
    curves = {}
    for name, samples in groups.items():
        x = np.stack([np.nan_to_num(raw.per_second(s).mean(0)) for s in samples])
        y = np.array([levels.index(s.proficiency) for s in samples])
        for label, calibrated in (("before", False), ("after", True)):
            p = parts.head.predict_proba(x, calibrated=calibrated)
            curves[f"{name}, {label}"] = reliability(p, y)
            print(f"{name:55s} {label:6s} ECE {expected_calibration_error(p, y):.3f}  (n={len(y)})")
    plot_reliability(curves, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
