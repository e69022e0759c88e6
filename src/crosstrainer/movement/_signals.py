"""Per-frame body signals shared by the repetition finder and the measures.

``body_signals(pose)`` cleans the pose exactly like the kinematic encoder (``KinematicEncoder.encode_frames``: low
confidence masked, gaps up to 0.5 s filled, light smoothing) and returns named 1-D signals, one value per frame:

* joint angles in degrees (``left_elbow_angle``, ``right_knee_angle``, ...; 180 = straight limb, shoulder 0 = arm
  down along the trunk), taken from the encoder's per-frame columns;
* joint positions in torso lengths, relative to the hip midpoint, x forward (the way the person faces) and y up
  (``left_wrist_height``, ``left_wrist_forward``, ...), and the hip midpoint relative to the ankles' midpoint
  (``hip_height``, ``hip_forward``).

Remaining NaN gaps (joints lost for more than 0.5 s) are linearly interpolated in time, edges held; ``available``
says on which fraction of frames each signal was really seen. Every signal is then median-filtered (kills one- or
two-frame tracking glitches) and Savitzky-Golay smoothed (0.3 s window, quadratic).

>>> sig = body_signals(pose)                                  # doctest: +SKIP
>>> sig.values["left_elbow_angle"].shape, sig.available["left_elbow_angle"]  # doctest: +SKIP
((87,), 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import medfilt, savgol_filter

from crosstrainer.encoders.kinematics import (
    DEFAULT_MIN_CONF,
    FRAME_FEATURES,
    MIN_CONF_BY_LAYOUT,
    KinematicEncoder,
    _mid,
)
from crosstrainer.keypoints.filtering import clean_pose
from crosstrainer.keypoints.skeleton import J, PoseSequence

SIDES = ("left", "right")
ANGLE_JOINTS = ("elbow", "shoulder", "hip", "knee")
POSITION_JOINTS = ("wrist", "elbow", "knee", "ankle")
MIN_AVAILABLE = 0.6
"""A signal seen on fewer frames than this is not a candidate for the primary motion."""
SMOOTH_S = 0.3

_COL = {n: i for i, n in enumerate(FRAME_FEATURES)}


@dataclass
class BodySignals:
    """Named per-frame signals of one clip (see the module docstring), plus the encoder's per-frame columns."""

    times_s: np.ndarray
    fps: float
    values: dict[str, np.ndarray] = field(default_factory=dict)
    available: dict[str, float] = field(default_factory=dict)
    frames: np.ndarray | None = None
    """``KinematicEncoder.encode_frames`` output (T, len(FRAME_FEATURES)), NaN where not computable."""
    scale: float = 1.0
    points: np.ndarray | None = None
    """Cleaned joint positions (T, 17, 2) in torso lengths, x forward and y up, NaN where missing (not smoothed)."""

    @staticmethod
    def unit(name: str) -> str:
        return "deg" if name.endswith("_angle") else "torso"

    def frame(self, name: str) -> np.ndarray:
        """One raw per-frame column of the kinematic encoder (``FRAME_FEATURES``), NaN where missing."""
        assert self.frames is not None
        return self.frames[:, _COL[name]]

    def candidates(self) -> list[str]:
        """Signals seen on enough frames to be considered for the primary motion."""
        return [n for n, a in self.available.items() if a >= MIN_AVAILABLE]


def fill_nan(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN (edges held); all-NaN stays all-NaN.

    >>> fill_nan(np.array([np.nan, 1.0, np.nan, 3.0, np.nan])).tolist()
    [1.0, 1.0, 2.0, 3.0, 3.0]
    """
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    if ok.all() or not ok.any():
        return x.copy()
    idx = np.arange(len(x))
    return np.interp(idx, idx[ok], x[ok])


def odd_window(seconds: float, fps: float, n: int, minimum: int = 3) -> int:
    """An odd number of frames close to ``seconds``, at least ``minimum`` and at most ``n`` (0 if impossible)."""
    w = max(minimum, round(seconds * fps) | 1)
    if w > n:
        w = n if n % 2 else n - 1
    return w if w >= minimum else 0


def smooth_signal(x: np.ndarray, fps: float, seconds: float = SMOOTH_S) -> np.ndarray:
    """Median filter (about 0.15 s) then Savitzky-Golay (``seconds``, quadratic) along axis 0 of (T,) or (T, K).

    Short series are returned as they are. The median filter's edges keep the original values (it pads with zeros).
    """
    n = len(x)
    k = odd_window(0.15, fps, n)
    y = np.asarray(x, dtype=np.float64).copy()
    if k >= 3:
        med = medfilt(y, [k] + [1] * (y.ndim - 1))
        h = k // 2
        y[h : n - h] = med[h : n - h]
    w = odd_window(seconds, fps, n, minimum=5)
    return savgol_filter(y, w, 2, axis=0) if w >= 5 else y


def body_signals(pose: PoseSequence) -> BodySignals:
    """Angles (deg) and torso-normalised positions of one pose sequence, cleaned, gap-filled and smoothed."""
    enc = KinematicEncoder()
    frames, info = enc.encode_frames(pose)
    scale, face = float(info["scale"]), float(info["facing"])
    fps = float(pose.fps)
    out = BodySignals(times_s=pose.times_s.copy(), fps=fps, frames=frames, scale=scale)
    if len(pose) == 0:
        return out
    raw: dict[str, np.ndarray] = {}
    for a in ANGLE_JOINTS:
        for s in SIDES:
            raw[f"{s}_{a}_angle"] = frames[:, _COL[f"{a}_angle_{s}"]]
    # positions: same cleaning as the encoder, forward-x / up-y in torso lengths
    min_conf = MIN_CONF_BY_LAYOUT.get(str(pose.meta.get("layout", "")), DEFAULT_MIN_CONF)
    xy = clean_pose(pose, min_conf, enc.max_gap_s, enc.sigma_s).xy.astype(np.float64)
    q = np.stack([face * xy[..., 0], -xy[..., 1]], axis=-1) / scale
    out.points = q
    hip = _mid(q[:, J["left_hip"]], q[:, J["right_hip"]])
    ankle = _mid(q[:, J["left_ankle"]], q[:, J["right_ankle"]])
    for j in POSITION_JOINTS:
        for s in SIDES:
            rel = q[:, J[f"{s}_{j}"]] - hip
            raw[f"{s}_{j}_height"] = rel[:, 1]
            raw[f"{s}_{j}_forward"] = rel[:, 0]
    raw["hip_height"] = (hip - ankle)[:, 1]
    raw["hip_forward"] = (hip - ankle)[:, 0]
    names = list(raw)
    seen = np.stack([np.isfinite(raw[k]) for k in names], axis=1)  # (T, K)
    filled = np.stack([fill_nan(raw[k]) for k in names], axis=1)
    some = seen.any(0)
    smoothed = filled.copy()
    if some.any():
        smoothed[:, some] = smooth_signal(filled[:, some], fps)
    for i, name in enumerate(names):
        out.available[name] = float(seen[:, i].mean())
        out.values[name] = smoothed[:, i]
    return out


def robust_range(x: np.ndarray, lo: float = 5.0, hi: float = 95.0) -> float:
    """Percentile range (p95 - p5 by default) of the finite values; NaN when there are none."""
    x = x[np.isfinite(x)]
    return float(np.percentile(x, hi) - np.percentile(x, lo)) if x.size else float("nan")
