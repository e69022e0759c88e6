"""Benchmark a batch of short keypoint files: one by one (the baseline) against batched language-model passes.

Real clips: the 76 exercise_correction clips and the first UI-PRMD repetitions (1-5 s each) saved as keypoint
files, 112 in all by default, as in issue 15. In one process and one run, after one model load:

- baseline: ``Assessor.assess`` on each of the first ``--baseline`` files (the per-file cost before batching),
- batched: ``Assessor.assess_many(batch=B)`` on the same files, and on all of them,

and the check that every batched JSON equals its one-by-one JSON (timings aside). Prints a table, writes JSON.

    .venv/bin/python benchmarks/bench_batch.py [--n 112] [--baseline 16] [--batch 8] [--threads 2]
        [--json benchmarks/results/batch_cpu.json]

Target (issue 15): the 112-file batch in <= 60 s on 2 cores (<= 0.5 s per short clip).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"


def make_files(folder: Path, n: int) -> list[Path]:
    from crosstrainer.data.pose_csv import load_exercise_correction
    from crosstrainer.data.ui_prmd import load_ui_prmd
    from crosstrainer.keypoints.io import save_keypoints

    samples = load_exercise_correction(DATA)
    if len(samples) < n and (DATA / "ui_prmd").is_dir():
        samples += load_ui_prmd(DATA / "ui_prmd", subjects="s01")[: n - len(samples)]
    files = []
    for s in samples[:n]:
        files.append(save_keypoints(s.pose, folder / f"{s.id.replace('/', '_')}.npy"))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=112)
    parser.add_argument("--baseline", type=int, default=16, help="files assessed one by one (the baseline)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "batch_cpu.json")
    args = parser.parse_args()
    if not (DATA / "exercise_correction").is_dir():
        sys.exit(f"needs {DATA / 'exercise_correction'}")
    import torch

    torch.set_num_threads(args.threads)
    from crosstrainer.api import Assessor

    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(Path(tmp), args.n)
        durations = {}
        t = time.perf_counter()
        assessor = Assessor.load()
        load_s = time.perf_counter() - t

        def comparable(result) -> dict:
            data = json.loads(result.assessment.to_json())
            data.pop("timings", None)
            return data

        base = files[: args.baseline]
        t = time.perf_counter()
        alone = {f: assessor.assess(f) for f in base}
        one_by_one_s = time.perf_counter() - t
        t = time.perf_counter()
        same = list(assessor.assess_many(base, batch=args.batch))
        batched_same_s = time.perf_counter() - t
        equal = sum(comparable(r) == comparable(alone[f]) for f, r in same if not isinstance(r, Exception))
        t = time.perf_counter()
        everything = list(assessor.assess_many(files, batch=args.batch))
        all_s = time.perf_counter() - t
        failed = [str(f) for f, r in everything if isinstance(r, Exception)]
        for f, r in everything:
            if not isinstance(r, Exception):
                durations[f.name] = r.assessment.input.duration_s
    per_base = one_by_one_s / len(base)
    rows = [
        ("model load", f"{load_s:.1f} s", ""),
        (f"one by one, {len(base)} files (baseline)", f"{one_by_one_s:.1f} s", f"{per_base:.2f} s/file"),
        (f"batched x{args.batch}, same {len(base)} files", f"{batched_same_s:.1f} s",
         f"{batched_same_s / len(base):.2f} s/file ({one_by_one_s / batched_same_s:.2f}x)"),
        (f"batched x{args.batch}, all {len(files)} files", f"{all_s:.1f} s", f"{all_s / len(files):.2f} s/file"),
        (f"baseline extrapolated to {len(files)} files", f"{per_base * len(files):.1f} s", ""),
        ("batched JSON == one-by-one JSON", f"{equal}/{len(same)}", ""),
    ]  # fmt: skip
    print(f"{'measure':48s} {'wall':>9s}  note")
    for name, wall, note in rows:
        print(f"{name:48s} {wall:>9s}  {note}")
    result = {
        "environment": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "threads": args.threads,
            "load_average_at_end": list(os.getloadavg()),
        },
        "files": len(files),
        "clip_seconds": {"min": min(durations.values()), "max": max(durations.values())} if durations else {},
        "batch": args.batch,
        "model_load_s": round(load_s, 2),
        "baseline_files": len(base),
        "one_by_one_s": round(one_by_one_s, 2),
        "batched_same_files_s": round(batched_same_s, 2),
        "batched_all_s": round(all_s, 2),
        "speedup_same_files": round(one_by_one_s / batched_same_s, 2),
        "equal_json": f"{equal}/{len(same)}",
        "failed": failed,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
