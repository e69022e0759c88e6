"""3-D keypoint files (keypoints.world): any unit, any facing, y or z up, seen as the front view the model uses.

Real UI-PRMD repetitions (skipped when ../shared/data/ui_prmd is absent) and SYNTHETIC standing skeletons.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crosstrainer.encoders.kinematics import KinematicEncoder
from crosstrainer.errors import InvalidKeypointsError
from crosstrainer.keypoints.world import STANDING_CT17, read_world_npz, world_to_pose

ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ui_prmd"


@pytest.fixture(scope="module")
def rep():
    if not (ROOT / "manifest_kinect.csv").is_file():
        pytest.skip(f"UI-PRMD not found at {ROOT} (the project's ../shared/data)")
    from crosstrainer.data.ui_prmd import load_ui_prmd

    (sample,) = [
        s for s in load_ui_prmd(ROOT, subjects="s02", movements="m01", correct=False) if s.id.endswith("e03_incorrect")
    ]
    return sample


def _rotate_y(xyz: np.ndarray, deg: float) -> np.ndarray:
    a = np.radians(deg)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return xyz @ rot.T


def _torso_normalised(xy: np.ndarray) -> np.ndarray:
    centre = np.nanmean(xy, axis=1, keepdims=True)
    return (xy - centre) / np.nanmedian(np.linalg.norm(xy[:, 1] - xy[:, 7], axis=-1))


def test_a_turned_rescaled_z_up_file_gives_the_front_view_the_head_was_fitted_on(rep, tmp_path):
    """The same UI-PRMD repetition, turned 70 degrees, in centimetres, with z up, read from a .npz: its 2-D pose and
    kinematic features match the front view that training used (UI-PRMD's own reading)."""
    xyz = rep.pose.meta["xyz"]
    turned = _rotate_y(xyz, 70.0) * 100.0
    z_up = np.stack([turned[..., 0], -turned[..., 2], turned[..., 1]], axis=-1)  # (x, y, z) y-up -> z-up
    path = tmp_path / "squat.npz"
    np.savez(path, xyz=z_up, fps=30.0, skeleton="ct17", up="z")
    pose = read_world_npz(path)
    assert len(pose) == len(rep.pose) and pose.fps == 30.0
    assert abs(abs(pose.meta["facing_deg"]) - 70.0) < 15.0
    a, b = _torso_normalised(pose.xy), _torso_normalised(rep.pose.xy)
    ok = np.isfinite(a).all(-1) & np.isfinite(b).all(-1)
    assert np.median(np.linalg.norm(a - b, axis=-1)[ok]) < 0.05  # 5% of the torso length
    enc = KinematicEncoder()
    fa, fb = enc.encode(pose).features, enc.encode(rep.pose).features
    spread = np.maximum(fb.std(0), 1e-3)
    assert np.median(np.abs(fa.mean(0) - fb.mean(0)) / spread) < 0.1
    # the same file projected without turning it to face the camera is far from the front view: the check can fail
    from crosstrainer.keypoints.projection import project

    unturned = _torso_normalised(project(_rotate_y(xyz, 70.0), "front").xy)
    assert np.nanmedian(np.linalg.norm(unturned - b, axis=-1)) > 0.1


def test_the_kinect_order_is_read_directly(rep):
    from crosstrainer.data.ui_prmd import KINECT_TO_CT17, NUM_KINECT

    xyz = rep.pose.meta["xyz"]
    kinect = np.full((len(xyz), NUM_KINECT, 3), np.nan)
    for i, src in enumerate(KINECT_TO_CT17.values()):
        if src is not None:
            kinect[:, src] = xyz[:, i]
    kinect[np.isnan(kinect)] = 0.0  # joints CT17 does not use (spine, head...) are tracked somewhere
    pose = world_to_pose(kinect, fps=30.0)  # 22 joints: kinect22 without naming it
    assert np.nanmax(np.abs(_torso_normalised(pose.xy) - _torso_normalised(rep.pose.xy))) < 0.05


def _standing(t: int = 20) -> np.ndarray:
    xyz = np.tile(STANDING_CT17, (t, 1, 1)).astype(float)
    xyz[:, 5, 1] += 0.3 * np.sin(np.linspace(0, 2 * np.pi, t))
    return xyz


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda a: a * np.nan, "impossible skeleton"),
        (lambda a: a.__setitem__((slice(None), 5), a[:, 3]) or a, "left elbow-left wrist bone"),  # zero forearm
        (lambda a: a[:, :5], "name the joint order"),
        (lambda a: a[..., :2], r"\(frames, joints, 3\)"),
        (lambda a: a[:0], r"\(frames, joints, 3\)"),
        (lambda a: a.astype(complex), "real numbers"),
    ],
)
def test_impossible_or_malformed_3d_input_is_a_clear_error(mutate, message):
    """SYNTHETIC skeletons: NaN everywhere, a zero-length forearm, an unknown joint count, 2 channels, no frames."""
    skeleton = None if message == "name the joint order" else "ct17"
    with pytest.raises(InvalidKeypointsError, match=message):
        world_to_pose(mutate(_standing()), fps=30.0, skeleton=skeleton)


def test_a_few_untracked_frames_are_missing_not_an_error():
    xyz = _standing()
    xyz[3:6] = np.nan
    pose = world_to_pose(xyz, fps=30.0, skeleton="ct17")
    assert (pose.conf[3:6] == 0).all() and (pose.conf[:3] > 0).all()


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "a.npz", points=_standing())
    with pytest.raises(InvalidKeypointsError, match="needs an 'xyz' array"):
        read_world_npz(tmp_path / "a.npz")
    (tmp_path / "b.npz").write_bytes(b"not a zip")
    with pytest.raises(InvalidKeypointsError, match=r"not a readable \.npz"):
        read_world_npz(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", xyz=_standing(), skeleton="ct17", up="x")
    with pytest.raises(InvalidKeypointsError, match="up must be"):
        read_world_npz(tmp_path / "c.npz")


def test_load_keypoints_reads_npz_and_bounds_it_before_reading(tmp_path):
    from crosstrainer.keypoints.io import ReadLimits, load_keypoints

    path = tmp_path / "stand.npz"
    np.savez(path, xyz=_standing(40), fps=20.0, skeleton="ct17")
    pose = load_keypoints(path)
    assert len(pose) == 40 and pose.fps == 20.0 and pose.meta["xyz"].shape == (40, 17, 3)
    with pytest.raises(InvalidKeypointsError, match="more than the limit of 10"):
        load_keypoints(path, limits=ReadLimits(max_frames=10))
    with pytest.raises(InvalidKeypointsError, match="always x, y, z"):
        load_keypoints(path, channels="xyc")


@pytest.mark.slow
def test_cli_assesses_a_3d_file(rep, tmp_path):
    """End to end, as a user runs it: a UI-PRMD repetition in Kinect order, centimetres, z up, facing sideways."""
    import json
    import subprocess
    import sys

    from crosstrainer.data.ui_prmd import KINECT_TO_CT17, NUM_KINECT

    xyz = _rotate_y(rep.pose.meta["xyz"], -40.0) * 100.0
    kinect = np.zeros((len(xyz), NUM_KINECT, 3))
    for i, src in enumerate(KINECT_TO_CT17.values()):
        if src is not None:
            kinect[:, src] = xyz[:, i]
    z_up = np.stack([kinect[..., 0], -kinect[..., 2], kinect[..., 1]], axis=-1)
    path = tmp_path / "squat.npz"
    np.savez(path, xyz=z_up, fps=30.0, up="z")
    done = subprocess.run(
        [sys.executable, "-m", "crosstrainer", "assess", str(path), "--sport", "deep squat", "--json", "-"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["input"]["kind"] == "keypoints"
    assert result["proficiency"]["level"] in ("needs improvement", "good form")
    assert abs(result["input"]["duration_s"] - rep.pose.duration_s) < 0.1
