"""Keypoint layouts of common pose estimators and their mapping onto CrossTrainer's CT17 skeleton.

| layout      | J  | source                                                         | CT17 joints it lacks          |
|-------------|----|----------------------------------------------------------------|-------------------------------|
| mediapipe33 | 33 | MediaPipe Pose / BlazePose landmarks                           | none                          |
| coco17      | 17 | COCO keypoints (MMPose, RTMPose, Detectron2, YOLO-pose)        | heels, foot_index (toes)      |
| openpose18  | 18 | OpenPose COCO-18: nose, neck, r-shoulder, r-elbow, r-wrist,    | heels, foot_index             |
|             |    | l-shoulder, ..., r-hip, r-knee, r-ankle, l-hip, ..., eyes, ears|                               |
| openpose25  | 25 | OpenPose BODY_25 (neck, mid-hip, then heels, big/small toes)   | none (foot_index = big toe)   |
| openpose25b | 25 | OpenPose BODY_25B: COCO-17 order, upper neck, head top, feet   | none (foot_index = big toe)   |
| ct17        | 17 | CrossTrainer's order (``skeleton.JOINTS``), by name only       | none (J=17 alone means coco17)|

The OpenPose orders are ``POSE_COCO_BODY_PARTS``, ``POSE_BODY_25_BODY_PARTS`` and ``POSE_BODY_25B_BODY_PARTS`` in
CMU-Perceptual-Computing-Lab/openpose ``src/openpose/pose/poseParameters.cpp``. BODY_25 and BODY_25B both have 25
joints in different orders, so J = 25 alone is refused: name one with ``skeleton``.

A layout may also be a tuple of joint names (MMPose's ``meta_info.keypoint_id2name``): CT17 joints are then found by
name (``foot_index`` = ``big_toe``). A joint the layout lacks is "not detected" in CT17: ``conf`` 0 and ``xy`` NaN.

>>> arr = np.zeros((2, 17, 3), np.float32); arr[..., 2] = 0.9
>>> xy, conf = to_ct17(arr, "coco17")
>>> xy.shape, conf.shape, float(conf[0, JOINTS.index("left_heel")])
((2, 17, 2), (2, 17), 0.0)
"""

from __future__ import annotations

import numpy as np

from crosstrainer.errors import InvalidKeypointsError
from crosstrainer.keypoints.skeleton import JOINTS, NUM_JOINTS

MEDIAPIPE33: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip

COCO17: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)  # fmt: skip

OPENPOSE18: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye",
    "right_ear", "left_ear",
)  # fmt: skip

OPENPOSE25: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye",
    "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
    "right_small_toe", "right_heel",
)  # fmt: skip

OPENPOSE25B: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "upper_neck", "head_top", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
    "right_small_toe", "right_heel",
)  # fmt: skip

LAYOUTS: dict[str, tuple[str, ...]] = {
    "mediapipe33": MEDIAPIPE33,
    "coco17": COCO17,
    "openpose18": OPENPOSE18,
    "openpose25": OPENPOSE25,
    "openpose25b": OPENPOSE25B,
    "ct17": JOINTS,
}
"""Joint names, in the order the layout stores them."""

ALIASES: dict[str, str] = {
    "mediapipe": "mediapipe33", "blazepose": "mediapipe33", "mp33": "mediapipe33",
    "coco": "coco17", "mmpose": "coco17", "rtmpose": "coco17",
    "body18": "openpose18", "body_18": "openpose18", "openpose_coco": "openpose18", "coco18": "openpose18",
    "coco_18": "openpose18",
    "body25": "openpose25", "body_25": "openpose25", "openpose": "openpose25",
    "body25b": "openpose25b", "body_25b": "openpose25b", "openpose_25b": "openpose25b",
    "crosstrainer": "ct17",
}  # fmt: skip

# CT17 joint -> name in a layout, where the names differ (BODY_25 has toes, not "foot_index").
_RENAME = {"left_foot_index": "left_big_toe", "right_foot_index": "right_big_toe"}

LAYOUT_BY_NUM_JOINTS: dict[int, str] = {33: "mediapipe33", 17: "coco17", 18: "openpose18"}
"""Layout inferred from the number of joints when the user names none (17 means COCO-17, not CT17)."""

AMBIGUOUS_NUM_JOINTS: dict[int, tuple[str, ...]] = {25: ("openpose25", "openpose25b")}
"""Joint counts shared by layouts with different orders: the user must name one."""

CHANNELS = ("xy", "xyc", "xyz", "xyzc")
"""What the last axis of a keypoint array holds: x, y, then z (depth, ignored) and/or c (confidence)."""

Layout = str | tuple[str, ...]
"""A layout name (``LAYOUTS``/``ALIASES``) or the joint names in file order (from a file's own metadata)."""


def resolve_layout(name: str) -> str:
    """Canonical layout name: ``resolve_layout("BODY_25") == "openpose25"``; unknown names raise."""
    if not isinstance(name, str):
        raise InvalidKeypointsError(f"skeleton must be a layout name, not {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in LAYOUTS:
        known = ", ".join(sorted(LAYOUTS))
        raise InvalidKeypointsError(f"unknown skeleton {name[:40]!r}; known: {known}")
    return key


def layout_names(layout: Layout) -> tuple[str, ...]:
    """The joint names of ``layout`` (a name, or already a tuple of names), in file order."""
    return layout if isinstance(layout, tuple) else LAYOUTS[resolve_layout(layout)]


def ct17_indices(layout: Layout) -> np.ndarray:
    """For each CT17 joint, its index in ``layout`` or -1 when the layout lacks it."""
    names = layout_names(layout)
    pos: dict[str, int] = {}
    for i, n in enumerate(names):
        pos.setdefault(n, i)
    return np.array([pos.get(j, pos.get(_RENAME.get(j, ""), -1)) for j in JOINTS], dtype=np.int64)


def infer_layout(num_joints: int, skeleton: str | None = None, what: str = "keypoints") -> str:
    """The layout named by ``skeleton``, else the one implied by ``num_joints`` (33/17/18; 25 is ambiguous)."""
    if skeleton:
        layout = resolve_layout(skeleton)
        if len(LAYOUTS[layout]) != num_joints:
            raise InvalidKeypointsError(
                f"{what}: skeleton {layout} has {len(LAYOUTS[layout])} joints but the data have {num_joints}"
            )
        return layout
    if num_joints in AMBIGUOUS_NUM_JOINTS:
        a, b = AMBIGUOUS_NUM_JOINTS[num_joints]
        raise InvalidKeypointsError(
            f"{what}: {num_joints} joints per frame may be OpenPose BODY_25 or BODY_25B, whose joint orders differ; "
            f"pass --skeleton {a} (BODY_25) or --skeleton {b} (BODY_25B)"
        )
    if num_joints not in LAYOUT_BY_NUM_JOINTS:
        raise InvalidKeypointsError(
            f"{what}: {num_joints} joints per frame is not a known layout (33 mediapipe33, 17 coco17, "
            f"18 openpose18, 25 openpose25 or openpose25b); pass --skeleton"
        )
    return LAYOUT_BY_NUM_JOINTS[num_joints]


def check_channels(channels: str) -> str:
    """``channels`` lower-cased if it is one of ``CHANNELS``, else ``InvalidKeypointsError``."""
    c = str(channels).strip().lower()
    if c not in CHANNELS:
        raise InvalidKeypointsError(f"unknown channels {str(channels)[:20]!r}; expected one of {', '.join(CHANNELS)}")
    return c


def default_channels(num_channels: int, layout: Layout | None = None) -> str:
    """What ``num_channels`` values per joint mean when the user does not say (``--channels``).

    2: x, y. 3: x, y, confidence; except for a layout named ``mediapipe33``, whose third value is MediaPipe's z
    (landmarks are x, y, z). 4: x, y, z, confidence (MediaPipe x, y, z, visibility; OpenPose 3-D).
    """
    if num_channels == 3 and layout == "mediapipe33":
        return "xyz"
    got = {2: "xy", 3: "xyc", 4: "xyzc"}.get(num_channels)
    if got is None:
        raise InvalidKeypointsError(f"{num_channels} values per joint: expected 2 (x, y), 3 or 4")
    return got


def to_ct17(array: np.ndarray, layout: Layout, channels: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Map ``(T, J, C)`` keypoints of ``layout`` onto CT17; ``channels`` says what the C values are.

    ``channels`` is ``xy``, ``xyc``, ``xyz`` or ``xyzc`` (default from C: 2 -> xy, 3 -> xyc, 4 -> xyzc); z is
    ignored. Returns ``xy`` (T, 17, 2) float32 and ``conf`` (T, 17) float32. Without a confidence channel, every
    finite point has confidence 1. A point with confidence <= 0, a NaN confidence, or a non-finite coordinate is
    "not detected": ``conf`` 0 and ``xy`` NaN. Confidences above 1 are clipped to 1.
    """
    a = np.asarray(array, dtype=np.float32)
    names = layout_names(layout)
    n = len(names)
    label = layout if isinstance(layout, str) else "this layout"
    if a.ndim != 3 or a.shape[1] != n or a.shape[2] not in (2, 3, 4):
        raise InvalidKeypointsError(f"{tuple(a.shape)}: expected (T, {n}, 2), (T, {n}, 3) or (T, {n}, 4) for {label}")
    channels = check_channels(channels) if channels else default_channels(a.shape[2])
    if len(channels) != a.shape[2]:
        raise InvalidKeypointsError(
            f"channels {channels} means {len(channels)} values per joint, the data have {a.shape[2]}"
        )
    idx = ct17_indices(names)
    t = a.shape[0]
    xy = np.full((t, NUM_JOINTS, 2), np.nan, np.float32)
    conf = np.zeros((t, NUM_JOINTS), np.float32)
    have = idx >= 0
    xy[:, have] = a[:, idx[have], :2]
    if "c" in channels:
        c = a[:, idx[have], channels.index("c")]
        conf[:, have] = np.where(np.isfinite(c), np.clip(c, 0.0, 1.0), 0.0)
    else:
        conf[:, have] = 1.0
    bad = (conf <= 0) | ~np.isfinite(xy).all(axis=2)
    conf[bad] = 0.0
    xy[bad] = np.nan
    return xy, conf


def from_ct17(xy: np.ndarray, conf: np.ndarray, layout: str = "mediapipe33") -> np.ndarray:
    """Inverse of ``to_ct17``: a ``(T, J, 3)`` array in ``layout``; joints CT17 lacks are NaN with confidence 0."""
    layout = resolve_layout(layout)
    idx = ct17_indices(layout)
    t = xy.shape[0]
    out = np.full((t, len(LAYOUTS[layout]), 3), np.nan, np.float32)
    out[..., 2] = 0.0
    have = idx >= 0
    out[:, idx[have], :2] = xy[:, have]
    out[:, idx[have], 2] = conf[:, have]
    return out
