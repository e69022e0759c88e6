"""Attribute synthesis (crosstrainer.features.synthesis) on real correct executions: exercise_correction (MediaPipe,
side views) and UI-PRMD (Kinect, front view with 3-D joints), from the project's ../shared/data (skipped when
absent). Each perturbation must (a) pass ``check_plausible``, (b) move the kinematic features that measure its
attribute the right way by a non-trivial amount, and (c) leave the frames outside its window untouched; synthesis is
deterministic for a seed. A few contract tests run on a small generated curl and need no data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crosstrainer.data.pose_csv import load_exercise_correction
from crosstrainer.data.sample import Commentary, Sample
from crosstrainer.data.ui_prmd import load_ui_prmd
from crosstrainer.encoders.kinematics import KinematicEncoder
from crosstrainer.features import synthesis as S
from crosstrainer.keypoints.projection import Camera, project
from crosstrainer.keypoints.skeleton import NUM_JOINTS, J, PoseSequence

ENC = KinematicEncoder()
NAMES = ENC.feature_names
FRAME_NAMES = ENC.frame_feature_names


# ------------------------------------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def ec_clips(shared_data: Path) -> list[Sample]:
    """Correct exercise_correction clips long enough to perturb (bicep curl, plank, lunge; side views)."""
    clips = load_exercise_correction(shared_data)
    return [s for s in clips if s.proficiency == S.GOOD and len(s.pose) >= S.MIN_FRAMES]


@pytest.fixture(scope="module")
def ui_clips(shared_data: Path) -> list[Sample]:
    """Correct UI-PRMD repetitions of subject s01, episodes 1-3 of the 10 movements (front view, 3-D joints)."""
    root = shared_data / "ui_prmd"
    if not (root / "manifest_kinect.csv").is_file():
        pytest.skip(f"UI-PRMD not found at {root}")
    reps = load_ui_prmd(root, subjects="s01", correct=True)
    return [s for s in reps if s.meta["episode"] in ("e01", "e02", "e03")]


@pytest.fixture(scope="module")
def clips(ec_clips: list[Sample], ui_clips: list[Sample]) -> list[Sample]:
    return ec_clips + ui_clips


def apply_all(
    kind: str, clips: list[Sample], severity: float, seed: int = 0
) -> list[tuple[Sample, PoseSequence, S.Fault]]:
    """(sample, perturbed pose, fault) for every clip the perturbation fits."""
    out = []
    for smp in clips:
        try:
            pose, fault = S.PERTURBATIONS[kind](smp.pose, np.random.default_rng(seed), severity)
        except S.NotApplicable:
            continue
        out.append((smp, pose, fault))
    return out


def window_mean(pose: PoseSequence, fault: S.Fault, name: str) -> float:
    """Mean of one per-second kinematic feature over the seconds that overlap the fault's window."""
    feats = ENC.encode(pose)
    rel = feats.times_s - pose.times_s[0]
    rows = (rel < fault.window[1]) & (rel + ENC.window_s > fault.window[0])
    return float(feats.features[rows, NAMES.index(name)].mean())


def full_mean(pose: PoseSequence, fault: S.Fault, name: str) -> float:
    """Mean of one per-frame kinematic quantity (``FRAME_FEATURES``) where the fault is at full strength."""
    frames, _ = ENC.encode_frames(pose)
    rel = pose.times_s - pose.times_s[0]
    start, end = fault.params["full_window"]
    return float(np.nanmean(frames[(rel >= start - 1e-9) & (rel < end - 1e-9), FRAME_NAMES.index(name)]))


def frame_range(pose: PoseSequence, fault: S.Fault, name: str) -> float:
    """p95-p5 of one per-frame kinematic quantity (``FRAME_FEATURES``) where the fault is at full strength."""
    frames, _ = ENC.encode_frames(pose)
    rel = pose.times_s - pose.times_s[0]
    start, end = fault.params["full_window"]
    x = frames[(rel >= start - 1e-9) & (rel < end - 1e-9), FRAME_NAMES.index(name)]
    x = x[np.isfinite(x)]
    return float(np.percentile(x, 95) - np.percentile(x, 5)) if x.size else 0.0


# ------------------------------------------------------------------------------------------- (a) plausibility
@pytest.mark.parametrize("kind", list(S.PERTURBATIONS))
def test_perturbation_is_plausible(kind: str, clips: list[Sample]) -> None:
    for severity in (0.5, 1.0):
        done = apply_all(kind, clips, severity)
        assert done, f"{kind} fits none of the {len(clips)} clips"
        for smp, pose, fault in done:
            chk = S.check_plausible(smp.pose, pose)
            assert chk["plausible"], (smp.id, fault.description, chk)
            assert chk["bone_change_max_3d" if "xyz" in smp.pose.meta else "bone_change_max"] <= S.MAX_BONE_CHANGE
            assert chk["jump_ratio"] <= S.MAX_JUMP_RATIO
            assert chk["changed_frames"] > 0
            assert fault.attribute == S.KINDS[kind] and fault.attribute in S.ATTRIBUTES
            assert fault.magnitude > 0 and fault.unit and fault.feedback.startswith("Your")
            assert np.array_equal(np.isnan(pose.xy), np.isnan(smp.pose.xy)), "missing joints stay missing"
            assert np.array_equal(pose.conf, smp.pose.conf)


def test_rotations_keep_2d_bone_lengths_exactly(ec_clips: list[Sample]) -> None:
    """Rotation-only perturbations (no 3-D, no IK) keep every 2-D bone length to float precision."""
    for kind in ("trunk_sway", "trunk_lean", "reduced_range"):
        for smp, pose, _ in apply_all(kind, ec_clips, 1.0):
            assert S.check_plausible(smp.pose, pose)["bone_change_max"] < 1e-3, (kind, smp.id)


def test_3d_joints_follow_the_2d_edit(ui_clips: list[Sample]) -> None:
    """With UI-PRMD's 3-D joints, re-projecting the perturbed ``xyz`` gives the perturbed 2-D keypoints."""
    for kind in ("trunk_lean", "reduced_range", "hips_drop", "jerky_tempo", "knee_valgus", "weight_shift"):
        done = apply_all(kind, ui_clips, 0.8)
        assert done, kind
        for _smp, pose, _ in done[:6]:
            meta = pose.meta
            camera = Camera(**{**meta["camera"], "image_size": tuple(meta["camera"]["image_size"])})
            again = project(meta["xyz"], camera, target=np.asarray(meta["target_m"])).xy
            err = np.nanmax(np.abs(again - pose.xy))
            assert err < 1.0, (kind, err)  # pixels, of a 1280x720 image


# -------------------------------------------------------------------------------- (b) the attribute's features
def test_trunk_sway_raises_trunk_lean_range(clips: list[Sample]) -> None:
    gains = []
    for smp, pose, fault in apply_all("trunk_sway", clips, 0.6):
        gain = window_mean(pose, fault, "trunk_lean_range") - window_mean(smp.pose, fault, "trunk_lean_range")
        assert gain > 1.5, (smp.id, gain)
        gains.append(gain)
    assert np.median(gains) > 6.0, np.median(gains)  # amplitude 18 degrees


def test_trunk_lean_raises_trunk_lean(clips: list[Sample]) -> None:
    upright = [s for s in clips if s.sport != "plank"]
    for smp, pose, fault in apply_all("trunk_lean", upright, 0.5):  # 20 degrees
        gain = window_mean(pose, fault, "trunk_lean_mean") - window_mean(smp.pose, fault, "trunk_lean_mean")
        assert gain > 10.0, (smp.id, gain)
        assert 17.0 < fault.magnitude < 23.0


def test_reduced_range_lowers_the_primary_joint_range(clips: list[Sample]) -> None:
    cuts = []
    for smp, pose, fault in apply_all("reduced_range", clips, 0.5):  # keeps 60 % of the swing
        side, joint = fault.params["joint"].split()
        name = f"{joint}_angle_{side}"
        before, after = frame_range(smp.pose, fault, name), frame_range(pose, fault, name)
        cuts.append(1 - after / before)
        assert after < before, (smp.id, name, before, after)
        assert 25 < fault.magnitude < 60, (smp.id, fault.description)
    assert np.median(cuts) > 0.3, np.median(cuts)


def test_side_lag_raises_asymmetry(ui_clips: list[Sample]) -> None:
    done = apply_all("side_lag", ui_clips, 0.8) + apply_all("side_lag", ui_clips, 0.8, seed=1)
    assert {f.params["mode"] for _, _, f in done} == {"lag", "amplitude"}
    for smp, pose, fault in done:
        gain = max(full_mean(pose, fault, n) - full_mean(smp.pose, fault, n) for n in ("sym_shoulder", "sym_elbow"))
        assert gain > 1.5, (smp.id, fault.description, gain)
        if fault.params["mode"] == "lag":
            assert abs(fault.magnitude - fault.params["lag_s"]) < 0.1, fault


def test_hips_drop_moves_the_hip_line_offset(ec_clips: list[Sample]) -> None:
    planks = [s for s in ec_clips if s.sport == "plank"]
    done = apply_all("hips_drop", planks, 0.7) + apply_all("hips_drop", planks, 0.7, seed=3)
    assert {f.params["mode"] for _, _, f in done} == {"sag", "pike"}
    for smp, pose, fault in done:
        change = window_mean(pose, fault, "hip_line_offset_mean") - window_mean(smp.pose, fault, "hip_line_offset_mean")
        sign = -1 if fault.params["mode"] == "sag" else 1
        assert sign * change > 0.07, (smp.id, fault.params["mode"], change)  # 12 % of the torso length
        assert abs(fault.magnitude - 12.0) < 1.5


def test_jerky_tempo_raises_jerk(clips: list[Sample]) -> None:
    gains = []
    for smp, pose, fault in apply_all("jerky_tempo", clips, 0.8):
        name = "hip_jerk_log" if fault.params["tremor_part"] == "pelvis" else "wrist_jerk_log"
        gains.append(window_mean(pose, fault, name) - window_mean(smp.pose, fault, name))
        assert fault.params["max_shift_s"] < 0.25
    gains = np.array(gains)
    assert (gains > 0).mean() >= 0.8, gains
    assert np.median(gains) > 0.25, gains


def test_compensating_part_moves_a_still_part(clips: list[Sample]) -> None:
    parts = set()
    for smp, pose, fault in apply_all("compensating_part", clips, 0.7):
        parts.add(fault.params["part"])
        if fault.params["part"] == "hips":
            gain = window_mean(pose, fault, "hip_x_range") - window_mean(smp.pose, fault, "hip_x_range")
            assert gain > 0.01, (smp.id, gain)
        else:
            gain = max(
                frame_range(pose, fault, f"shoulder_angle_{s}") - frame_range(smp.pose, fault, f"shoulder_angle_{s}")
                for s in ("left", "right")
            )
            assert gain > 5.0, (smp.id, gain)
    assert parts == {"hips", "arms"}


def test_knee_valgus_brings_the_knees_together(ui_clips: list[Sample]) -> None:
    done = apply_all("knee_valgus", ui_clips, 0.7)
    assert {s.sport for s, _, _ in done} >= {"deep squat", "sit to stand"}
    for smp, pose, fault in done:
        change = window_mean(pose, fault, "knee_width_mean") - window_mean(smp.pose, fault, "knee_width_mean")
        assert change < -0.02, (smp.id, change)
        assert S.check_plausible(smp.pose, pose)["bone_change_max_3d"] < 1e-3  # turned about the hip-ankle axis


def test_weight_shift_moves_the_centre_of_mass(clips: list[Sample]) -> None:
    upright = [s for s in clips if s.sport != "plank"]
    for smp, pose, fault in apply_all("weight_shift", upright, 0.6):
        change = window_mean(pose, fault, "com_bos_offset_mean") - window_mean(smp.pose, fault, "com_bos_offset_mean")
        assert abs(change) > 0.06, (smp.id, change)


def test_not_applicable_where_the_motion_is_missing(ec_clips: list[Sample], ui_clips: list[Sample]) -> None:
    planks = [s for s in ec_clips if s.sport == "plank"]
    assert not apply_all("reduced_range", planks, 0.5), "a held plank has no range to reduce"
    assert not apply_all("knee_valgus", ec_clips, 0.5), "side views cannot show knees caving in"
    raises = [s for s in ui_clips if s.sport == "standing shoulder abduction"]
    assert not apply_all("knee_valgus", raises, 0.5)


# ----------------------------------------------------------------------------------------------- (c) windows
@pytest.mark.parametrize("kind", list(S.PERTURBATIONS))
def test_frames_outside_the_window_are_unchanged(kind: str, clips: list[Sample]) -> None:
    partial = 0
    for seed in range(4):
        for smp, pose, fault in apply_all(kind, clips, 0.7, seed=seed):
            rel = smp.pose.times_s - smp.pose.times_s[0]
            inside = (rel >= fault.window[0] - 1e-6) & (rel < fault.window[1] - 1e-6)
            assert inside.any()
            outside = ~inside
            assert np.array_equal(pose.xy[outside], smp.pose.xy[outside], equal_nan=True), smp.id
            if "xyz" in smp.pose.meta:
                assert np.array_equal(pose.meta["xyz"][outside], smp.pose.meta["xyz"][outside], equal_nan=True)
            changed = ~np.isclose(pose.xy, smp.pose.xy, equal_nan=True).all((1, 2))
            assert changed[inside].any() and not changed[outside].any()
            partial += int(outside.any())
    assert partial > 0, f"{kind}: no window shorter than its clip to test"


# -------------------------------------------------------------------------------------- synthesize, determinism
def test_synthesize_contract(clips: list[Sample], ui_clips: list[Sample]) -> None:
    bad = ui_clips[0].model_copy(update={"id": "x/incorrect", "proficiency": S.FAULTY})
    out = S.synthesize([*clips, bad], rng_seed=7, per_sample=2)
    correct = {s.id: s for s in clips}
    assert len(out) >= 1.9 * len(correct)
    assert len({s.id for s in out}) == len(out)
    for new in out:
        base_id, tag = new.id.split("#synth-")
        kind, k = tag.rsplit("-", 1)
        orig = correct[base_id]
        fault = new.meta["synthetic"]
        assert kind == fault["kind"] and k in ("0", "1") and new.meta["synthetic_from"] == base_id
        assert new.source == orig.source and new.sport == orig.sport and new.split == orig.split
        assert new.proficiency == S.FAULTY
        assert new.video is None and new.features is None and new.keypoints is None
        (comment,) = new.commentary
        assert comment.attributes == [fault["attribute"]] and fault["attribute"] in S.ATTRIBUTES
        assert tuple(comment.window) == tuple(fault["window"]) and comment.text == fault["feedback"]
        assert 0 <= comment.window[0] < comment.window[1] <= orig.pose.duration_s + 1e-6
        assert 0.25 <= fault["severity"] <= 1.0
        assert new.pose is not orig.pose and len(new.pose) == len(orig.pose)
        assert json.loads(new.model_dump_json())["meta"]["synthetic"] == fault  # serialisable (the pose is not)
    assert {s.meta["synthetic"]["kind"] for s in out} == set(S.PERTURBATIONS)
    only = S.synthesize(clips, rng_seed=7, kinds=["trunk_lean", "weight_shift"])
    assert {s.meta["synthetic"]["kind"] for s in only} <= {"trunk_lean", "weight_shift"}


def test_synthesize_is_deterministic(clips: list[Sample]) -> None:
    subset = clips[::3]
    a = S.synthesize(subset, rng_seed=3)
    b = {s.id: s for s in S.synthesize(list(reversed(subset)), rng_seed=3)}  # order does not matter
    c = {s.id: s for s in S.synthesize(subset, rng_seed=4)}
    assert sorted(b) == sorted(s.id for s in a)
    for s in a:
        assert np.array_equal(s.pose.xy, b[s.id].pose.xy, equal_nan=True)
        assert s.commentary == b[s.id].commentary and s.meta == b[s.id].meta
    differs = [s.id not in c or not np.array_equal(s.pose.xy, c[s.id].pose.xy, equal_nan=True) for s in a]
    assert np.mean(differs) > 0.9, "another seed gives other faults"


# ----------------------------------------------------------------------------------------- without real data
def _curl(n: int = 90, fps: float = 30.0) -> PoseSequence:
    """A generated standing side-view curl: the right forearm swings 0-120 degrees twice, 1.5 s per rep."""
    t = np.arange(n) / fps
    xy = np.zeros((n, NUM_JOINTS, 2))
    base = {
        "nose": (0.52, 0.10), "left_shoulder": (0.50, 0.20), "right_shoulder": (0.50, 0.20),
        "left_elbow": (0.50, 0.35), "right_elbow": (0.50, 0.35), "left_wrist": (0.50, 0.50),
        "right_wrist": (0.50, 0.50), "left_hip": (0.50, 0.50), "right_hip": (0.50, 0.50),
        "left_knee": (0.50, 0.70), "right_knee": (0.50, 0.70), "left_ankle": (0.50, 0.90),
        "right_ankle": (0.50, 0.90), "left_heel": (0.48, 0.92), "right_heel": (0.48, 0.92),
        "left_foot_index": (0.56, 0.92), "right_foot_index": (0.56, 0.92),
    }  # fmt: skip
    for name, p in base.items():
        xy[:, J[name]] = p
    bend = np.radians(120) * 0.5 * (1 - np.cos(2 * np.pi * t / 1.5))
    for side in ("left", "right"):
        xy[:, J[f"{side}_wrist"], 0] = 0.50 + 0.15 * np.sin(bend)
        xy[:, J[f"{side}_wrist"], 1] = 0.35 + 0.15 * np.cos(bend)
    return PoseSequence(xy=xy, conf=np.ones((n, NUM_JOINTS)), times_s=t, fps=fps, source="generated")


def test_generated_curl_without_data() -> None:
    pose = _curl()
    smp = Sample(id="gen/curl", source="generated", proficiency=S.GOOD, pose=pose, commentary=[Commentary(text="ok")])
    out = S.synthesize([smp], rng_seed=0, per_sample=3, kinds=["trunk_sway", "reduced_range", "jerky_tempo"])
    assert len(out) == 3 and all(s.id.startswith("gen/curl#synth-") for s in out)
    again = S.synthesize([smp], rng_seed=0, per_sample=3, kinds=["trunk_sway", "reduced_range", "jerky_tempo"])
    assert all(np.array_equal(x.pose.xy, y.pose.xy) for x, y in zip(out, again))
    for new in out:
        assert S.check_plausible(pose, new.pose)["plausible"]
    _, fault = S.trunk_sway(pose, np.random.default_rng(0), 1.0)
    assert fault.attribute == "trunk control" and 24 < fault.magnitude < 26
    assert (
        fault.feedback
        == f"Your trunk swings about {fault.magnitude:.0f} degrees: brace your core and keep your torso still."
    )


def test_input_checks() -> None:
    pose = _curl()
    with pytest.raises(ValueError, match="severity"):
        S.trunk_lean(pose, np.random.default_rng(0), 0.0)
    with pytest.raises(ValueError, match="severity"):
        S.trunk_lean(pose, np.random.default_rng(0), 1.5)
    short = PoseSequence(pose.xy[:10], pose.conf[:10], pose.times_s[:10], pose.fps)
    with pytest.raises(S.NotApplicable, match="too short"):
        S.trunk_lean(short, np.random.default_rng(0), 0.5)
    with pytest.raises(ValueError, match="unknown perturbation"):
        S.synthesize([], 0, kinds=["wobble"])
    incorrect = Sample(id="gen/bad", proficiency=S.FAULTY, pose=pose)
    assert S.synthesize([incorrect, Sample(id="gen/nopose", proficiency=S.GOOD)], 0) == []
