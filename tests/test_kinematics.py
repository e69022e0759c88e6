"""The kinematic pose encoder: shape, invariances, missing joints, windows, speed, docs, and the real clip."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from crosstrainer.encoders.base import VideoEncoder
from crosstrainer.encoders.kinematics import FRAME_FEATURES, KinematicEncoder
from crosstrainer.keypoints.skeleton import JOINTS, J, PoseSequence

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample_bicep_curl.mp4"
DATA = REPO / ".." / "shared" / "data"

UPPER_BODY = ("nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
              "left_hip", "right_hip")  # fmt: skip  # the joints of the bicep-curl training CSVs


def standing_curl(seconds: float = 3.0, fps: float = 10.0, seed: int = 0) -> PoseSequence:
    """Synthetic side-view person (pixels, facing +x) doing curls and a slight squat, with a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * fps)) / fps
    n = len(t)
    base = {
        "nose": (315, 100), "left_shoulder": (300, 150), "right_shoulder": (296, 152), "left_hip": (300, 300),
        "right_hip": (296, 302), "left_knee": (310, 420), "right_knee": (306, 422), "left_ankle": (300, 540),
        "right_ankle": (296, 542), "left_heel": (285, 550), "right_heel": (281, 552),
        "left_foot_index": (335, 552), "right_foot_index": (331, 554),
    }  # fmt: skip
    xy = np.zeros((n, 17, 2))
    for name, p in base.items():
        xy[:, J[name]] = p
    squat = 15 * (1 - np.cos(2 * np.pi * t / 2.0))
    for name in ("nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip"):
        xy[:, J[name], 1] += squat
    xy[:, [J["left_knee"], J["right_knee"]], 0] += 0.5 * squat[:, None]
    curl = np.pi / 2 * (1 - np.cos(2 * np.pi * t / 1.5)) / 2  # 0..90 degrees
    for side in ("left", "right"):
        sh = xy[:, J[f"{side}_shoulder"]]
        el = sh + np.stack([0 * t + 5, 0 * t + 110], -1)
        fore = np.stack([90 * np.sin(curl * 1.6), 90 * np.cos(curl * 1.6)], -1)
        xy[:, J[f"{side}_elbow"]] = el
        xy[:, J[f"{side}_wrist"]] = el + fore
    xy += rng.normal(0, 0.5, xy.shape)
    conf = np.full((n, 17), 0.95)
    return PoseSequence(xy=xy, conf=conf, times_s=t, fps=fps)


def transformed(pose: PoseSequence, scale: float, shift: tuple[float, float], mirror: bool = False) -> PoseSequence:
    xy = pose.xy.astype(np.float64) * scale + np.array(shift)
    if mirror:
        xy[..., 0] = 2000 - xy[..., 0]
    return PoseSequence(xy=xy, conf=pose.conf, times_s=pose.times_s, fps=pose.fps)


def test_contract_and_shape() -> None:
    enc = KinematicEncoder()
    assert isinstance(enc, VideoEncoder)
    assert enc.name == "pose-kinematics" and enc.version == "2"
    assert 60 <= enc.dim <= 120 and len(enc.feature_names) == enc.dim == len(set(enc.feature_names))
    feats = enc.encode(standing_curl(3.0))
    assert feats.features.shape == (3, enc.dim) and feats.features.dtype == np.float32
    assert np.isfinite(feats.features).all()
    assert feats.times_s.tolist() == [0.0, 1.0, 2.0] and feats.encoder == "pose-kinematics"
    assert np.allclose(feats.visibility, 1.0)
    frames, info = enc.encode_frames(standing_curl(3.0))
    assert frames.shape == (30, len(FRAME_FEATURES)) and info["scale_source"] == "torso" and info["facing"] == 1
    assert enc.config()["window_s"] == 1.0


def test_features_mean_what_they_say() -> None:
    """Synthetic curl: elbow range about 90 degrees per 1.5 s cycle; the trunk is upright; knees ahead of the toes
    only a little; feet under the body (centre of mass inside the base of support)."""
    enc = KinematicEncoder()
    f = dict(zip(enc.feature_names, enc.encode(standing_curl(3.0)).features.T, strict=True))
    assert f["elbow_angle_left_range"].max() > 60
    assert (f["trunk_lean_mean"] < 10).all() and (f["horizontal_frac"] == 0).all()
    assert (f["avail_leg_left"] == 1).all() and (f["avail_com"] == 1).all()
    assert (f["com_outside_bos_frac"] == 0).all()
    assert (f["hand_up_shoulder_max"] < 0).all()  # hands stay below the shoulders


def test_invariant_to_translation_scale_and_mirror() -> None:
    """Synthetic: moving, scaling (camera distance) and mirroring the skeleton leaves the features unchanged."""
    enc = KinematicEncoder()
    pose = standing_curl(3.0)
    ref = enc.encode(pose).features
    for scale, shift, mirror in ((1.0, (200.0, -50.0), False), (0.37, (5.0, 9.0), False), (2.5, (0.0, 0.0), True)):
        got = enc.encode(transformed(pose, scale, shift, mirror)).features
        assert np.allclose(got, ref, rtol=1e-3, atol=1e-3), (scale, shift, mirror)


def test_missing_joints_stay_finite() -> None:
    """Synthetic upper-body data (the bicep CSV's joints) and random dropouts: finite; flags say what is missing."""
    enc = KinematicEncoder()
    pose = standing_curl(2.5)
    keep = [J[n] for n in UPPER_BODY]
    drop = [i for i in range(17) if i not in keep]
    pose.conf[:, drop] = 0
    pose.xy[:, drop] = np.nan
    feats = enc.encode(pose)
    f = dict(zip(enc.feature_names, feats.features.T, strict=True))
    assert np.isfinite(feats.features).all() and feats.features.shape == (3, enc.dim)
    assert (f["avail_leg_left"] == 0).all() and (f["avail_feet"] == 0).all() and (f["avail_arm_left"] == 1).all()
    assert (f["knee_angle_left_mean"] == 0).all() and f["elbow_angle_left_range"].max() > 60
    assert np.allclose(feats.visibility, len(UPPER_BODY) / 17)
    # no hips either: body scale falls back to shoulders/arms
    pose.conf[:, [J["left_hip"], J["right_hip"]]] = 0
    _, info = enc.encode_frames(pose)
    assert info["scale_source"] == "shoulders/arms"
    assert np.isfinite(enc.encode(pose).features).all()
    # random dropouts, and a sequence with nothing detected at all
    rng = np.random.default_rng(1)
    pose = standing_curl(2.0)
    pose.conf[rng.random(pose.conf.shape) < 0.3] = 0.1
    assert np.isfinite(enc.encode(pose).features).all()
    empty = PoseSequence.empty(fps=10, n=12)
    assert np.isfinite(enc.encode(empty).features).all()


def test_normalised_coordinates_match_pixels() -> None:
    """Synthetic: the same pose in [0, 1] coordinates of a square image gives the features of the pixel pose."""
    enc = KinematicEncoder()
    pose = standing_curl(2.0)
    norm = transformed(pose, 1 / 600, (0.0, 0.0))
    assert np.allclose(enc.encode(norm).features, enc.encode(pose).features, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(("seconds", "windows"), [(3.0, 3), (2.5, 3), (2.2, 2), (0.5, 1), (0.1, 1), (1.0, 1)])
def test_one_vector_per_second(seconds: float, windows: int) -> None:
    """A last partial second counts if it holds >= 0.3 s of frames; a clip under 1 s still gives one vector."""
    assert KinematicEncoder().encode(standing_curl(seconds)).num_seconds == windows


def test_every_feature_documented() -> None:
    doc = (REPO / "docs" / "features.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\|\s*`([a-z0-9_]+)`\s*\|", doc, flags=re.M))
    missing = [n for n in KinematicEncoder().feature_names if n not in documented]
    assert not missing, f"undocumented features: {missing}"


def test_training_csv_rows_encode() -> None:
    """Real data: MediaPipe landmark rows of the bicep-curl CSV (normalised coords, 9 joints) encode finitely."""
    csv = DATA / "exercise_correction" / "core" / "bicep_model" / "test.csv"
    if not csv.exists():
        pytest.skip(f"{csv} is absent")
    header = csv.read_text().splitlines()[0].split(",")
    rows = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=range(1, len(header)), max_rows=30)
    xy = np.full((len(rows), 17, 2), np.nan)
    conf = np.zeros((len(rows), 17))
    for k, name in enumerate(header[1:]):
        joint, axis = name.rsplit("_", 1)
        if joint in J and axis in ("x", "y", "v"):
            if axis == "v":
                conf[:, J[joint]] = rows[:, k]
            else:
                xy[:, J[joint], "xy".index(axis)] = rows[:, k]
    pose = PoseSequence(xy=xy, conf=conf, times_s=np.arange(len(rows)) / 30, fps=30.0)
    feats = KinematicEncoder().encode(pose)
    assert feats.num_seconds == 1 and np.isfinite(feats.features).all() and feats.features.any()


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".npy", ".json"])
def test_saved_keypoints_give_the_video_features(tmp_path: Path, suffix: str) -> None:
    """Real clip: pose from the video, saved and reloaded, gives the same features as the video."""
    if not SAMPLE.exists():
        pytest.skip("examples/sample_bicep_curl.mp4 is absent")
    from crosstrainer.keypoints.io import load_keypoints, save_keypoints
    from crosstrainer.video.pose import PoseEstimator

    pose = PoseEstimator(sample_fps=10).estimate(SAMPLE)
    enc = KinematicEncoder()
    ref = enc.encode(pose)
    path = save_keypoints(pose, tmp_path / f"kp{suffix}")
    back = load_keypoints(path, fps=pose.fps if suffix == ".npy" else None)
    got = enc.encode(back)
    assert got.features.shape == ref.features.shape
    assert np.allclose(got.features, ref.features, atol=1e-4)
    assert np.allclose(got.visibility, ref.visibility)
    assert len(JOINTS) == 17
