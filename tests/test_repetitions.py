"""The repetition finder: synthetic signals with a known answer (labelled SYNTHETIC), noise that must not be counted,
and real clips (exercise_correction, UI-PRMD; skipped when ../shared/data is absent).

How the expected real counts were verified: the primary signal of each bicep-curl clip was plotted (elbow angle,
raw and smoothed, with the normalised signal u and the found reps) and read by eye. clip000 (correct curl, 2.9 s):
the right elbow goes 151 -> 32 degrees (0.5 s) -> 150 (1.9 s) and stays extended: one curl. clip002 (correct, 3.4 s):
the left elbow starts flexed (about 36 degrees), extends to 149 at 2.07 s and flexes back to 31 at 2.3 s, then a
partial extension to about 70: one full cycle (out and back) from the flexed side, where the clip starts and ends.
The exercise_correction clips are fragments of 0.2 to 3.4 s (recovered from CSV rows), so none holds several curls:
the periodic real-data case tiles clip000 three times (each copy starts at 138 and ends at 150 degrees, so the joins
are nearly continuous) and expects exactly 3.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crosstrainer.keypoints.skeleton import NUM_JOINTS, J, PoseSequence
from crosstrainer.movement import describe_reps, find_repetitions, primary_joints
from crosstrainer.movement.repetitions import NO_MOTION

# side view, facing +x, image coordinates (y down), torso = 100 px
STAND = {
    "nose": (10, 80), "left_shoulder": (0, 100), "right_shoulder": (2, 100), "left_elbow": (0, 160),
    "right_elbow": (2, 160), "left_wrist": (0, 215), "right_wrist": (2, 215), "left_hip": (0, 200),
    "right_hip": (2, 200), "left_knee": (0, 290), "right_knee": (2, 290), "left_ankle": (0, 380),
    "right_ankle": (2, 380), "left_heel": (-8, 390), "right_heel": (-6, 390), "left_foot_index": (20, 392),
    "right_foot_index": (22, 392),
}  # fmt: skip
UPPER = ("nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist")


def standing(n: int) -> np.ndarray:
    """(n, 17, 2) SYNTHETIC standing person, side view."""
    xy = np.zeros((n, NUM_JOINTS, 2))
    for name, p in STAND.items():
        xy[:, J[name]] = p
    return xy


def make_pose(xy: np.ndarray, fps: float = 30.0, conf: np.ndarray | None = None) -> PoseSequence:
    conf = np.ones(xy.shape[:2]) if conf is None else conf
    return PoseSequence(xy=xy, conf=conf, times_s=np.arange(len(xy)) / fps, fps=fps)


def rep_phase(n_reps: int, period_s: float, rest_s: float, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Times and the 0..1 excursion of ``n_reps`` cosine reps between ``rest_s`` of rest at both ends."""
    t = np.arange(round((n_reps * period_s + 2 * rest_s) * fps)) / fps
    ph = np.clip((t - rest_s) / period_s, 0, n_reps)
    return t, 0.5 - 0.5 * np.cos(2 * np.pi * ph)


def synthetic_curl(
    n_reps: int = 4,
    period_s: float = 2.0,
    rest_s: float = 1.0,
    fps: float = 30.0,
    noise: float = 0.0,
    seed: int = 0,
    swing_deg: list[float] | None = None,
) -> PoseSequence:
    """SYNTHETIC: both elbows driven by a cosine from 170 to 40 degrees, ``n_reps`` times.

    ``swing_deg`` (one value per rep) leans the upper body back about the hips, in phase with each curl.
    """
    t, e = rep_phase(n_reps, period_s, rest_s, fps)
    theta = np.radians(170 - 130 * e)
    xy = standing(len(t))
    for s in ("left", "right"):
        el = xy[:, J[f"{s}_elbow"]]
        xy[:, J[f"{s}_wrist"], 0] = el[:, 0] + 55 * np.sin(np.pi - theta)
        xy[:, J[f"{s}_wrist"], 1] = el[:, 1] - 55 * np.cos(np.pi - theta)
    if swing_deg is not None:
        k = np.clip(((t - rest_s) // period_s).astype(int), 0, n_reps - 1)
        phi = np.radians(np.asarray(swing_deg)[k] * e)
        hip = xy[:, J["left_hip"]].copy()
        for name in UPPER:
            d = xy[:, J[name]] - hip
            c, s_ = np.cos(phi), np.sin(phi)
            # image y is down: "up" (0, -1) turns to (-sin, -cos), backwards since the person faces +x
            xy[:, J[name], 0] = hip[:, 0] + c * d[:, 0] + s_ * d[:, 1]
            xy[:, J[name], 1] = hip[:, 1] - s_ * d[:, 0] + c * d[:, 1]
    xy += np.random.default_rng(seed).normal(0, noise, xy.shape)
    return make_pose(xy, fps)


def random_walk(n: int = 300, step: float = 1.5, seed: int = 0) -> PoseSequence:
    """SYNTHETIC: every joint wanders independently (Gaussian random walk, ``step`` px per frame)."""
    rng = np.random.default_rng(seed)
    return make_pose(standing(n) + np.cumsum(rng.normal(0, step, (n, NUM_JOINTS, 2)), axis=0))


def still(n: int = 300, noise: float = 1.0, seed: int = 0) -> PoseSequence:
    """SYNTHETIC: a person standing still, with 1 px of detector jitter."""
    return make_pose(standing(n) + np.random.default_rng(seed).normal(0, noise, (n, NUM_JOINTS, 2)))


def tile(pose: PoseSequence, k: int) -> PoseSequence:
    n = len(pose)
    return PoseSequence(
        xy=np.concatenate([pose.xy] * k),
        conf=np.concatenate([pose.conf] * k),
        times_s=np.arange(n * k) / pose.fps,
        fps=pose.fps,
    )


# ------------------------------------------------------------------------------------------------ text helper
def test_describe_reps() -> None:
    assert describe_reps([2]) == "rep 2"
    assert describe_reps([4, 2, 3]) == "reps 2-4"
    assert describe_reps([1, 3]) == "reps 1, 3"
    assert describe_reps([1, 2, 3, 5, 7, 8]) == "reps 1-3, 5, 7-8"
    assert describe_reps([]) == ""


# ------------------------------------------------------------------------------------------------ SYNTHETIC
def test_synthetic_sine_elbow_gives_exactly_four_reps() -> None:
    """SYNTHETIC: 4 cosine curls of 2 s (170 -> 40 -> 170 degrees) between 1 s rests."""
    report = find_repetitions(synthetic_curl())
    assert report.kind == "periodic" and report.count == 4, report.to_dict()
    assert report.confidence >= 0.8
    assert report.primary[0] in ("left_elbow_angle", "right_elbow_angle")
    turns = [r.turn_s for r in report.repetitions]
    assert np.allclose(turns, [2.0, 4.0, 6.0, 8.0], atol=0.1)
    for r in report.repetitions:
        assert r.range_deg == pytest.approx(130, abs=8)
        assert r.start_s < r.turn_s < r.end_s and 1.2 < r.tempo_s < 2.1
    assert [r.pause_s is None for r in report.repetitions] == [False, False, False, True]
    assert all(0.0 <= r.pause_s < 0.8 for r in report.repetitions[:-1])


@pytest.mark.parametrize("fps", [15.0, 30.0, 60.0])
def test_synthetic_count_survives_noise_gaps_and_frame_rate(fps: float) -> None:
    """SYNTHETIC: 2 px jitter, and the wrists lost (conf 0, NaN) for 0.3 s in the middle of a rep."""
    pose = synthetic_curl(noise=2.0, seed=1, fps=fps)
    gap = (pose.times_s > 4.8) & (pose.times_s < 5.1)
    for s in ("left", "right"):
        pose.conf[gap, J[f"{s}_wrist"]] = 0.0
        pose.xy[gap, J[f"{s}_wrist"]] = np.nan
    report = find_repetitions(pose)
    assert report.count == 4 and report.kind == "periodic", report.to_dict()


def test_synthetic_three_reps_and_one_rep() -> None:
    """SYNTHETIC: the count follows the number of cosine cycles; one cycle is a 'single' movement."""
    assert find_repetitions(synthetic_curl(n_reps=3, period_s=1.5)).count == 3
    one = find_repetitions(synthetic_curl(n_reps=1))
    assert (one.kind, one.count) == ("single", 1) and one.confidence > 0.7


def test_generated_static_pose_is_static_with_a_reason() -> None:
    """SYNTHETIC: standing still with detector jitter is never counted."""
    for seed in range(5):
        report = find_repetitions(still(seed=seed, noise=1.5))
        assert report.kind == "static" and report.count == 0
        assert report.reason == NO_MOTION == "no repetitions found: the body barely moves"


def test_random_walk_never_gives_a_confident_periodic_count() -> None:
    """SYNTHETIC: independent random walks of every joint (10 s and 30 s, two step sizes, 15 seeds each)."""
    counts = []
    for n in (300, 900):
        for step in (1.0, 3.0):
            for seed in range(15):
                report = find_repetitions(random_walk(n=n, step=step, seed=seed))
                assert report.kind != "periodic", (n, step, seed, report.to_dict())
                counts.append(report.count)
    assert max(counts) <= 6  # no runaway count on noise


def test_primary_joints_pick_the_moving_joint() -> None:
    """SYNTHETIC: curls are carried by the elbows; a squat (knees and hips bend) by the knees and hips."""
    assert set(primary_joints(synthetic_curl())[:2]) == {"left_elbow_angle", "right_elbow_angle"}
    t, e = rep_phase(3, 2.0, 0.5, 30.0)
    a = np.radians(40) * e  # shin tilts forward, thigh back: knee angle 180 -> 100 degrees
    shin = 90 * np.stack([np.sin(a), -np.cos(a)], -1)  # ankle -> knee, image y down
    thigh = 90 * np.stack([-np.sin(a), -np.cos(a)], -1)  # knee -> hip
    xy = standing(len(t))
    drop = xy[:, J["left_ankle"]] + shin + thigh - xy[:, J["left_hip"]]
    for s in ("left", "right"):
        xy[:, J[f"{s}_knee"]] = xy[:, J[f"{s}_ankle"]] + shin
    for name in (*UPPER, "left_hip", "right_hip"):
        xy[:, J[name]] += drop
    primary = primary_joints(make_pose(xy))
    assert primary and all(p.split("_")[1] in ("knee", "hip") for p in primary[:2]), primary
    assert find_repetitions(make_pose(xy)).count == 3


def test_report_to_dict_is_json_ready() -> None:
    d = find_repetitions(synthetic_curl()).to_dict()
    text = json.dumps(d)
    assert json.loads(text)["count"] == 4
    assert set(d) == {"kind", "count", "primary", "confidence", "repetitions", "reason"}
    rep = d["repetitions"][0]
    assert set(rep) == {"index", "start_s", "end_s", "turn_s", "range_deg", "range_torso", "tempo_s", "pause_s"}
    assert rep["index"] == 1 and rep["range_torso"] is None and rep["turn_s"] == round(rep["turn_s"], 2)
    static = find_repetitions(still()).to_dict()
    assert static["count"] == 0 and static["repetitions"] == [] and static["kind"] == "static"


def test_too_short_or_empty_input() -> None:
    assert find_repetitions(make_pose(standing(3))).count == 0
    empty = PoseSequence.empty(fps=30.0, n=40)
    report = find_repetitions(empty)
    assert report.count == 0 and report.kind == "static" and report.reason.startswith("no repetitions found")


# ------------------------------------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def exercise_clips(shared_data: Path) -> dict[str, object]:
    from crosstrainer.data.pose_csv import load_exercise_correction

    return {s.id.removeprefix("exercise_correction/"): s for s in load_exercise_correction(shared_data)}


def test_real_bicep_curl_clips_counted_as_inspected(exercise_clips) -> None:
    """Real: clip000 and clip002 hold one full curl cycle each (see the module docstring for how this was read)."""
    r0 = find_repetitions(exercise_clips["bicep_curl/test/clip000"].pose)
    assert (r0.kind, r0.count) == ("single", 1), r0.to_dict()
    assert r0.primary[0] == "right_elbow_angle"
    assert r0.repetitions[0].turn_s == pytest.approx(0.53, abs=0.15)
    assert 100 < r0.repetitions[0].range_deg < 130
    r2 = find_repetitions(exercise_clips["bicep_curl/test/clip002"].pose)
    assert r2.count == 1 and r2.primary[0] == "left_elbow_angle"
    assert r2.repetitions[0].turn_s == pytest.approx(2.07, abs=0.15)
    assert 100 < r2.repetitions[0].range_deg < 130


def test_real_curl_repeated_three_times_gives_three_periodic_reps(exercise_clips) -> None:
    """Real motion, tiled: clip000 three times in a row is three curls, one per copy."""
    pose = exercise_clips["bicep_curl/test/clip000"].pose
    report = find_repetitions(tile(pose, 3))
    assert (report.kind, report.count) == ("periodic", 3), report.to_dict()
    gaps = np.diff([r.turn_s for r in report.repetitions])
    assert np.allclose(gaps, pose.duration_s, atol=0.1)


def test_real_planks_are_static(exercise_clips) -> None:
    """Real plank holds: most are 'static'; the longest correct hold is; none counts more than one rep."""
    planks = {k: v for k, v in exercise_clips.items() if k.startswith("plank/")}
    reports = {k: find_repetitions(v.pose) for k, v in planks.items()}
    static = [k for k, r in reports.items() if r.kind == "static"]
    assert len(static) / len(planks) >= 0.8, {k: r.kind for k, r in reports.items()}
    longest = max((k for k in planks if planks[k].meta["label"] == "C"), key=lambda k: len(planks[k].pose))
    assert reports[longest].kind == "static" and reports[longest].reason == NO_MOTION
    assert max(r.count for r in reports.values()) <= 1


def test_real_clips_never_give_a_runaway_count(exercise_clips) -> None:
    """Real: every exercise_correction clip is at most 3.4 s; no clip may hold more than 2 reps."""
    counts = {k: find_repetitions(v.pose).count for k, v in exercise_clips.items()}
    assert max(counts.values()) <= 2, counts


def test_ui_prmd_files_hold_one_repetition_each(shared_data: Path) -> None:
    """Real: UI-PRMD files are one segmented repetition each. 20 files, 2 per movement (one correct, one not), seen
    by the 45-degree virtual camera. Observed: 19 of 20 give 1 (the miss: an inline lunge whose Kinect arms glitch).
    Over all 2,000 files: 94.4 % from the front, 96.3 % from the side (docs/attributes.md)."""
    ui_prmd = pytest.importorskip("crosstrainer.data.ui_prmd", reason="crosstrainer.data.ui_prmd not written yet")
    root = shared_data / "ui_prmd"
    if not (root / "manifest_kinect.csv").is_file():
        pytest.skip(f"UI-PRMD not found at {root}")
    samples = []
    for m in range(1, 11):
        for subject, correct in (("s02", True), ("s07", False)):
            samples += ui_prmd.load_ui_prmd(root, "oblique_left", subjects=subject, movements=m, correct=correct)[:1]
    assert len(samples) == 20
    counts = {s.id: find_repetitions(s.pose).count for s in samples}
    share = sum(c == 1 for c in counts.values()) / len(counts)
    assert share >= 0.85, counts
    assert max(counts.values()) <= 2, counts
