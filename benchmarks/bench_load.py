"""Benchmark the model load: a fresh Python process until ``Assessor.load()`` returns (a script, not a test).

Each measurement is a new interpreter (imports are most of the cost, and a process imports a module once), run
interleaved so that the machine's load hits every variant alike:

- ``floor``: ``import torch`` and transformers' Llama and tokenizer classes, nothing of ours: what any process that
  runs SmolLM2 with transformers pays before reading a byte of the model;
- ``before``: the load path as it was (peft imported, the LoRA adapter wrapped around every layer by
  ``PeftModel.from_pretrained``, then ``merge_and_unload``), reproduced by routing ``merge_lora`` through peft;
- ``after``: ``Assessor.load()`` as shipped (plain LoRA merged by ``crosstrainer.model.llm.merge_lora``).

Each child reports its wall time from the first ``crosstrainer`` import to a ready ``Assessor`` (the interpreter's
own start-up, about 0.05 s, is outside), its CPU time, and a fingerprint of the merged attention weights, so that
``before`` and ``after`` are shown to load the same numbers. The one-time GGUF conversion is done by a warm-up run
that is not counted (it also brings the model files into the page cache).

    .venv/bin/python benchmarks/bench_load.py [--repeats 5] [--json benchmarks/results/load_cpu.json]

Target (issue 15, item 2, 2 cores): the model ready in <= 3 s. The machine this runs on may be shared: the table
gives the minimum (the least disturbed run) and the median, and the load average seen before each run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
mode, model_dir = sys.argv[1], sys.argv[2] or None
t0, c0 = time.perf_counter(), cpu()
out = {}
if mode == "floor":
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM
else:
    if mode == "before":
        import crosstrainer.model.llm as llm

        def peft_merge(model, adapter):
            from peft import PeftModel

            return PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()

        llm.merge_lora = peft_merge
    from crosstrainer.api import Assessor
    t1 = time.perf_counter()
    assessor = Assessor.load(model_dir)
    out["import_api_s"] = t1 - t0
out["ready_s"] = time.perf_counter() - t0
out["cpu_s"] = cpu() - c0
if mode != "floor":
    import hashlib
    h = hashlib.sha256()
    for name, p in sorted(assessor.model.llm.named_parameters()):
        if name.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight")):
            h.update(p.detach().numpy().tobytes())
    out["attention_sha256"] = h.hexdigest()[:16]
    out["peft_imported"] = "peft" in sys.modules
print("RESULT " + json.dumps(out))
"""


def run_child(mode: str, model_dir: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, model_dir], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )
    wall = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{mode} run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT ") :])
    return {**result, "process_s": wall, "load_avg_1min": load_before}


def summarise(runs: list[dict], key: str) -> dict:
    values = [r[key] for r in runs]
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="Runs of each variant (interleaved).")
    ap.add_argument("--model", default="", help="Model folder (default: the bundled model).")
    ap.add_argument("--modes", default="floor,before,after", help="Comma-separated subset of floor,before,after.")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "load_cpu.json"))
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]

    print("warm-up (GGUF conversion if needed, page cache; not counted)...", file=sys.stderr, flush=True)
    run_child("after", args.model)
    runs: dict[str, list[dict]] = {m: [] for m in modes}
    for i in range(args.repeats):
        for mode in modes:
            runs[mode].append(run_child(mode, args.model))
            r = runs[mode][-1]
            print(
                f"  run {i + 1}/{args.repeats} {mode:6s} ready {r['ready_s']:.2f} s, cpu {r['cpu_s']:.2f} s, "
                f"load avg {r['load_avg_1min']:.1f}",
                file=sys.stderr,
                flush=True,
            )

    summary = {
        m: {
            "ready_s": summarise(rs, "ready_s"),
            "cpu_s": summarise(rs, "cpu_s"),
            "process_s": summarise(rs, "process_s"),
            **({"import_api_s": summarise(rs, "import_api_s")} if m != "floor" else {}),
            **({"attention_sha256": sorted({r["attention_sha256"] for r in rs})} if m != "floor" else {}),
            **({"peft_imported": sorted({r["peft_imported"] for r in rs})} if m != "floor" else {}),
        }
        for m, rs in runs.items()
    }
    loads = [r["load_avg_1min"] for rs in runs.values() for r in rs]
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
        "repeats": args.repeats,
        "load_avg_1min": {"min": round(min(loads), 2), "max": round(max(loads), 2)},
        "summary": summary,
        "runs": runs,
    }
    if "before" in summary and "after" in summary:
        report["speedup_min"] = round(summary["before"]["ready_s"]["min"] / summary["after"]["ready_s"]["min"], 2)
        report["same_weights"] = summary["before"]["attention_sha256"] == summary["after"]["attention_sha256"]

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"model load, fresh process, {report['machine']}, {args.repeats} runs each")
    table.add_column("variant")
    for col in ("ready min", "ready median", "CPU min", "API import min"):
        table.add_column(col, justify="right")
    for m, s in summary.items():
        api = f"{s['import_api_s']['min']:.2f} s" if "import_api_s" in s else "-"
        table.add_row(
            m, f"{s['ready_s']['min']:.2f} s", f"{s['ready_s']['median']:.2f} s", f"{s['cpu_s']['min']:.2f} s", api
        )
    console = Console()
    console.print(table)
    console.print(
        f"1-min load average before the runs: {report['load_avg_1min']['min']}-{report['load_avg_1min']['max']} "
        f"(on {os.cpu_count()} cores)"
        + (f"; same merged weights before/after: {report['same_weights']}" if "same_weights" in report else "")
    )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    console.print(f"-> {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
