"""Training throughput and peak memory of a preset, against a baseline measured in the same run.

    python benchmarks/bench_train.py                       # embedded preset (SmolLM2-135M + LoRA) on CPU, 10 steps
    python benchmarks/bench_train.py --steps 5 --threads 2
    python benchmarks/bench_train.py --preset research --llm /models/Llama-3.1-8B-Instruct --device cuda

Variants (each in its own subprocess, so peak memory is its own):
  ``lora``            the preset as configured: projector + LoRA trained (Stage I steps);
  ``projector-only``  the baseline: the same steps with the LoRA weights frozen (only f_m learns).

Data: synthetic samples (``synthetic:32?dim=D``, random per-second features; D=256 like a pooled video encoder),
so the numbers measure the model, not the data pipeline. The first step (allocations, lazy init) is not timed.
Writes a table to stdout and JSON to ``benchmarks/results/train_<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def measure(args: argparse.Namespace) -> dict:
    """Run ``args.steps`` + 1 Stage-I steps of one variant in this process; return timings and peak memory."""
    import torch

    from crosstrainer.data.registry import load_samples
    from crosstrainer.features.provider import FeatureProvider
    from crosstrainer.training.config import TrainConfig
    from crosstrainer.training.recipe import Trainer, build_items

    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = [
        f"max_steps={args.steps + 1}",
        "save_every=100000",
        "log_every=1",
        "encoder=precomputed",
        "warmup_steps=1",
        f"max_video_tokens={args.video_tokens}",
    ]
    if args.llm:
        overrides.append(f"llm={args.llm}")
    if args.device == "cpu":
        overrides.append("mixed_precision=no")
    if args.batch_size:
        overrides.append(f"batch_size={args.batch_size}")
    cfg = TrainConfig.load(args.preset, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        samples = load_samples(f"synthetic:32?dim={args.dim}&seed=0&root={tmp}/feats", split="train")
        t0 = time.perf_counter()
        trainer = Trainer(cfg, samples, Path(tmp) / "work", provider=FeatureProvider("precomputed"), log=lambda _: None)
        load_s = time.perf_counter() - t0
        if args.variant == "projector-only":
            for p in trainer.peft.parameters():
                p.requires_grad_(False)
        trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
        items, _ = build_items(samples, cfg)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        times: list[float] = []

        class Clock:  # a progress object: records the time of every finished step
            def add_task(self, *a, **k) -> int:
                times.append(time.perf_counter())
                return 0

            def update(self, *a, **k) -> None:
                times.append(time.perf_counter())

        trainer.run_stage(1, items, [], Clock())
        steps = len(times) - 2  # the first step is warm-up
        seconds = times[-1] - times[1]
        rows = [json.loads(line) for line in (Path(tmp) / "work" / "metrics.jsonl").read_text().splitlines()]
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "variant": args.variant,
        "preset": args.preset,
        "llm": cfg.llm,
        "device": str(trainer.acc.device),
        "batch_size": cfg.batch_size,
        "trainable_params": trainable,
        "load_s": round(load_s, 2),
        "timed_steps": steps,
        "steps_per_s": round(steps / seconds, 4),
        "s_per_step": round(seconds / steps, 3),
        "examples_per_s": round(steps * cfg.batch_size / seconds, 3),
        "peak_rss_mib": round(rss_kb / 1024, 1),
        "peak_cuda_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.cuda.is_available() else None,
        "first_loss": rows[0]["loss"],
        "last_loss": rows[-1]["loss"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="embedded", help="embedded | research | tiny | a YAML path")
    parser.add_argument("--llm", default=None, help="override the preset's LLM (a local folder for research)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=10, help="timed steps (one more runs as warm-up)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--dim", type=int, default=256, help="feature size of the synthetic clips")
    parser.add_argument("--video-tokens", type=int, default=16, help="max_video_tokens")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help="JSON output [benchmarks/results/train_<device>.json]")
    args = parser.parse_args()
    if args.variant:  # child process: one variant, JSON on stdout
        print("RESULT " + json.dumps(measure(args)))
        return
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    results = []
    for variant in ("lora", "projector-only"):
        cmd = [sys.executable, __file__, *sys.argv[1:], "--variant", variant]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if done.returncode != 0 or line is None:
            sys.exit(f"variant {variant} failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(line[7:]))
    base = results[1]
    print(
        f"{'variant':16} {'trainable':>11} {'s/step':>8} {'steps/s':>8} {'ex/s':>7} {'peak RSS MiB':>13} "
        f"{'peak CUDA MiB':>14} {'vs baseline':>12}"
    )
    for r in results:
        print(
            f"{r['variant']:16} {r['trainable_params']:>11,} {r['s_per_step']:>8.3f} {r['steps_per_s']:>8.3f} "
            f"{r['examples_per_s']:>7.2f} {r['peak_rss_mib']:>13.0f} {r['peak_cuda_mib']!s:>14} "
            f"{r['steps_per_s'] / base['steps_per_s']:>11.2f}x"
        )
    import torch

    report = {
        "benchmark": "bench_train",
        "command": "python benchmarks/bench_train.py " + " ".join(sys.argv[1:]),
        "baseline": "projector-only (same preset and steps, LoRA frozen)",
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": args.threads or torch.get_num_threads(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "results": results,
    }
    out = args.out or RESULTS / f"train_{args.device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
