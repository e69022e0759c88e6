"""3-D keypoints (motion capture, Kinect, MediaPipe world landmarks) read as the 2-D view a model was trained on.

The shipped model learns from 2-D poses, and 3-D training data (UI-PRMD) is seen by it through virtual cameras.
A 3-D file is therefore turned to face a virtual camera and projected, exactly as 3-D training clips are: the person
is rotated about the vertical axis so the hips face the camera (the front view the proficiency head is fitted on),
scaled to a 0.5 m median torso (any length unit works), and projected with ``keypoints.projection.project``. The 3-D
joints stay in ``pose.meta["xyz"]``.

File format: a ``.npz`` with ``xyz`` and optional fields::

    np.savez("squat.npz",
             xyz=xyz,                 # (T, J, 3) float: joint positions, any length unit, NaN = not tracked
             fps=30.0,                # frames per second (default: --fps, else 30)
             skeleton="kinect22",     # joint order: ct17, mediapipe33, coco17, openpose18, openpose25, kinect22
             up="y")                  # the vertical axis: y (default), -y (MediaPipe world landmarks), z (most mocap)

``skeleton`` may be left out for 33 joints (mediapipe33) and 22 joints (kinect22, UI-PRMD's Kinect order); other
counts are ambiguous (17 joints may be COCO or CT17 or Human3.6M) and must be named.

>>> t = np.linspace(0, 2 * np.pi, 30)
>>> xyz = np.tile(STANDING_CT17, (30, 1, 1)); xyz[:, 5, 1] += 0.3 * np.sin(t)   # left wrist moves up and down
>>> pose = world_to_pose(xyz, fps=15.0, skeleton="ct17")
>>> pose.xy.shape, pose.meta["camera"]["yaw_deg"], round(float(pose.meta["world_scale"]), 2)
((30, 17, 2), 0.0, 1.0)
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.errors import InputNotFoundError, InvalidKeypointsError
from crosstrainer.keypoints.skeleton import NUM_JOINTS, J, PoseSequence

UP_AXES = ("y", "-y", "z")
TORSO_M = 0.5
"""Median shoulder-centre to hip-centre distance the person is scaled to (the unit of the file is free)."""
BONES: tuple[tuple[str, str], ...] = (
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
)
"""Bones checked for plausibility: each must have a positive, finite length in most tracked frames."""
MIN_GOOD_FRAMES = 0.5
"""Share of frames that must have every core joint tracked and every checked bone longer than zero."""

# A standing person, CT17, metres, y up, facing +z (for examples and tests).
STANDING_CT17 = np.array(
    [
        [0.0, 1.65, 0.05],  # nose
        [0.18, 1.45, 0.0], [-0.18, 1.45, 0.0],  # shoulders (left = +x)
        [0.22, 1.18, 0.0], [-0.22, 1.18, 0.0],  # elbows
        [0.24, 0.92, 0.05], [-0.24, 0.92, 0.05],  # wrists
        [0.1, 0.95, 0.0], [-0.1, 0.95, 0.0],  # hips
        [0.11, 0.5, 0.02], [-0.11, 0.5, 0.02],  # knees
        [0.11, 0.08, 0.0], [-0.11, 0.08, 0.0],  # ankles
        [0.11, 0.03, -0.05], [-0.11, 0.03, -0.05],  # heels
        [0.12, 0.02, 0.15], [-0.12, 0.02, 0.15],  # toes
    ]
)  # fmt: skip


def _to_ct17(xyz: np.ndarray, skeleton: str | None) -> np.ndarray:
    """(T, J, 3) of ``skeleton`` -> (T, 17, 3) CT17, NaN where the skeleton lacks a joint."""
    n = xyz.shape[1]
    name = (skeleton or {33: "mediapipe33", 22: "kinect22"}.get(n) or "").strip().lower().replace("-", "_")
    if not name:
        raise InvalidKeypointsError(
            f"{n} joints per frame: name the joint order with skeleton= in the file or --skeleton "
            "(ct17, mediapipe33, coco17, openpose18, openpose25, kinect22)"
        )
    if name in ("kinect22", "kinect", "ui_prmd"):
        from crosstrainer.data.ui_prmd import NUM_KINECT, kinect_to_ct17

        if n != NUM_KINECT:
            raise InvalidKeypointsError(f"skeleton kinect22 has {NUM_KINECT} joints but the data have {n}")
        return kinect_to_ct17(xyz)[0]
    from crosstrainer.keypoints.formats import LAYOUTS, ct17_indices, resolve_layout

    layout = resolve_layout(name)
    if len(LAYOUTS[layout]) != n:
        raise InvalidKeypointsError(f"skeleton {layout} has {len(LAYOUTS[layout])} joints but the data have {n}")
    idx = ct17_indices(layout)
    out = np.full((len(xyz), NUM_JOINTS, 3), np.nan)
    out[:, idx >= 0] = xyz[:, idx[idx >= 0]]
    return out


def _y_up(xyz: np.ndarray, up: str) -> np.ndarray:
    """Coordinates with y up, keeping a right-handed frame."""
    if up == "y":
        return xyz
    if up == "-y":  # rotate 180 degrees about x: y -> -y, z -> -z
        return xyz * np.array([1.0, -1.0, -1.0])
    return np.stack([xyz[..., 0], xyz[..., 2], -xyz[..., 1]], axis=-1)  # z up: (x, y, z) -> (x, z, -y)


def check_bones(xyz: np.ndarray, what: str = "3-D keypoints") -> np.ndarray:
    """Frames (bool, (T,)) whose core joints are tracked and whose checked bones have positive length; raises
    ``InvalidKeypointsError`` naming the first impossible bone when fewer than half the frames are usable."""
    good = np.ones(len(xyz), bool)
    worst: tuple[float, str] = (1.0, "")
    for a, b in BONES:
        length = np.linalg.norm(xyz[:, J[a]] - xyz[:, J[b]], axis=-1)
        ok = np.isfinite(length) & (length > 1e-6)
        good &= ok
        worst = min(worst, (float(ok.mean()) if len(ok) else 0.0, f"{a}-{b}"))
    if len(xyz) == 0 or good.mean() < MIN_GOOD_FRAMES:
        share = worst[0] * 100
        raise InvalidKeypointsError(
            f"{what}: impossible skeleton: the {worst[1].replace('_', ' ')} bone is missing (NaN) or zero-length "
            f"in {100 - share:.0f}% of {len(xyz)} frames; usable frames {100 * (good.mean() if len(xyz) else 0):.0f}%"
            f" (need {100 * MIN_GOOD_FRAMES:.0f}%)"
        )
    return good


def face_front(xyz: np.ndarray) -> tuple[np.ndarray, float]:
    """Rotate ``xyz`` (CT17, y up) about the vertical through the hips so the person faces +z (left hip at +x);
    returns the rotated joints and the rotation in degrees."""
    hips = xyz[:, J["left_hip"]] - xyz[:, J["right_hip"]]
    h = np.nanmedian(hips, axis=0)
    angle = float(np.arctan2(h[2], h[0])) if np.isfinite(h).all() else 0.0
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])  # rotation by -angle about y (x stays right-handed)
    return xyz @ rot.T, float(np.degrees(angle))


def world_to_pose(
    xyz: np.ndarray,
    fps: float = 30.0,
    skeleton: str | None = None,
    up: str = "y",
    camera: Any = "front",
    source: str = "",
) -> PoseSequence:
    """3-D joints (see the module docstring) as the 2-D ``PoseSequence`` a model sees, from ``camera``."""
    from crosstrainer.keypoints.projection import get_camera, project

    what = source or "3-D keypoints"
    a = np.asarray(xyz)
    if a.dtype.kind not in "fiu":
        raise InvalidKeypointsError(f"{what}: xyz must hold real numbers, not {a.dtype}")
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] == 0:
        raise InvalidKeypointsError(f"{what}: xyz must be (frames, joints, 3), got {tuple(a.shape)}")
    if up not in UP_AXES:
        raise InvalidKeypointsError(f"{what}: up must be one of {', '.join(UP_AXES)}, got {up!r}")
    if not (np.isfinite(fps) and fps > 0):
        raise InvalidKeypointsError(f"{what}: fps must be a positive number, got {fps}")
    a = np.where(np.isfinite(a), a, np.nan).astype(np.float64)
    ct = _y_up(_to_ct17(a, skeleton), up)
    good = check_bones(ct, what)
    shoulders = (ct[:, J["left_shoulder"]] + ct[:, J["right_shoulder"]]) / 2
    hips = (ct[:, J["left_hip"]] + ct[:, J["right_hip"]]) / 2
    torso = float(np.nanmedian(np.linalg.norm(shoulders - hips, axis=-1)[good]))
    if not torso > 0:
        raise InvalidKeypointsError(f"{what}: the shoulders and hips coincide: not a body")
    scale = TORSO_M / torso
    ct, yaw = face_front(ct * scale)
    conf = np.isfinite(ct).all(-1).astype(np.float32)
    pose = project(ct, get_camera(camera), conf=conf, fps=float(fps), meta={"world_scale": scale, "facing_deg": yaw})
    pose.source = source
    pose.meta["xyz"] = ct
    return pose


def _declared_shape(data: Any) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of the ``xyz`` member, read from its header before any data is (a bound on hostile files)."""
    with data.zip.open("xyz.npy") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    return shape, dtype


def read_world_npz(
    path: str | Path, fps: float | None = None, skeleton: str | None = None, max_frames: int | None = None
) -> PoseSequence:
    """A ``.npz`` of 3-D keypoints (module docstring) as the front-view ``PoseSequence``; ``fps`` and ``skeleton``
    given here win over the file's. ``max_frames``: refuse a file whose header declares more frames, unread."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(f"keypoints file not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as data:
            if "xyz" not in data.files:
                raise InvalidKeypointsError(f"{p}: a 3-D keypoints .npz needs an 'xyz' array (found {data.files})")
            shape, dtype = _declared_shape(data)
            if len(shape) != 3 or shape[2] != 3 or dtype.kind not in "fiu":
                raise InvalidKeypointsError(f"{p}: xyz must be (frames, joints, 3) real numbers, got {shape} {dtype}")
            if max_frames is not None and shape[0] > max_frames:
                raise InvalidKeypointsError(
                    f"{p}: {shape[0]:,} frames, more than the limit of {max_frames:,}; pass --max-frames N to allow "
                    "more"
                )
            xyz = data["xyz"]
            meta = {k: data[k] for k in ("fps", "skeleton", "up") if k in data.files}
    except InvalidKeypointsError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise InvalidKeypointsError(f"{p}: not a readable .npz file ({exc})") from None
    try:
        file_fps = float(meta["fps"]) if "fps" in meta else None
        file_skeleton = str(meta["skeleton"]) if "skeleton" in meta else None
        up = str(meta.get("up", "y"))
    except (TypeError, ValueError):
        raise InvalidKeypointsError(f"{p}: fps must be a number and skeleton/up strings") from None
    return world_to_pose(xyz, fps or file_fps or 30.0, skeleton or file_skeleton, up, source=str(p))
