"""Before/after figures of the attribute-synthesis perturbations (docs/training.md, "Attribute synthesis").

For each perturbation, one real correct clip it fits (exercise_correction side views or UI-PRMD front views): the
original (grey) and perturbed (colour) skeleton at four frames, and the kinematic signal that measures the attribute
over time (``KinematicEncoder.encode_frames``), with the fault's window shaded. Writes
``docs/img/synthesis_<kind>.png``::

    python scripts/plot_synthesis.py                       # data from ../shared/data, images to docs/img
    python scripts/plot_synthesis.py --data /data --out /tmp/img --kinds trunk_sway,knee_valgus
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from crosstrainer.data.pose_csv import load_exercise_correction
from crosstrainer.data.sample import Sample
from crosstrainer.data.ui_prmd import load_ui_prmd
from crosstrainer.encoders.kinematics import KinematicEncoder
from crosstrainer.features import synthesis as S
from crosstrainer.keypoints.skeleton import J, PoseSequence
from crosstrainer.report.drawing import BONES

ROOT = Path(__file__).resolve().parents[1]
CURL, PLANK = "exercise_correction/bicep_curl/test/clip002", "exercise_correction/plank/test/clip015"
# kind -> (clip id, severity, seed, per-frame signals to plot, axis label)
CHOICES: dict[str, tuple[str, float, int, tuple[str, ...], str]] = {
    "trunk_sway": (CURL, 0.7, 0, ("trunk_lean_fwd",), "trunk lean (deg)"),
    "trunk_lean": (CURL, 0.7, 0, ("trunk_lean_fwd",), "trunk lean (deg)"),
    "reduced_range": (CURL, 0.8, 0, ("elbow_angle_left",), "left elbow angle (deg)"),
    "side_lag": (
        "ui_prmd/m05_s01_e03_correct", 0.8, 0, ("shoulder_angle_left", "shoulder_angle_right"), "shoulder angle (deg)"
    ),
    "hips_drop": (PLANK, 0.8, 0, ("hip_line_offset",), "hips above the shoulder-ankle line (torso)"),
    "jerky_tempo": (CURL, 1.0, 0, ("wrist_speed",), "wrist speed (torso lengths / s)"),
    "compensating_part": (CURL, 0.8, 0, ("hip_x",), "hip centre x (torso)"),
    "knee_valgus": ("ui_prmd/m01_s01_e01_correct", 0.8, 0, ("knee_width",), "knee width (torso)"),
    "weight_shift": ("ui_prmd/m07_s01_e01_correct", 0.8, 0, ("com_bos_offset",), "centre of mass - base of support"),
}  # fmt: skip


def load(data: Path) -> dict[str, Sample]:
    """The correct clips the figures use, by id."""
    wanted = {c[0] for c in CHOICES.values()}
    samples = load_exercise_correction(data)
    ui = data / "ui_prmd"
    if (ui / "manifest_kinect.csv").is_file():
        movements = sorted({i.split("/")[1][:3] for i in wanted if i.startswith("ui_prmd/")})
        samples += load_ui_prmd(ui, subjects="s01", movements=movements, correct=True)
    return {s.id: s for s in samples if s.id in wanted}


def draw_skeleton(ax: plt.Axes, xy: np.ndarray, conf: np.ndarray, colour: str, width: float, alpha: float) -> None:
    for a, b in BONES:
        i, j = J[a], J[b]
        if conf[i] >= 0.5 and conf[j] >= 0.5 and np.isfinite(xy[[i, j]]).all():
            ax.plot(xy[[i, j], 0], xy[[i, j], 1], color=colour, lw=width, alpha=alpha, solid_capstyle="round")
    nose, sh = J["nose"], [J["left_shoulder"], J["right_shoulder"]]
    if conf[nose] >= 0.5 and np.isfinite(xy[nose]).all():
        ax.plot(*zip(xy[nose], xy[sh].mean(0), strict=True), color=colour, lw=width, alpha=alpha)
        ax.plot(*xy[nose], "o", color=colour, ms=3, alpha=alpha)


def figure(kind: str, smp: Sample, out: Path) -> Path:
    _, severity, seed, signals, label = CHOICES[kind]
    pose: PoseSequence = smp.pose
    new, fault = S.PERTURBATIONS[kind](pose, np.random.default_rng(seed), severity)
    t = pose.times_s - pose.times_s[0]
    full = fault.params["full_window"]
    # four frames: window start, two inside at full strength, the turning point of the fault
    diff = np.nanmax(np.linalg.norm(np.nan_to_num(new.xy - pose.xy), axis=-1), axis=1)
    inside = np.flatnonzero((t >= fault.window[0]) & (t < fault.window[1]))
    picks = sorted({int(inside[0]), *np.linspace(inside[0], inside[-1], 4).astype(int)[1:3], int(np.argmax(diff))})[:4]

    ok = pose.conf >= 0.5
    pts = np.concatenate([pose.xy[:, ok.any(0)], new.xy[:, ok.any(0)]]).reshape(-1, 2)
    lo, hi = np.nanmin(pts, 0), np.nanmax(pts, 0)
    pad = 0.08 * (hi - lo).max()
    # skeleton panels as tall as the body's extent needs (at most 3.6 in), the signal 2.2 in, titles 0.9 in
    aspect = (hi[1] - lo[1] + 2 * pad) / (hi[0] - lo[0] + 2 * pad)
    top = float(np.clip(aspect * 10 / len(picks) * 0.8, 1.2, 3.6))
    fig = plt.figure(figsize=(10, top + 3.1), dpi=80)
    grid = fig.add_gridspec(2, len(picks), height_ratios=[top, 2.2])
    for k, f in enumerate(picks):
        ax = fig.add_subplot(grid[0, k])
        draw_skeleton(ax, pose.xy[f], pose.conf[f], "0.6", 2.5, 0.9)
        draw_skeleton(ax, new.xy[f], pose.conf[f], "tab:red", 1.8, 0.95)
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(hi[1] + pad, lo[1] - pad)  # image coordinates: y down
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"t = {t[f]:.2f} s", fontsize=9)
    ax = fig.add_subplot(grid[1, :])
    frames0, _ = KinematicEncoder().encode_frames(pose)
    frames1, _ = KinematicEncoder().encode_frames(new)
    names = KinematicEncoder().frame_feature_names
    for n, style in zip(signals, ("-", "--"), strict=False):
        ax.plot(t, frames0[:, names.index(n)], style, color="0.55", lw=2, label=f"{n} original")
        ax.plot(t, frames1[:, names.index(n)], style, color="tab:red", lw=1.6, label=f"{n} perturbed")
    ax.axvspan(*fault.window, color="tab:red", alpha=0.07, lw=0)
    ax.axvspan(*full, color="tab:red", alpha=0.08, lw=0, label="fault window (full strength darker)")
    for f in picks:
        ax.axvline(t[f], color="0.8", lw=0.8, zorder=0)
    ax.set_xlim(t[0], t[-1] + 1 / pose.fps)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(label, fontsize=9)
    ax.legend(fontsize=7, loc="best", ncol=2, frameon=False)
    ax.grid(alpha=0.3)
    fig.suptitle(
        f"{kind} -> {fault.attribute} (severity {fault.severity:.1f}): {fault.description}\n{smp.id} ({smp.sport})",
        fontsize=10,
    )
    fig.tight_layout()
    path = out / f"synthesis_{kind}.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--kinds", default=",".join(CHOICES), help="comma-separated perturbation kinds")
    args = parser.parse_args()
    clips = load(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    for kind in args.kinds.split(","):
        clip_id = CHOICES[kind][0]
        if clip_id not in clips:
            print(f"{kind}: clip {clip_id} not found under {args.data}, skipped")
            continue
        path = figure(kind, clips[clip_id], args.out)
        print(f"{kind}: {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
