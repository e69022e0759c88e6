"""Keypoint layouts of common pose estimators and their mapping onto CrossTrainer's CT17 skeleton.

| layout       | J  | source                                                     | CT17 joints it lacks          |
|--------------|----|------------------------------------------------------------|-------------------------------|
| mediapipe33  | 33 | MediaPipe Pose / BlazePose landmarks                        | none                          |
| coco17       | 17 | COCO keypoints (MMPose, RTMPose, Detectron2, YOLO-pose)     | heels, foot_index (toes)      |
| openpose18   | 18 | OpenPose COCO BODY_18 (COCO order plus a neck at index 1)   | heels, foot_index             |
| openpose25   | 25 | OpenPose BODY_25 (with mid-hip, heels, big/small toes)      | none (foot_index = big toe)   |
| ct17         | 17 | CrossTrainer's order (``skeleton.JOINTS``), by name only    | none (J=17 alone means coco17)|

A joint the layout lacks is "not detected" in CT17: ``conf`` 0 and ``xy`` NaN.

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

LAYOUTS: dict[str, tuple[str, ...]] = {
    "mediapipe33": MEDIAPIPE33,
    "coco17": COCO17,
    "openpose18": OPENPOSE18,
    "openpose25": OPENPOSE25,
    "ct17": JOINTS,
}
"""Joint names, in the order the layout stores them."""

ALIASES: dict[str, str] = {
    "mediapipe": "mediapipe33", "blazepose": "mediapipe33", "mp33": "mediapipe33",
    "coco": "coco17", "mmpose": "coco17", "rtmpose": "coco17",
    "body18": "openpose18", "body_18": "openpose18", "openpose_coco": "openpose18",
    "body25": "openpose25", "body_25": "openpose25", "openpose": "openpose25",
    "crosstrainer": "ct17",
}  # fmt: skip

# CT17 joint -> name in a layout, where the names differ (BODY_25 has toes, not "foot_index").
_RENAME = {"left_foot_index": "left_big_toe", "right_foot_index": "right_big_toe"}

LAYOUT_BY_NUM_JOINTS: dict[int, str] = {33: "mediapipe33", 17: "coco17", 18: "openpose18", 25: "openpose25"}
"""Layout inferred from the number of joints when the user names none (17 means COCO-17, not CT17)."""


def resolve_layout(name: str) -> str:
    """Canonical layout name: ``resolve_layout("BODY_25") == "openpose25"``; unknown names raise."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in LAYOUTS:
        known = ", ".join(sorted(LAYOUTS))
        raise InvalidKeypointsError(f"unknown skeleton {name!r}; known: {known}")
    return key


def ct17_indices(layout: str) -> np.ndarray:
    """For each CT17 joint, its index in ``layout`` or -1 when the layout lacks it."""
    names = LAYOUTS[resolve_layout(layout)]
    pos = {n: i for i, n in enumerate(names)}
    return np.array([pos.get(j, pos.get(_RENAME.get(j, ""), -1)) for j in JOINTS], dtype=np.int64)


def infer_layout(num_joints: int, skeleton: str | None = None, what: str = "keypoints") -> str:
    """The layout named by ``skeleton``, else the one implied by ``num_joints`` (33/17/18/25)."""
    if skeleton:
        layout = resolve_layout(skeleton)
        if len(LAYOUTS[layout]) != num_joints:
            raise InvalidKeypointsError(
                f"{what}: skeleton {layout} has {len(LAYOUTS[layout])} joints but the data have {num_joints}"
            )
        return layout
    if num_joints not in LAYOUT_BY_NUM_JOINTS:
        raise InvalidKeypointsError(
            f"{what}: {num_joints} joints per frame is not a known layout (33 mediapipe33, 17 coco17, "
            f"18 openpose18, 25 openpose25); pass --skeleton"
        )
    return LAYOUT_BY_NUM_JOINTS[num_joints]


def to_ct17(array: np.ndarray, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """Map ``(T, J, 2|3)`` keypoints (x, y[, confidence]) of ``layout`` onto CT17.

    Returns ``xy`` (T, 17, 2) float32 and ``conf`` (T, 17) float32. Without a confidence channel, every finite
    point has confidence 1. A point with confidence <= 0, a NaN confidence, or a non-finite coordinate is
    "not detected": ``conf`` 0 and ``xy`` NaN. Confidences above 1 are clipped to 1.
    """
    a = np.asarray(array, dtype=np.float32)
    layout = resolve_layout(layout)
    n = len(LAYOUTS[layout])
    if a.ndim != 3 or a.shape[1] != n or a.shape[2] not in (2, 3):
        raise InvalidKeypointsError(f"{tuple(a.shape)}: expected (T, {n}, 2) or (T, {n}, 3) for {layout}")
    idx = ct17_indices(layout)
    t = a.shape[0]
    xy = np.full((t, NUM_JOINTS, 2), np.nan, np.float32)
    conf = np.zeros((t, NUM_JOINTS), np.float32)
    have = idx >= 0
    xy[:, have] = a[:, idx[have], :2]
    if a.shape[2] == 3:
        c = a[:, idx[have], 2]
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
