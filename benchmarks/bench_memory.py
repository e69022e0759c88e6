"""Peak memory of ``crosstrainer assess`` on a 10-minute video (a script, not a test).

The video: the sample clip's real frames letterboxed to 640x360 and looped forward/backward to 10 minutes (30 fps,
H.264), made once under ``--work`` (it takes about 2 minutes to encode). Each command runs as a child process; the
peak resident set size of its largest process is read from the kernel when it exits (``wait4``'s ``ru_maxrss``), and
the RSS of all its processes together (``assess`` reads a long video's pose in a child process while the model loads)
is sampled every 0.1 s, for a timeline and the peak that counts. In the same run, the baselines that make up the floor:

- ``python -c "import torch, transformers, mediapipe, av"``: the libraries alone,
- ``crosstrainer assess`` on the 2-second sample clip: model, pose and language model on a short input,
- ``crosstrainer assess`` on the 10-minute video (the target: peak RSS <= 1.2 GB, issue 15).

    .venv/bin/python benchmarks/bench_memory.py [--work /tmp/crosstrainer-bench]
        [--json benchmarks/results/memory_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample_bicep_curl.mp4"
TARGET_MB = 1200


def tree_rss_kb(pid: int) -> int:
    """Resident memory of process ``pid`` plus all of its descendants now (kB; 0 once they are gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def run_measured(cmd: list[str]) -> dict:
    """Run ``cmd``; its exit code, wall time, peak RSS (MB) of its largest process (the kernel's ``ru_maxrss``), and
    the sum over the process and its children (``crosstrainer assess`` reads a long video's pose in a child process)
    sampled every 0.1 s, as a timeline and its peak."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    timeline: list[tuple[float, int]] = []

    done = threading.Event()

    def sample() -> None:  # never proc.poll(): it would reap the child before wait4 reads its peak
        while not done.is_set():
            timeline.append((round(time.perf_counter() - t0, 2), tree_rss_kb(proc.pid) // 1024))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.join()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    return {
        "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)),
        "exit_code": proc.returncode,
        "wall_s": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "peak_tree_rss_mb": max((mb for _, mb in timeline), default=0),
        "timeline": timeline[:: max(1, len(timeline) // 60)],
        "stderr_tail": err[-300:] if proc.returncode else "",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/crosstrainer-bench"))
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "memory_cpu.json")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_assess import make_long_clip

    args.work.mkdir(parents=True, exist_ok=True)
    video = args.work / f"long_{args.minutes:g}min_360p.mp4"
    if not video.exists():
        print(f"making {video} (once)...", file=sys.stderr)
        make_long_clip(video, seconds=60 * args.minutes, size=(640, 360))
    cli = [sys.executable, "-m", "crosstrainer", "assess"]
    long_name = f"assess, {args.minutes:g}-minute video"
    rows = {
        "libraries only": run_measured([sys.executable, "-c", "import torch, transformers, mediapipe, av"]),
        "assess, 2 s sample clip": run_measured([*cli, str(SAMPLE), "--json", str(args.work / "sample.json")]),
        long_name: run_measured([*cli, str(video), "--json", str(args.work / "long.json")]),
    }
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        "target_peak_rss_mb": TARGET_MB,
        "rows": rows,
    }
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"peak memory of crosstrainer assess, {report['machine']}")
    for col in ("run", "exit", "wall s", "peak RSS MB, largest process", "peak RSS MB, all processes (sampled)"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for name, r in rows.items():
        table.add_row(name, str(r["exit_code"]), str(r["wall_s"]), str(r["peak_rss_mb"]), str(r["peak_tree_rss_mb"]))
    Console().print(table)
    long = rows[long_name]
    print(
        f"target: peak RSS <= {TARGET_MB} MB on the long video: {long['peak_rss_mb']} MB for its largest process, "
        f"{long['peak_tree_rss_mb']} MB for all its processes together"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
