"""Benchmark ``crosstrainer assess`` stage by stage (a script, not a test).

For the sample clip and a generated 30 s 1280x720 clip (the sample's real frames, upscaled and looped), it measures in
one run: model load, the decode-only floor (every frame decoded, nothing converted), the decode + pose floor (the pose
pipeline alone), then the full assessment with the wall time of each stage (decode, pose, features, LLM), the real-time
factor (wall / clip duration, after the model is loaded) and the peak RSS of the process.

    .venv/bin/python benchmarks/bench_assess.py [--threads 2] [--json benchmarks/results/assess_cpu.json]

The baseline, measured in the same run with the same model: the one-pass pose pipeline (``PoseEstimator(parts=1)``,
the pipeline before issue 15), both alone and inside a full assessment; the pose of the default pipeline (cut into
parts at keyframes, one MediaPipe graph per core) is compared with it (PCK@0.05 of torso length).

Targets (issue 15, 2 cores): real-time factor <= 0.25 after load on the 30 s 720p clip, within 1.2x of the decode +
pose floor; pose agreement >= 0.95 PCK@0.05.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample_bicep_curl.mp4"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_long_clip(path: Path, seconds: float = 30.0, size: tuple[int, int] = (1280, 720)) -> Path:
    """The sample's frames, letterboxed to 1280x720 and looped forward/backward to ``seconds`` (30 fps, H.264)."""
    import av
    from PIL import Image

    from crosstrainer.video.decode import write_test_clip

    with av.open(str(SAMPLE)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    w, h = size
    out = []
    for f in frames:
        img = Image.fromarray(f)
        scale = min(w / img.width, h / img.height)
        img = img.resize((int(img.width * scale) // 2 * 2, int(img.height * scale) // 2 * 2), Image.BILINEAR)
        canvas = Image.new("RGB", size, (40, 40, 40))
        canvas.paste(img, ((w - img.width) // 2, (h - img.height) // 2))
        out.append(np.asarray(canvas))
    loop = out + out[::-1]
    n = int(seconds * 30)
    return write_test_clip(path, [loop[i % len(loop)] for i in range(n)], fps=30)


def pose_agreement(reference, other) -> dict:
    """PCK@0.05 of torso length of ``other`` against ``reference`` (same frames): over the joints MediaPipe calls
    visible in the reference (visibility >= 0.5; the usual PCK), and over every joint both report at all."""
    from crosstrainer.keypoints.skeleton import J

    xy = reference.xy
    torso = np.linalg.norm(
        (xy[:, J["left_shoulder"]] + xy[:, J["right_shoulder"]]) / 2
        - (xy[:, J["left_hip"]] + xy[:, J["right_hip"]]) / 2,
        axis=-1,
    )
    close = np.linalg.norm(xy - other.xy, axis=-1) < 0.05 * torso[:, None]
    visible = (reference.conf >= 0.5) & (other.conf > 0)
    reported = (reference.conf > 0) & (other.conf > 0)
    return {
        "pck_visible": round(float(close[visible].mean()), 4),
        "pck_all_reported": round(float(close[reported].mean()), 4),
        "same_times": bool(np.array_equal(reference.times_s, other.times_s)),
    }


def bench_clip(assessor, path: Path, label: str) -> dict:
    from crosstrainer.video.decode import decode_only, probe_video
    from crosstrainer.video.pose import PoseEstimator

    info = probe_video(path)
    floor_decode = decode_only(path)
    t = time.perf_counter()
    one_pass = PoseEstimator(
        sample_fps=assessor.encoder.sample_fps, max_side=assessor.encoder.max_side, parts=1
    ).estimate(path)
    one_pass_s = time.perf_counter() - t
    t = time.perf_counter()
    pose = PoseEstimator(sample_fps=assessor.encoder.sample_fps, max_side=assessor.encoder.max_side).estimate(path)
    floor_pose = time.perf_counter() - t
    estimator = assessor.encoder.estimator
    estimator.parts = 1  # the baseline: today's one-pass pipeline, the same model, in this run
    t = time.perf_counter()
    before = assessor.assess(path)
    before_s = time.perf_counter() - t
    estimator.parts = None
    t = time.perf_counter()
    result = assessor.assess(path)
    wall = time.perf_counter() - t
    tm = result.timings
    return {
        "clip": label,
        "resolution": f"{info.width}x{info.height}",
        "duration_s": round(info.duration_s, 2),
        "pose_parts": pose.meta["parts"],
        "decode_only_floor_s": round(floor_decode, 3),
        "decode_pose_one_pass_s": round(one_pass_s, 3),
        "decode_pose_floor_s": round(floor_pose, 3),
        **pose_agreement(one_pass, pose),
        "assess_one_pass_s": round(before_s, 3),
        "assess_read_pose_s": round(tm.get("read_s", float("nan")), 3),
        "features_s": round(tm.get("features_s", float("nan")), 3),
        "llm_s": round(tm.get("llm_s", float("nan")), 3),
        "wall_s": round(wall, 3),
        "rtf_one_pass": round(before_s / info.duration_s, 3),
        "rtf": round(wall / info.duration_s, 3),
        "rtf_decode_pose_floor": round(floor_pose / info.duration_s, 3),
        "wall_over_floor": round(wall / floor_pose, 3),
        "level": result.assessment.proficiency.level,
        "same_level_as_one_pass": result.assessment.proficiency.level == before.assessment.proficiency.level,
        "probability_change": round(
            max(
                abs(x - y)
                for x, y in zip(
                    result.assessment.proficiency.probabilities,
                    before.assessment.proficiency.probabilities,
                    strict=True,
                )
            ),
            4,
        ),
        "stage1_windows": len(result.assessment.stage1_windows),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--model", default=None, help="model folder (default: the bundled model)")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "assess_cpu.json"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import warnings

    warnings.filterwarnings("ignore")
    t = time.perf_counter()
    from crosstrainer.api import Assessor

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    assessor = Assessor.load(args.model)
    load_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        long_clip = make_long_clip(Path(tmp) / "long_720p.mp4")
        assessor.assess(SAMPLE)  # warm-up: first-call allocations, MediaPipe graph start
        rows = [bench_clip(assessor, SAMPLE, "sample_bicep_curl.mp4"), bench_clip(assessor, long_clip, "30 s 720p")]
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        "threads": args.threads,
        "model_load_s": round(load_s, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rows": rows,
        "targets": {"rtf_30s": 0.25, "wall_over_floor": 1.2, "pck": 0.95},
    }
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"crosstrainer assess, {report['machine']}, model load {report['model_load_s']} s")
    table.add_column("measure")
    for r in rows:
        table.add_column(r["clip"], justify="right")
    for key in [k for k in rows[0] if k != "clip"]:
        table.add_row(key.replace("_", " "), *(str(r[key]) for r in rows))
    console = Console()
    console.print(table)
    long = rows[1]
    console.print(
        f"30 s 720p: real-time factor {long['rtf']} (target <= 0.25; one-pass baseline {long['rtf_one_pass']}), "
        f"{long['wall_over_floor']}x the decode+pose floor (target <= 1.2), pose agreement with one pass "
        f"PCK@0.05 {long['pck_visible']} on visible joints ({long['pck_all_reported']} on all reported; target >= "
        f"0.95). Model load {report['model_load_s']} s, peak RSS {report['peak_rss_mb']} MB."
    )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
