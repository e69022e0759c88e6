"""The pose encoder f_v: sport-agnostic kinematic features, one vector per second (see docs/features.md).

Pipeline: ``clean_pose`` (mask joints under ``min_conf``, fill gaps <= 0.5 s, smooth) -> normalise -> per-frame
quantities (``encode_frames``) -> per-second statistics (``encode``).

Normalisation makes every feature invariant to where the person is in the image, how far the camera is, and which
way they face: only differences between joints are used (equivalent to centring on the hip midpoint); lengths are
divided by the clip's median torso length (shoulder-mid to hip-mid; without hips, by a body scale from shoulder
width and upper-arm length, see ``body_scale``); x is flipped so that +x is the way the person faces (from toes vs
heels, else nose vs shoulders), and y points up.

Missing joints give NaN internally; the output is finite: NaN becomes 0 and ``avail_*`` columns say what fraction
of the second each group of features could be computed on.

>>> enc = KinematicEncoder()
>>> feats = enc.encode(pose)                         # doctest: +SKIP
>>> feats.features.shape, enc.dim, enc.feature_names[0]   # doctest: +SKIP
((3, 89), 89, 'elbow_angle_left_mean')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crosstrainer.encoders.base import ClipFeatures
from crosstrainer.keypoints.filtering import clean_pose
from crosstrainer.keypoints.skeleton import J, PoseSequence

MIN_CONF_BY_LAYOUT = {"coco17": 0.3, "openpose18": 0.3, "openpose25": 0.3}
"""Confidence below which a joint is "not detected"; MediaPipe visibility (and unknown sources) use 0.5."""
DEFAULT_MIN_CONF = 0.5
_DEFAULT_MIN_CONFS = {"default": DEFAULT_MIN_CONF, **MIN_CONF_BY_LAYOUT}

# Segment masses as a fraction of body mass (rounded Dempster/Winter values): (proximal, distal, mass).
_SEGMENTS: tuple[tuple[str, str, float], ...] = (
    ("left_shoulder", "left_elbow", 0.028), ("right_shoulder", "right_elbow", 0.028),
    ("left_elbow", "left_wrist", 0.022), ("right_elbow", "right_wrist", 0.022),
    ("left_hip", "left_knee", 0.100), ("right_hip", "right_knee", 0.100),
    ("left_knee", "left_ankle", 0.061), ("right_knee", "right_ankle", 0.061),
)  # fmt: skip
_HEAD_MASS, _TRUNK_MASS = 0.081, 0.497

_ANGLES = ("elbow", "shoulder", "hip", "knee", "ankle")
_SIDES = ("left", "right")
_VIS_GROUPS = {
    "head": ("nose",),
    "arms": ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist"),
    "hips": ("left_hip", "right_hip"),
    "legs": ("left_knee", "right_knee", "left_ankle", "right_ankle"),
    "feet": ("left_heel", "right_heel", "left_foot_index", "right_foot_index"),
}
_AVAIL = ("arm_left", "arm_right", "trunk", "head", "leg_left", "leg_right", "feet", "com", "body_line")

# Per-second features: (output name, per-frame quantity, statistic). Order = column order.
_SPEC: list[tuple[str, str, str]] = []
for _a in _ANGLES:
    for _s in _SIDES:
        _SPEC += [
            (f"{_a}_angle_{_s}_mean", f"{_a}_angle_{_s}", "mean"),
            (f"{_a}_angle_{_s}_range", f"{_a}_angle_{_s}", "range"),
            (f"{_a}_angvel_{_s}_mean", f"{_a}_angvel_{_s}", "mean"),
        ]
_SPEC += [
    ("trunk_lean_mean", "trunk_lean", "mean"),
    ("trunk_lean_range", "trunk_lean", "range"),
    ("trunk_lean_fwd_mean", "trunk_lean_fwd", "mean"),
    ("trunk_lean_fwd_min", "trunk_lean_fwd", "min"),
    ("trunk_lean_fwd_max", "trunk_lean_fwd", "max"),
    ("trunk_angvel_mean", "trunk_angvel", "mean"),
    ("head_fwd_mean", "head_fwd", "mean"),
    ("head_up_mean", "head_up", "mean"),
    ("body_tilt_mean", "body_tilt", "mean"),
    ("horizontal_frac", "horizontal", "mean"),
    ("shoulder_width_mean", "shoulder_width", "mean"),
    ("hip_line_offset_mean", "hip_line_offset", "mean"),
    ("hip_line_offset_min", "hip_line_offset", "min"),
    ("hip_line_offset_max", "hip_line_offset", "max"),
    ("body_line_angle_mean", "body_line_angle", "mean"),
    ("knee_over_toe_mean", "knee_over_toe", "mean"),
    ("knee_over_toe_max", "knee_over_toe", "max"),
    ("feet_width_mean", "feet_width", "mean"),
    ("knee_width_mean", "knee_width", "mean"),
    ("hand_up_shoulder_mean", "hand_up_shoulder", "mean"),
    ("hand_up_shoulder_min", "hand_up_shoulder", "min"),
    ("hand_up_shoulder_max", "hand_up_shoulder", "max"),
    ("hand_fwd_shoulder_mean", "hand_fwd_shoulder", "mean"),
    ("hand_fwd_shoulder_range", "hand_fwd_shoulder", "range"),
    ("hand_up_hip_mean", "hand_up_hip", "mean"),
    ("upper_arm_angle_max", "upper_arm_angle", "max"),
    ("elbow_drift", "elbow_drift", "special"),
    ("com_bos_offset_mean", "com_bos_offset", "mean"),
    ("com_bos_offset_std", "com_bos_offset", "std"),
    ("com_outside_bos_frac", "com_outside_bos", "mean"),
    ("com_height_range", "com_y", "range"),
    ("sym_elbow_mean", "sym_elbow", "mean"),
    ("sym_shoulder_mean", "sym_shoulder", "mean"),
    ("sym_hip_mean", "sym_hip", "mean"),
    ("sym_knee_mean", "sym_knee", "mean"),
    ("sym_wrist_height_mean", "sym_wrist_height", "mean"),
    ("wrist_speed_mean", "wrist_speed", "mean"),
    ("ankle_speed_mean", "ankle_speed", "mean"),
    ("hip_speed_mean", "hip_speed", "mean"),
    ("wrist_jerk_log", "wrist_jerk_sq", "jerk:wrist_speed"),
    ("ankle_jerk_log", "ankle_jerk_sq", "jerk:ankle_speed"),
    ("hip_jerk_log", "hip_jerk_sq", "jerk:hip_speed"),
    ("hip_x_range", "hip_x", "range"),
    ("hip_y_range", "hip_y", "range"),
    ("visibility_all", "vis_all", "mean"),
    *[(f"visibility_{g}", f"vis_{g}", "mean") for g in _VIS_GROUPS],
    *[(f"avail_{g}", f"avail_{g}", "mean") for g in _AVAIL],
]

FRAME_FEATURES: tuple[str, ...] = (
    *[f"{a}_angle_{s}" for a in _ANGLES for s in _SIDES],
    *[f"{a}_angvel_{s}" for a in _ANGLES for s in _SIDES],
    "trunk_lean", "trunk_lean_fwd", "trunk_angvel", "head_fwd", "head_up", "body_tilt", "horizontal",
    "shoulder_width", "hip_line_offset", "body_line_angle", "knee_over_toe", "feet_width", "knee_width",
    "hand_up_shoulder", "hand_fwd_shoulder", "hand_up_hip", "upper_arm_angle",
    "elbow_rel_x_left", "elbow_rel_y_left", "elbow_rel_x_right", "elbow_rel_y_right",
    "com_bos_offset", "com_outside_bos", "com_y",
    "sym_elbow", "sym_shoulder", "sym_hip", "sym_knee", "sym_wrist_height",
    "wrist_speed", "ankle_speed", "hip_speed", "wrist_jerk_sq", "ankle_jerk_sq", "hip_jerk_sq", "hip_x", "hip_y",
    "vis_all", *[f"vis_{g}" for g in _VIS_GROUPS], *[f"avail_{g}" for g in _AVAIL],
)  # fmt: skip
"""Names of the columns ``KinematicEncoder.encode_frames`` returns."""

_COL = {n: i for i, n in enumerate(FRAME_FEATURES)}


# ------------------------------------------------------------------------------------------------ small vector tools
def _mid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Midpoint of two (T, 2) point series; where one is missing, the other one."""
    both = np.stack([a, b])
    ok = np.isfinite(both).all(-1)
    n = ok.sum(0)[:, None]
    s = np.where(ok[..., None], both, 0.0).sum(0)
    return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _angle_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Unsigned angle in degrees between vector series (T, 2); NaN if either is missing or zero."""
    nu, nv = np.linalg.norm(u, axis=-1), np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (u * v).sum(-1) / (nu * nv)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def _deriv(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """d/dt along axis 0 (NaN where a neighbour is missing); NaN for fewer than 2 frames."""
    if len(t) < 2:
        return np.full_like(x, np.nan, dtype=np.float64)
    return np.gradient(x, t, axis=0)


def _nanmean_stack(*arrays: np.ndarray) -> np.ndarray:
    a = np.stack(arrays)
    ok = np.isfinite(a)
    n = ok.sum(0)
    return np.where(n > 0, np.where(ok, a, 0.0).sum(0) / np.maximum(n, 1), np.nan)


def _nanmax_stack(*arrays: np.ndarray) -> np.ndarray:
    a = np.stack(arrays)
    ok = np.isfinite(a)
    return np.where(ok.any(0), np.where(ok, a, -np.inf).max(0), np.nan)


def _nanmedian(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else float("nan")


def body_scale(xy: np.ndarray) -> tuple[float, str]:
    """The clip's length unit and where it came from: median torso length, else a shoulder/arm-based estimate.

    Fallbacks (for data without hips) use typical adult proportions: torso ~ 1.3 x shoulder width ~ 1.6 x upper arm,
    taking the larger of the two (both shrink when seen from the side). Last resort: half the median extent of the
    visible joints.
    """
    p = {n: xy[:, J[n]].astype(np.float64) for n in J}
    torso = np.linalg.norm(_mid(p["left_shoulder"], p["right_shoulder"]) - _mid(p["left_hip"], p["right_hip"]), axis=-1)
    s = _nanmedian(torso)
    if np.isfinite(s) and s > 0:
        return s, "torso"
    sw = _nanmedian(np.linalg.norm(p["left_shoulder"] - p["right_shoulder"], axis=-1)) * 1.3
    arms = [_nanmedian(np.linalg.norm(p[f"{x}_shoulder"] - p[f"{x}_elbow"], axis=-1)) * 1.6 for x in _SIDES]
    ua = max((a for a in arms if np.isfinite(a)), default=np.nan)
    cands = [v for v in (sw, ua) if np.isfinite(v) and v > 0]
    if cands:
        return max(cands), "shoulders/arms"
    ext = np.nanmax(xy, axis=1) - np.nanmin(xy, axis=1) if np.isfinite(xy).any() else np.full((1, 2), np.nan)
    e = _nanmedian(np.linalg.norm(ext, axis=-1)) * 0.5
    if np.isfinite(e) and e > 0:
        return e, "extent"
    return 1.0, "none"


def facing_sign(xy: np.ndarray, scale: float) -> float:
    """+1 if the person faces +x (image right), -1 if -x: from toes vs heels, else nose vs shoulder midpoint."""
    p = {n: xy[:, J[n]].astype(np.float64) for n in J}
    feet = _nanmean_stack(
        p["left_foot_index"][:, 0] - p["left_heel"][:, 0], p["right_foot_index"][:, 0] - p["right_heel"][:, 0]
    )
    d = _nanmedian(feet)
    if np.isfinite(d) and abs(d) > 0.05 * scale:
        return float(np.sign(d))
    d = _nanmedian(p["nose"][:, 0] - _mid(p["left_shoulder"], p["right_shoulder"])[:, 0])
    if np.isfinite(d) and d != 0:
        return float(np.sign(d))
    return 1.0


# ------------------------------------------------------------------------------------------------------- the encoder
class KinematicEncoder:
    """Per-second kinematic features of a ``PoseSequence`` (implements ``encoders.base.VideoEncoder``)."""

    name = "pose-kinematics"
    version = "2"  # 2: short leading/trailing gaps are held (keypoints.filtering.fill_gaps)

    def __init__(
        self,
        window_s: float = 1.0,
        min_conf: float | None = None,
        max_gap_s: float = 0.5,
        sigma_s: float = 0.05,
        min_partial_s: float = 0.3,
    ) -> None:
        self.window_s = float(window_s)
        self.min_conf = min_conf
        self.max_gap_s = max_gap_s
        self.sigma_s = sigma_s
        self.min_partial_s = min_partial_s
        self.feature_names: list[str] = [n for n, _, _ in _SPEC]
        self.dim = len(self.feature_names)
        self.frame_feature_names: list[str] = list(FRAME_FEATURES)

    def config(self) -> dict[str, Any]:
        return {
            "window_s": self.window_s,
            "min_conf": self.min_conf if self.min_conf is not None else _DEFAULT_MIN_CONFS,
            "max_gap_s": self.max_gap_s,
            "sigma_s": self.sigma_s,
            "min_partial_s": self.min_partial_s,
            "dim": self.dim,
        }

    def _min_conf_for(self, pose: PoseSequence) -> float:
        if self.min_conf is not None:
            return float(self.min_conf)
        return MIN_CONF_BY_LAYOUT.get(str(pose.meta.get("layout", "")), DEFAULT_MIN_CONF)

    # ---------------------------------------------------------------------------------------------- per frame
    def encode_frames(self, pose: PoseSequence) -> tuple[np.ndarray, dict[str, Any]]:
        """Per-frame quantities ``(T, len(FRAME_FEATURES))`` (NaN where not computable) and normalisation info."""
        clean = clean_pose(pose, self._min_conf_for(pose), self.max_gap_s, self.sigma_s)
        xy = clean.xy.astype(np.float64)
        t = clean.times_s
        n = len(t)
        scale, scale_src = body_scale(xy)
        face = facing_sign(xy, scale)
        # forward-x, up-y, body units
        q = np.empty_like(xy)
        q[..., 0] = face * xy[..., 0] / scale
        q[..., 1] = -xy[..., 1] / scale
        p = {name: q[:, J[name]] for name in J}
        out = np.full((n, len(FRAME_FEATURES)), np.nan)

        def put(name: str, value: np.ndarray) -> None:
            out[:, _COL[name]] = value

        sh_mid = _mid(p["left_shoulder"], p["right_shoulder"])
        hip_mid = _mid(p["left_hip"], p["right_hip"])
        ank_mid = _mid(p["left_ankle"], p["right_ankle"])
        knee_mid = _mid(p["left_knee"], p["right_knee"])
        trunk_up = sh_mid - hip_mid  # (T, 2)
        trunk_down = np.where(np.isfinite(trunk_up), -trunk_up, np.array([0.0, -1.0]))  # vertical when no hips

        angles: dict[str, np.ndarray] = {}
        for s in _SIDES:
            sh, el, wr = p[f"{s}_shoulder"], p[f"{s}_elbow"], p[f"{s}_wrist"]
            hp, kn, an, toe = p[f"{s}_hip"], p[f"{s}_knee"], p[f"{s}_ankle"], p[f"{s}_foot_index"]
            angles[f"elbow_{s}"] = _angle_between(sh - el, wr - el)
            angles[f"shoulder_{s}"] = _angle_between(el - sh, np.where(np.isfinite(sh), trunk_down, np.nan))
            angles[f"hip_{s}"] = _angle_between(np.where(np.isfinite(hp), trunk_up, np.nan), kn - hp)
            angles[f"knee_{s}"] = _angle_between(hp - kn, an - kn)
            angles[f"ankle_{s}"] = _angle_between(kn - an, toe - an)
        for a in _ANGLES:
            for s in _SIDES:
                put(f"{a}_angle_{s}", angles[f"{a}_{s}"])
                put(f"{a}_angvel_{s}", np.abs(_deriv(angles[f"{a}_{s}"], t)))

        lean_fwd = np.degrees(np.arctan2(trunk_up[:, 0], trunk_up[:, 1]))
        put("trunk_lean", np.abs(lean_fwd))
        put("trunk_lean_fwd", lean_fwd)
        put("trunk_angvel", np.abs(_deriv(lean_fwd, t)))
        head = p["nose"] - sh_mid
        put("head_fwd", head[:, 0])
        put("head_up", head[:, 1])

        low = np.where(np.isfinite(ank_mid), ank_mid, np.where(np.isfinite(knee_mid), knee_mid, hip_mid))
        axis = sh_mid - low
        tilt = np.degrees(np.arctan2(np.abs(axis[:, 0]), axis[:, 1]))
        put("body_tilt", tilt)
        horizontal = np.where(np.isfinite(tilt), (tilt > 45).astype(float), np.nan)
        put("horizontal", horizontal)
        put("shoulder_width", np.linalg.norm(p["left_shoulder"] - p["right_shoulder"], axis=-1))

        # hip relative to the shoulder-ankle (else shoulder-knee) line: + = above the line (pike), - = below (sag)
        line_end = np.where(np.isfinite(ank_mid), ank_mid, knee_mid)
        d = line_end - sh_mid
        normal = np.stack([-d[:, 1], d[:, 0]], axis=-1)
        normal = np.where((normal[:, 1:2] < 0), -normal, normal)
        with np.errstate(invalid="ignore", divide="ignore"):
            normal = normal / np.linalg.norm(normal, axis=-1, keepdims=True)
        put("hip_line_offset", ((hip_mid - sh_mid) * normal).sum(-1))
        put("body_line_angle", _angle_between(sh_mid - hip_mid, line_end - hip_mid))

        kot = []
        for s in _SIDES:
            toe = np.where(np.isfinite(p[f"{s}_foot_index"]), p[f"{s}_foot_index"], p[f"{s}_ankle"])
            kot.append(p[f"{s}_knee"][:, 0] - toe[:, 0])
        put("knee_over_toe", _nanmax_stack(*kot))
        put("feet_width", np.abs(p["left_ankle"][:, 0] - p["right_ankle"][:, 0]))
        put("knee_width", np.abs(p["left_knee"][:, 0] - p["right_knee"][:, 0]))

        up_sh, fwd_sh, up_hip = [], [], []
        for s in _SIDES:
            rel = p[f"{s}_wrist"] - p[f"{s}_shoulder"]
            up_sh.append(rel[:, 1])
            fwd_sh.append(rel[:, 0])
            up_hip.append(p[f"{s}_wrist"][:, 1] - hip_mid[:, 1])
            el = p[f"{s}_elbow"] - p[f"{s}_shoulder"]
            put(f"elbow_rel_x_{s}", el[:, 0])
            put(f"elbow_rel_y_{s}", el[:, 1])
        put("hand_up_shoulder", _nanmean_stack(*up_sh))
        put("hand_fwd_shoulder", _nanmean_stack(*fwd_sh))
        put("hand_up_hip", _nanmean_stack(*up_hip))
        put("upper_arm_angle", _nanmax_stack(angles["shoulder_left"], angles["shoulder_right"]))

        com = self._com(p, sh_mid, hip_mid)
        bos_pts = [p[f"{s}_{j}"][:, 0] for s in _SIDES for j in ("ankle", "heel", "foot_index")]
        hands = [p[f"{s}_wrist"][:, 0] for s in _SIDES]
        bos = np.stack(bos_pts + hands)  # (K, T)
        use = np.isfinite(bos)
        use[len(bos_pts) :] &= (horizontal == 1)[None, :]
        has_feet = use[: len(bos_pts)].any(0)
        use &= has_feet[None, :]
        lo = np.where(use, bos, np.inf).min(0)
        hi = np.where(use, bos, -np.inf).max(0)
        ok = use.any(0) & np.isfinite(com[:, 0])
        with np.errstate(invalid="ignore"):
            centre = np.where(ok, (lo + hi) / 2, np.nan)
        put("com_bos_offset", com[:, 0] - centre)
        outside = (com[:, 0] < lo - 0.05) | (com[:, 0] > hi + 0.05)
        put("com_outside_bos", np.where(ok, outside.astype(float), np.nan))
        put("com_y", com[:, 1])

        put("sym_elbow", np.abs(angles["elbow_left"] - angles["elbow_right"]))
        put("sym_shoulder", np.abs(angles["shoulder_left"] - angles["shoulder_right"]))
        put("sym_hip", np.abs(angles["hip_left"] - angles["hip_right"]))
        put("sym_knee", np.abs(angles["knee_left"] - angles["knee_right"]))
        put("sym_wrist_height", np.abs(p["left_wrist"][:, 1] - p["right_wrist"][:, 1]))

        for key, pts in (
            ("wrist", (p["left_wrist"], p["right_wrist"])),
            ("ankle", (p["left_ankle"], p["right_ankle"])),
            ("hip", (hip_mid,)),
        ):
            speeds, jerks = [], []
            for pt in pts:
                v = _deriv(pt, t)
                jk = _deriv(_deriv(v, t), t)
                speeds.append(np.linalg.norm(v, axis=-1))
                jerks.append((jk**2).sum(-1))
            put(f"{key}_speed", _nanmean_stack(*speeds))
            put(f"{key}_jerk_sq", _nanmean_stack(*jerks))
        put("hip_x", hip_mid[:, 0])
        put("hip_y", hip_mid[:, 1])

        seen = clean.conf > 0
        put("vis_all", seen.mean(1))
        for g, names in _VIS_GROUPS.items():
            put(f"vis_{g}", seen[:, [J[x] for x in names]].mean(1))
        fin = np.isfinite
        avail = {
            "arm_left": fin(angles["elbow_left"]),
            "arm_right": fin(angles["elbow_right"]),
            "trunk": fin(lean_fwd),
            "head": fin(head[:, 0]),
            "leg_left": fin(angles["knee_left"]),
            "leg_right": fin(angles["knee_right"]),
            "feet": fin(angles["ankle_left"]) | fin(angles["ankle_right"]),
            "com": ok,
            "body_line": fin(out[:, _COL["hip_line_offset"]]),
        }
        for g in _AVAIL:
            put(f"avail_{g}", avail[g].astype(float))
        info = {"scale": scale, "scale_source": scale_src, "facing": face, "frames": n, "fps": clean.fps}
        return out, info

    @staticmethod
    def _com(p: dict[str, np.ndarray], sh_mid: np.ndarray, hip_mid: np.ndarray) -> np.ndarray:
        """Approximate centre of mass (T, 2): mass-weighted segment midpoints, weights renormalised over those seen."""
        parts = [(p["nose"], _HEAD_MASS), ((sh_mid + hip_mid) / 2, _TRUNK_MASS)]
        parts += [((p[a] + p[b]) / 2, m) for a, b, m in _SEGMENTS]
        pts = np.stack([x for x, _ in parts])  # (K, T, 2)
        w = np.array([m for _, m in parts])[:, None] * np.isfinite(pts).all(-1)  # (K, T)
        total = w.sum(0)
        com = (np.where(w[..., None] > 0, pts, 0.0) * w[..., None]).sum(0) / np.maximum(total, 1e-9)[:, None]
        trunk_seen = np.isfinite(pts[1, :, 0])  # without the trunk the estimate is meaningless
        return np.where(trunk_seen[:, None] & (total[:, None] > 0), com, np.nan)

    # --------------------------------------------------------------------------------------------- per second
    def windows(self, times_s: np.ndarray, fps: float) -> tuple[np.ndarray, int]:
        """Window index per frame (-1 = dropped partial tail) and the number of windows."""
        if len(times_s) == 0:
            return np.zeros(0, np.int64), 0
        w = np.floor((times_s - times_s[0]) / self.window_s + 1e-9).astype(np.int64)
        s = int(w.max()) + 1
        if s > 1 and (w == s - 1).sum() / fps < self.min_partial_s - 1e-9:
            w = np.where(w == s - 1, -1, w)
            s -= 1
        return w, s

    def encode(self, pose: PoseSequence) -> ClipFeatures:
        """One feature vector per ``window_s`` (1 s) of ``pose``; ``ClipFeatures.features`` is (S, ``dim``), finite."""
        if not isinstance(pose, PoseSequence):
            raise TypeError(f"KinematicEncoder.encode expects a PoseSequence, got {type(pose).__name__}")
        if len(pose) == 0:
            raise ValueError("cannot encode an empty pose sequence")
        frames, info = self.encode_frames(pose)
        w, s = self.windows(pose.times_s, pose.fps)
        keep = w >= 0
        w, frames = w[keep], frames[keep]
        pos = np.arange(len(w)) - np.searchsorted(w, w)  # position inside its window (w is sorted)
        length = int(pos.max()) + 1
        grid = np.full((s, length, frames.shape[1]), np.nan)
        grid[w, pos] = frames
        ok = np.isfinite(grid)
        cnt = ok.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(ok, grid, 0.0).sum(1) / cnt
            mn = np.where(ok, grid, np.inf).min(1)
            mx = np.where(ok, grid, -np.inf).max(1)
            var = (np.where(ok, grid - mean[:, None], 0.0) ** 2).sum(1) / cnt
        mn[cnt == 0] = np.nan
        mx[cnt == 0] = np.nan
        stats = {"mean": mean, "min": mn, "max": mx, "range": mx - mn, "std": np.sqrt(var)}
        dur = np.maximum(np.bincount(w, minlength=s) / pose.fps, 1.0 / pose.fps)
        cols = []
        for _, q, stat in _SPEC:
            if stat in stats:
                cols.append(stats[stat][:, _COL[q]])
            elif stat == "special":  # elbow drift: spread of the elbow around the shoulder, mean over sides
                sd_ = stats["std"]
                sd = [np.hypot(sd_[:, _COL[f"elbow_rel_x_{x}"]], sd_[:, _COL[f"elbow_rel_y_{x}"]]) for x in _SIDES]
                cols.append(_nanmean_stack(*sd))
            else:  # "jerk:<speed column>": log dimensionless jerk, D^3 / v_peak^2 * integral |jerk|^2 dt
                vpeak = np.maximum(stats["max"][:, _COL[stat.split(":")[1]]], 0.05)
                dj = dur**3 / vpeak**2 * mean[:, _COL[q]] * dur
                with np.errstate(invalid="ignore", divide="ignore"):
                    cols.append(np.clip(np.log1p(dj), 0.0, 30.0))
        feats = np.stack(cols, axis=1)
        feats = np.where(np.isfinite(feats), feats, 0.0).astype(np.float32)
        vis = np.nan_to_num(mean[:, _COL["vis_all"]], nan=0.0).astype(np.float32)
        times = pose.times_s[0] + np.arange(s) * self.window_s
        meta = {**info, "window_s": self.window_s, "config": self.config()}
        return ClipFeatures(features=feats, times_s=times, visibility=vis, encoder=self.name, meta=meta)
