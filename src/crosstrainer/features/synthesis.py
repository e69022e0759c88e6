"""Attribute synthesis: physically plausible faulty versions of real correct executions, with a known fault.

Real labelled faults exist for a few exercises only, but the skill-attributes (trunk control, range of motion,
symmetry, ...) mean the same on every exercise. From a real CORRECT execution of any *training* movement, each
perturbation makes a faulty version whose attribute, severity, time window and measured size are known::

    pose2, fault = trunk_sway(pose, np.random.default_rng(0), severity=0.6)
    fault.to_dict()
    {"kind": "trunk_sway", "attribute": "trunk control", "severity": 0.6, "window": [0.0, 2.4],
     "magnitude": 18.2, "unit": "degrees", "description": "trunk sways 18 degrees in phase with the movement",
     "feedback": "Your trunk swings about 18 degrees: brace your core and keep your torso still.", "params": {...}}

| kind | attribute | what changes (severity 0 -> 1) |
|---|---|---|
| ``trunk_sway`` | trunk control | upper body turns about the hip centre in phase with the main motion, 8-25 deg |
| ``trunk_lean`` | posture | constant extra lean of the upper body about the hip centre, 10-30 deg |
| ``reduced_range`` | range of motion | the swinging segments keep 80-40 % of their swing about the rest position |
| ``side_lag`` | symmetry | one arm lags the other by 0.15-0.5 s, or swings 20-50 % less |
| ``hips_drop`` | hip alignment | the pelvis sags/pikes (or shifts) off the shoulder-ankle line, 5-15 % torso |
| ``jerky_tempo`` | movement control | whole body re-timed (speed varies 30-75 %) plus 3-5 Hz tremor bursts |
| ``compensating_part`` | compensation | arm movements: hips shift 5-15 % torso; leg movements: arms swing 10-30 deg |
| ``knee_valgus`` | knee alignment | loaded knees cave in as the hips go down (3-D: 8-25 deg; 2-D: 6-18 % torso) |
| ``weight_shift`` | balance | the body above the ankles drifts sideways over the feet and back, 10-25 % torso |

How: a change is a rotation of a segment (with everything it carries) about its parent joint, a move of the pelvis
over fixed feet (two-bone IK for each leg, the knee staying on its side), or a re-timing of the whole body, so 2-D
bone lengths are kept; feet that stand still stay planted (the body is re-anchored on the stiller ankle, the other
leg is solved by IK). Segments that turn toward the camera (foreshortened) are not rotated: their 2-D direction is
not their motion. Each fault lives in a window that holds the movement's turning point and enters and leaves with
``RAMP_S`` raised-cosine ramps; frames outside it are bit-identical to the original. Clips under ``WHOLE_CLIP_S``
carry the fault on every frame. ``check_plausible`` measures bone-length change and frame-to-frame jumps; every
perturbation runs it on its own output and raises ``NotApplicable`` instead of returning an implausible pose (as it
does when the clip lacks what the fault needs: a moving limb, both arms swinging together, a front view, ...).

With ``pose.meta["xyz"]`` and its camera record (UI-PRMD) the 3-D joints are edited too: each joint moves in the
camera's image plane at its own depth and then slides along its camera ray to keep its bone's 3-D length, so
re-projecting the new ``xyz`` with the same camera gives the new 2-D keypoints (``knee_valgus`` turns the knee about
the hip-ankle axis in 3-D and re-projects). The fault then lies in that camera's image plane.

**Never perturb a held-out exercise**: ``synthesize`` only transforms what it is given, so the caller must pass the
training samples only (a movement held out for zero-shot evaluation must not leak in as a synthetic fault).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from crosstrainer.data.sample import Commentary, Sample
from crosstrainer.encoders.kinematics import DEFAULT_MIN_CONF, MIN_CONF_BY_LAYOUT, body_scale, facing_sign
from crosstrainer.keypoints.filtering import clean_pose, smooth
from crosstrainer.keypoints.projection import Camera, project
from crosstrainer.keypoints.skeleton import J, PoseSequence

ATTRIBUTES: tuple[str, ...] = (
    "posture",
    "trunk control",
    "compensation",
    "range of motion",
    "movement control",
    "symmetry",
    "balance",
    "hip alignment",
    "knee alignment",
    "core stability",
)
"""The canonical transferable skill-attributes (``core stability`` has no perturbation of its own)."""
GOOD, FAULTY = "good form", "needs improvement"
MIN_FRAMES = 20
"""Clips shorter than this (0.67 s at 30 fps) are not perturbed: too short for a ramp in and out."""
MAX_BONE_CHANGE = 0.10
"""``check_plausible``: largest allowed change of a bone's 2-D length, relative to its median length."""
MAX_JUMP_RATIO = 2.0
"""``check_plausible``: largest allowed fastest frame-to-frame move, relative to the original's fastest."""
MIN_SEEN = 0.6
"""A joint detected on fewer frames than this is not used to analyse the movement."""
RAMP_S = 0.5
"""Duration of the raised-cosine ramps that bring a fault in and out."""
WHOLE_CLIP_S = 2.0
"""Clips shorter than this carry the fault on all their frames (no ramps)."""

_SIDES = ("left", "right")
_FOOT = ("ankle", "heel", "foot_index")
_UPPER_NAMES = ("nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist")
# segment -> (parent point, child point, joints that move with it); parents first
_SEGMENTS: dict[str, tuple[str, str, tuple[str, ...]]] = {"trunk": ("hip_centre", "shoulder_centre", _UPPER_NAMES)}
for _s in _SIDES:
    _SEGMENTS[f"{_s}_upper_arm"] = (f"{_s}_shoulder", f"{_s}_elbow", (f"{_s}_elbow", f"{_s}_wrist"))
    _SEGMENTS[f"{_s}_thigh"] = (f"{_s}_hip", f"{_s}_knee", (f"{_s}_knee", *(f"{_s}_{f}" for f in _FOOT)))
for _s in _SIDES:
    _SEGMENTS[f"{_s}_forearm"] = (f"{_s}_elbow", f"{_s}_wrist", (f"{_s}_wrist",))
    _SEGMENTS[f"{_s}_shin"] = (f"{_s}_knee", f"{_s}_ankle", tuple(f"{_s}_{f}" for f in _FOOT))
_UPPER = [J[n] for n in _UPPER_NAMES]
_LIMB_CHAIN = [
    (J[f"{s}_{a}"], J[f"{s}_{b}"])
    for s in ("left", "right")
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))
] + [(J[f"{s}_ankle"], J[f"{s}_{f}"]) for s in ("left", "right") for f in ("heel", "foot_index")]
"""(parent, child) joint pairs, parents first: the bones ``_lift_xyz`` keeps at their 3-D length."""
_JOINT_OF = {"upper_arm": "shoulder", "forearm": "elbow", "thigh": "hip", "shin": "knee"}
_REFERENCE = {"upper_arm": "trunk", "forearm": "upper_arm", "thigh": "trunk", "shin": "thigh"}
BONES: tuple[tuple[str, str], ...] = (
    *((f"{s}_shoulder", f"{s}_elbow") for s in _SIDES),
    *((f"{s}_elbow", f"{s}_wrist") for s in _SIDES),
    *((f"{s}_hip", f"{s}_knee") for s in _SIDES),
    *((f"{s}_knee", f"{s}_ankle") for s in _SIDES),
    *((f"{s}_ankle", f"{s}_heel") for s in _SIDES),
    *((f"{s}_ankle", f"{s}_foot_index") for s in _SIDES),
    ("shoulder_centre", "hip_centre"),
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
)
"""Joint pairs whose distance ``check_plausible`` follows: limb bones, feet, the trunk (shoulder centre to hip
centre; its sides bend with the spine), shoulder and hip width."""
# rounded Dempster/Winter segment masses (fraction of body mass) for the centre of mass
_COM_PARTS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("nose",), 0.081),
    (("left_shoulder", "right_shoulder", "left_hip", "right_hip"), 0.497),
    *(((f"{s}_shoulder", f"{s}_elbow"), 0.028) for s in _SIDES),
    *(((f"{s}_elbow", f"{s}_wrist"), 0.022) for s in _SIDES),
    *(((f"{s}_hip", f"{s}_knee"), 0.100) for s in _SIDES),
    *(((f"{s}_knee", f"{s}_ankle"), 0.061) for s in _SIDES),
)


class NotApplicable(ValueError):
    """The perturbation does not fit this clip (too short, the needed joints unseen, no such motion, ...)."""


@dataclass
class Fault:
    """What a perturbation did: attribute, severity in (0, 1], window in seconds from the clip start, measured size.

    >>> Fault("trunk_lean", "posture", 0.5, (0.2, 1.9), "trunk leans 20 degrees", 20.0, "degrees").to_dict()["window"]
    [0.2, 1.9]
    """

    kind: str
    attribute: str
    severity: float
    window: tuple[float, float]
    description: str
    magnitude: float
    unit: str
    feedback: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["window"] = [float(self.window[0]), float(self.window[1])]
        return out


# ------------------------------------------------------------------------------------------------ small geometry
def _fill(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN along time (axis 0, edges held) of every series; all-NaN series stay NaN."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    out = flat.copy()
    idx = np.arange(len(x))
    for k in np.flatnonzero(~np.isfinite(flat).all(0)):
        ok = np.isfinite(flat[:, k])
        if ok.any():
            out[:, k] = np.interp(idx, idx[ok], flat[ok, k])
    return out.reshape(x.shape)


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def _angle(v: np.ndarray) -> np.ndarray:
    """Direction of 2-D vectors (..., 2) in radians, image coordinates (x right, y down)."""
    return np.arctan2(v[..., 1], v[..., 0])


def _rotate(q: np.ndarray, joints: list[int], pivot: np.ndarray, angle: np.ndarray) -> None:
    """In place: rotate ``q[:, joints]`` (T, K, 2) about ``pivot`` (T, 2) by ``angle`` (T,) radians."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    v = q[:, joints] - pivot[:, None]
    q[:, joints] = pivot[:, None] + np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], -1)


def _mid(q: np.ndarray, a: str, b: str) -> np.ndarray:
    return (q[:, J[a]] + q[:, J[b]]) / 2


def _point(q: np.ndarray, name: str) -> np.ndarray:
    """A joint (T, 2), or ``hip_centre`` / ``shoulder_centre``."""
    if name in J:
        return q[:, J[name]]
    side = name.split("_")[0]
    return _mid(q, f"left_{side}", f"right_{side}")


def _direction(q: np.ndarray, seg: str) -> np.ndarray:
    """Unwrapped direction (T,) of a segment (``_SEGMENTS``) in radians, image coordinates."""
    a, b, _ = _SEGMENTS[seg]
    return np.unwrap(_angle(_point(q, b) - _point(q, a)))


def _relative(q: np.ndarray, seg: str) -> np.ndarray:
    """Signed angle (T,) in degrees of a segment against its reference (the trunk is measured from upright).

    Unlike the encoder's unsigned joint angles it does not fold at 0 or 180 degrees, so its range is the swing.
    """
    if seg == "trunk":
        return np.degrees(np.unwrap(_wrap(_direction(q, seg) + np.pi / 2)))
    side, part = seg.split("_", 1)
    ref = _REFERENCE[part] if _REFERENCE[part] == "trunk" else f"{side}_{_REFERENCE[part]}"
    return np.degrees(np.unwrap(_wrap(_direction(q, seg) - _direction(q, ref))))


def _ids(names: tuple[str, ...] | list[str]) -> list[int]:
    return [J[n] for n in names]


def _trunk_angle(q: np.ndarray) -> np.ndarray:
    """Trunk (hip centre -> shoulder centre) angle from image-up, degrees, positive towards +x."""
    v = _mid(q, "left_shoulder", "right_shoulder") - _mid(q, "left_hip", "right_hip")
    return np.degrees(np.arctan2(v[:, 0], -v[:, 1]))


def _joint_angle(q: np.ndarray, seg: str) -> np.ndarray:
    """The kinematic encoder's joint angle (degrees) that ``seg`` (e.g. ``left_forearm``: the elbow) drives."""
    side, part = seg.split("_", 1)
    p = {n: q[:, J[f"{side}_{n}"]] for n in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")}
    trunk_up = _mid(q, "left_shoulder", "right_shoulder") - _mid(q, "left_hip", "right_hip")
    u, v = {
        "upper_arm": (p["elbow"] - p["shoulder"], -trunk_up),
        "forearm": (p["shoulder"] - p["elbow"], p["wrist"] - p["elbow"]),
        "thigh": (trunk_up, p["knee"] - p["hip"]),
        "shin": (p["hip"] - p["knee"], p["ankle"] - p["knee"]),
    }[part]
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def _normal(d: np.ndarray) -> np.ndarray:
    """Unit normals (T, 2) of the directions ``d`` (T, 2), all on one side: image-up for a lying line, and for an
    upright one the side of the clip's median normal (so that it does not flip from frame to frame)."""
    n = np.stack([d[:, 1], -d[:, 0]], -1) / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-12)
    dm = np.nanmedian(d, axis=0)
    ref = np.array([dm[1], -dm[0]]) * (-1.0 if -dm[0] > 0 else 1.0)  # the median line's normal, pointing up
    return n * np.where((n * ref).sum(-1, keepdims=True) < 0, -1.0, 1.0)


def _com(q: np.ndarray) -> np.ndarray:
    """Approximate centre of mass (T, 2): mass-weighted segment midpoints, weights over the parts present."""
    pts = np.stack([q[:, _ids(names)].mean(1) for names, _ in _COM_PARTS])  # (K, T, 2)
    w = np.array([m for _, m in _COM_PARTS])[:, None] * np.isfinite(pts).all(-1)
    return (np.where(w[..., None] > 0, pts, 0.0) * w[..., None]).sum(0) / np.maximum(w.sum(0), 1e-9)[:, None]


def _p98(x: np.ndarray) -> float:
    """98th percentile of |x| (a robust maximum; 0 when nothing is finite)."""
    v = _percentiles(np.abs(x), (98.0,))[0]
    return float(v) if np.isfinite(v) else 0.0


def _percentiles(x: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    """Percentiles ``q`` of the finite values of ``x`` (NaN when there are none), as ``np.percentile`` but faster
    on the short series used here."""
    x = np.sort(x[np.isfinite(x)])
    if not x.size:
        return np.full(len(q), np.nan)
    pos = np.asarray(q, np.float64) / 100 * (x.size - 1)
    lo = np.floor(pos).astype(int)
    frac = pos - lo
    return x[lo] * (1 - frac) + x[np.minimum(lo + 1, x.size - 1)] * frac


def _range(x: np.ndarray) -> float:
    """p95 - p5 of the finite values (0 when there are none)."""
    v = _percentiles(x, (5.0, 95.0))
    return float(v[1] - v[0]) if np.isfinite(v).all() else 0.0


# ------------------------------------------------------------------------------------------------- the analysis
@dataclass
class _Clip:
    """One clip analysed once: raw positions, the main motion and its phase, which limbs move, which feet stand."""

    pose: PoseSequence
    p: np.ndarray  # (T, 17, 2) raw positions, gaps filled (NaN only for joints never given)
    seen: np.ndarray  # (17,) fraction of frames each joint is detected (conf >= the encoder's min_conf)
    scale: float  # torso length in image units
    theta: dict[str, np.ndarray]  # segment -> (T,) unwrapped direction on the raw positions, radians
    ranges: dict[str, float]  # segment -> p95-p5 of its direction on the cleaned positions, radians
    u: np.ndarray  # (T,) phase of the main motion: 0 at rest, 1 at the turning point
    primary: str
    static: bool
    moving: list[str]  # segments that swing (in the image plane)
    foreshortened: list[str]  # segments that turn towards the camera: not edited by rotation
    dominant: str  # "arms", "legs" or "static"
    front: bool
    facing: float
    planted: list[str]

    def has(self, *names: str) -> bool:
        return all(self.seen[J[n]] >= MIN_SEEN for n in names)

    def present(self, *names: str) -> bool:
        return all(np.isfinite(self.p[:, J[n]]).all() for n in names)


def _analyse(pose: PoseSequence, rng: np.random.Generator) -> _Clip:
    """What moves and how: the main motion (the segment direction, or hip height, with the largest p5-p95 range,
    measured on the encoder's cleaned keypoints), its phase ``u``, the swinging segments, the planted feet, the view.
    A static clip (main range under 0.25 rad or torso lengths) gets a slow random oscillation as its phase."""
    n = len(pose)
    if n < MIN_FRAMES:
        raise NotApplicable(f"clip too short: {n} frames < {MIN_FRAMES}")
    min_conf = MIN_CONF_BY_LAYOUT.get(str(pose.meta.get("layout", "")), DEFAULT_MIN_CONF)
    clean = clean_pose(pose, min_conf)
    seen = (clean.conf > 0).mean(0)
    cl = _fill(clean.xy.astype(np.float64))
    cl[:, seen < MIN_SEEN] = np.nan
    p = _fill(pose.xy.astype(np.float64))
    scale, _ = body_scale(cl)
    if not (np.isfinite(scale) and scale > 0):
        raise NotApplicable("no body scale")
    fps = float(pose.fps)
    theta = {seg: _direction(p, seg) for seg in _SEGMENTS}
    ranges: dict[str, float] = {}
    signals: dict[str, np.ndarray] = {}
    foreshortened: list[str] = []
    for seg, (a, b, _) in _SEGMENTS.items():
        d = _direction(cl, seg)
        if np.isfinite(d).mean() < MIN_SEEN:
            continue
        length = np.linalg.norm(_point(cl, b) - _point(cl, a), axis=-1)
        if np.mean(length < 0.6 * _percentiles(length, (95.0,))[0]) > 0.15:
            foreshortened.append(seg)  # turns towards the camera: its 2-D direction is not its motion
            continue
        ranges[seg] = _range(d)
        if seg != "trunk":
            signals[seg] = np.where(np.isfinite(d), d, np.nanmedian(d))
    if all(seen[J[x]] >= MIN_SEEN for x in ("left_hip", "right_hip", "left_ankle", "right_ankle")):
        h = _mid(cl, "left_ankle", "right_ankle")[:, 1] - _mid(cl, "left_hip", "right_hip")[:, 1]
        signals["hip_height"] = h / scale
    energy = {k: float(np.diff(_percentiles(v, (10.0, 90.0)))[0]) for k, v in signals.items()}  # robust to glitches
    primary = max(energy, key=energy.get) if energy else "none"
    static = not energy or energy[primary] < 0.25  # under ~15 degrees (or a quarter torso length)
    if static:  # a slow sway, at least half a cycle within the clip
        dur = max(pose.duration_s, 1e-3)
        f, ph = rng.uniform(max(0.3, 0.6 / dur), max(0.6, 1.0 / dur)), rng.uniform(0, 2 * np.pi)
        u = 0.5 - 0.5 * np.cos(2 * np.pi * f * (pose.times_s - pose.times_s[0]) + ph)
    else:
        sig = smooth(signals[primary][:, None], fps, 0.1)[:, 0].astype(np.float64)
        lo, hi = np.percentile(sig, [2, 98])
        rest, turn = (lo, hi) if _rest_is_low(cl, primary, sig, lo, hi) else (hi, lo)
        u = np.clip((sig - rest) / (turn - rest), 0.0, 1.0)
    top = max((r for s, r in ranges.items() if s != "trunk"), default=0.0)
    top = max(top, energy.get("hip_height", 0.0) if foreshortened else 0.0)
    moving = [s for s, r in ranges.items() if not static and r >= max(0.26, 0.4 * top)]
    lead = max((s for s in moving if s != "trunk"), key=lambda s: ranges[s], default="")
    dominant = "static" if static else "legs" if primary == "hip_height" or lead.endswith(("thigh", "shin")) else "arms"
    # front-ish view: shoulders at least 0.35 or hips 0.2 torso lengths apart in the image
    front = any(
        seen[J[f"left_{j}"]] >= MIN_SEEN
        and seen[J[f"right_{j}"]] >= MIN_SEEN
        and np.nanmedian(np.abs(cl[:, J[f"left_{j}"], 0] - cl[:, J[f"right_{j}"], 0])) >= lim * scale
        for j, lim in (("shoulder", 0.35), ("hip", 0.2))
    )
    # planted feet: the ankle moves less than 0.2 torso lengths, or than 0.4 x the hips' rise and fall (a squat)
    drift = {s: float(np.hypot(*[_range(cl[:, J[f"{s}_ankle"], k]) for k in (0, 1)])) for s in _SIDES}
    limit = max(0.2, 0.4 * _range(_mid(cl, "left_hip", "right_hip")[:, 1]) / scale) * scale
    planted = sorted((s for s in _SIDES if seen[J[f"{s}_ankle"]] >= MIN_SEEN and drift[s] < limit), key=drift.get)
    facing = facing_sign(cl, scale)
    return _Clip(
        pose, p, seen, float(scale), theta, ranges, u, primary, static, moving, foreshortened, dominant, front, facing,
        planted,
    )  # fmt: skip


def _rest_is_low(cl: np.ndarray, primary: str, sig: np.ndarray, lo: float, hi: float) -> bool:
    """Which end of the main signal is rest: the anatomically neutral one (elbow and knee straight, arm and thigh
    down, hips high), else the one the clip starts at (a segmented repetition starts at rest)."""
    near_lo, near_hi = sig <= lo + 0.15 * (hi - lo), sig >= hi - 0.15 * (hi - lo)
    if primary == "hip_height":
        return False  # signal = hip height: rest is standing tall
    rel = np.abs(_relative(cl, primary))
    # distance from neutral, degrees: 0 for a straight elbow or knee; 180 for an arm or thigh hanging down
    off = rel if primary.endswith(("forearm", "shin")) else 180.0 - rel
    off_lo, off_hi = np.nanmean(off[near_lo]), np.nanmean(off[near_hi])
    if np.isfinite(off_lo) and np.isfinite(off_hi) and abs(off_lo - off_hi) > 15.0:
        return bool(off_lo < off_hi)
    start = float(np.mean(sig[:3]))
    return abs(start - lo) <= abs(start - hi)


def _window(c: _Clip, rng: np.random.Generator, min_frac: float = 0.5) -> tuple[int, int, np.ndarray]:
    """Frames [a, b) and the fault's weight (T,): 0 outside, raised-cosine ramps of ``RAMP_S`` inside.

    Clips shorter than ``WHOLE_CLIP_S`` get the fault on every frame at full strength (no room for ramps: the
    clip starts and ends inside the fault). Longer ones get a window of 50-100 % of the clip that holds the main
    motion's turning point at full strength; a window within half a ramp of the clip's start (end) is snapped to it
    and starts (ends) at full strength.
    """
    n = len(c.u)
    if n < WHOLE_CLIP_S * c.pose.fps:
        return 0, n, np.ones(n)
    r = max(2, round(RAMP_S * c.pose.fps))
    length = max(4 * r, round(n * rng.uniform(min_frac, 1.0)))
    peak = int(np.argmax(c.u))
    lo, hi = max(0, peak + r + 1 - length), min(n - length, peak - r)
    a = int(rng.integers(lo, hi + 1)) if lo <= hi else int(np.clip(peak - length // 2, 0, n - length))
    b = a + length
    a, b = (0 if a < r / 2 else a), (n if n - b < r / 2 else b)
    i = np.arange(b - a, dtype=np.float64)
    up = (i + 1) / (r + 1) if a > 0 else np.ones_like(i)
    down = (b - a - i) / (r + 1) if b < n else np.ones_like(i)
    w = np.zeros(n)
    w[a:b] = np.sin(np.pi / 2 * np.clip(np.minimum(up, down), 0.0, 1.0)) ** 2
    return a, b, w


# -------------------------------------------------------------------------------------------------- mechanics
def _set_angles(q: np.ndarray, c: _Clip, targets: dict[str, np.ndarray], w: np.ndarray) -> None:
    """In place: turn each segment of ``targets`` (parents first) towards its target direction, blended by ``w``."""
    for seg, (a, b, sub) in _SEGMENTS.items():
        if seg not in targets:
            continue
        want = c.theta[seg] + w * _wrap(targets[seg] - c.theta[seg])
        now = _angle(_point(q, b) - _point(q, a))
        _rotate(q, _ids(sub), _point(q, a).copy(), _wrap(want - now))


def _two_bone(
    root: np.ndarray, goal: np.ndarray, l1: np.ndarray, l2: np.ndarray, bend: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Two-bone IK in 2-D: (middle joint, end) reaching from ``root`` towards ``goal`` with lengths ``l1``, ``l2``.

    The middle joint goes to the ``bend`` side (+1/-1, sign of the 2-D cross product goal x middle); out of reach,
    the chain points straight at the goal and ends short of it.
    """
    v = goal - root
    dist = np.linalg.norm(v, axis=-1)
    e = v / np.maximum(dist, 1e-12)[:, None]
    d = np.clip(dist, np.abs(l1 - l2) + 1e-9, l1 + l2)
    along = (l1**2 - l2**2 + d**2) / (2 * d)
    across = np.sqrt(np.maximum(l1**2 - along**2, 0.0))
    perp = np.stack([-e[:, 1], e[:, 0]], -1) * bend[:, None]
    return root + along[:, None] * e + across[:, None] * perp, root + d[:, None] * e


def _bend(root: np.ndarray, middle: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The side (+1/-1) the middle joint (knee) is on over the clip: a knee does not change sides within a clip."""
    usual = float(np.sign(np.nansum(np.cross(end - root, middle - root)))) or 1.0
    return np.full(len(root), usual)


def _plant(q: np.ndarray, c: _Clip) -> None:
    """In place: keep standing feet where they were (shift the body onto the stiller ankle; IK for the other leg)."""
    if not c.planted:
        return
    anchor = J[f"{c.planted[0]}_ankle"]
    q += (c.p[:, anchor] - q[:, anchor])[:, None]
    for s in c.planted[1:]:
        hip, knee, ank = J[f"{s}_hip"], J[f"{s}_knee"], J[f"{s}_ankle"]
        l1, l2 = np.linalg.norm(q[:, knee] - q[:, hip], axis=-1), np.linalg.norm(q[:, ank] - q[:, knee], axis=-1)
        bend = _bend(c.p[:, hip], c.p[:, knee], c.p[:, ank])
        q[:, knee], end = _two_bone(q[:, hip], c.p[:, ank], l1, l2, bend)
        q[:, _ids([f"{s}_{f}" for f in _FOOT])] += (end - q[:, ank])[:, None]


def _shift_hips(q: np.ndarray, c: _Clip, disp: np.ndarray, keep_shoulders: bool) -> None:
    """In place: move the pelvis by ``disp`` (T, 2) over fixed feet (two-bone IK per leg, knee on its side).

    ``keep_shoulders``: the trunk turns about the new hips so the shoulders stay (the arms keep their direction);
    otherwise the upper body moves with the hips.
    """
    old_hip = _mid(q, "left_hip", "right_hip")
    old_sh = _mid(q, "left_shoulder", "right_shoulder")
    for s in _SIDES:
        hip, knee, ank = J[f"{s}_hip"], J[f"{s}_knee"], J[f"{s}_ankle"]
        goal = q[:, hip] + disp
        if c.present(f"{s}_knee", f"{s}_ankle"):
            l1, l2 = np.linalg.norm(q[:, knee] - q[:, ank], axis=-1), np.linalg.norm(q[:, hip] - q[:, knee], axis=-1)
            q[:, knee], reached = _two_bone(q[:, ank], goal, l1, l2, _bend(q[:, ank], q[:, knee], q[:, hip]))
            # out of reach (a straight leg): the pelvis still moves as one piece, the foot slides the rest
            slide = goal - reached
            q[:, knee] += slide
            q[:, _ids([f"{s}_{f}" for f in _FOOT])] += slide[:, None]
            q[:, hip] = goal
        elif c.present(f"{s}_knee"):
            _rotate(q, [hip], q[:, knee], _wrap(_angle(goal - q[:, knee]) - _angle(q[:, hip] - q[:, knee])))
        else:
            q[:, hip] = goal
    new_hip = _mid(q, "left_hip", "right_hip")
    q[:, _UPPER] += (new_hip - old_hip)[:, None]
    if keep_shoulders:
        beta = _wrap(_angle(old_sh - new_hip) - _angle(old_sh - old_hip))
        _rotate(q, _UPPER, new_hip, beta)
        for s in _SIDES:
            _rotate(q, _ids([f"{s}_elbow", f"{s}_wrist"]), q[:, J[f"{s}_shoulder"]], -beta)


def _in_phase_sign(x: np.ndarray, u: np.ndarray, rng: np.random.Generator) -> float:
    """+1/-1: the sign of ``x``'s own in-phase motion with ``u`` when it has one (|r| > 0.3), else random; a
    compensation exaggerates what the body already does rather than cancel it."""
    ok = np.isfinite(x)
    corr = float(np.corrcoef(x[ok], u[ok])[0, 1]) if ok.sum() > 2 and np.std(x[ok]) > 0 and np.std(u[ok]) > 0 else 0.0
    return float(np.sign(corr)) if abs(corr) > 0.3 else float(rng.choice([-1.0, 1.0]))


def _shrink(q: np.ndarray, c: _Clip, segs: list[str], keep: float, w: np.ndarray) -> None:
    """In place: each segment's joint angle (against its reference, ``_relative``) keeps ``keep`` of its swing about
    its value at rest, blended by ``w``; parents first, so a child keeps its own joint angle as its parent turns."""
    at_rest = c.u <= 0.15
    rest_frames = at_rest if at_rest.sum() >= 3 else np.argsort(c.u)[:3]
    for seg in (s for s in _SEGMENTS if s in segs):
        rel = np.radians(_relative(c.p, seg))
        rest = float(np.median(rel[rest_frames]))
        want_rel = rel + w * (rest + keep * (rel - rest) - rel)
        now_rel = np.radians(_relative(q, seg))
        a, _, sub = _SEGMENTS[seg]
        _rotate(q, _ids(sub), _point(q, a).copy(), _wrap(want_rel - now_rel))


def _full(w: np.ndarray) -> np.ndarray:
    """Frames at full strength (weight 1), else the top third of the window."""
    full = w >= 1 - 1e-9
    return full if full.any() else w >= np.max(w) * 0.66


# -------------------------------------------------------------------------------------------------- packaging
def _compose(c: _Clip, q: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The output positions: ``q`` where the weight is > 0, the original elsewhere, NaN where the input was NaN."""
    orig = c.pose.xy.astype(np.float64)
    out = np.where((w > 0)[:, None, None], q, orig)
    out[~np.isfinite(orig)] = np.nan
    return out


def _camera(meta: dict[str, Any]) -> Camera | None:
    """The virtual camera ``project`` recorded in ``meta`` (with its target), or None."""
    cam = meta.get("camera")
    if not isinstance(cam, dict) or meta.get("target_m") is None:
        return None
    return Camera(**{**cam, "image_size": tuple(cam["image_size"])})


def _lift_xyz(meta: dict[str, Any], xyz: np.ndarray, delta: np.ndarray) -> np.ndarray | None:
    """3-D joints (T, 17, 3) moved so that their projection moves by ``delta`` (T, 17, 2) pixels.

    Each joint moves in the image plane of the camera in ``meta`` (``project``'s record) at its own depth, so that
    projecting the result with that camera gives the edited 2-D keypoints; then, limb by limb from the trunk out,
    each moved joint slides along its camera ray (its pixel unchanged) to the depth that restores its bone's 3-D
    length (or the nearest one). None without a camera record.
    """
    camera, target = _camera(meta), meta.get("target_m")
    if camera is None or target is None:
        return None
    direction, rot = camera.basis()
    eye = np.asarray(target, np.float64) + camera.distance_m * direction
    base = np.asarray(xyz, dtype=np.float64)
    depth = (base - eye) @ rot[2]
    d = np.nan_to_num(delta)
    out = base + np.nan_to_num((d[..., :1] * rot[0] - d[..., 1:] * rot[1]) * (depth / camera.focal)[..., None])
    moved = np.abs(d).sum(-1) > 0  # (T, 17)
    for parent, child in _LIMB_CHAIN:
        todo = (moved[:, child] | moved[:, parent]) & np.isfinite(out[:, [parent, child]]).all((1, 2))
        if not todo.any():
            continue
        length = np.linalg.norm(base[todo, child] - base[todo, parent], axis=-1)
        ray = out[todo, child] - eye
        now = np.linalg.norm(ray, axis=-1)
        ray /= now[:, None]
        along = (ray * (out[todo, parent] - eye)).sum(-1)
        disc = along**2 - (np.linalg.norm(out[todo, parent] - eye, axis=-1) ** 2 - length**2)
        root = np.sqrt(np.maximum(disc, 0.0))
        lam = np.where(np.abs(along + root - now) < np.abs(along - root - now), along + root, along - root)
        out[todo, child] = eye + lam[:, None] * ray
        moved[todo, child] = True
    return out.astype(np.float32)


def _package(
    c: _Clip, out: np.ndarray, w: np.ndarray, a: int, b: int, kind: str, severity: float,
    magnitude: float, unit: str, description: str, params: dict[str, Any], source_time: np.ndarray | None = None,
    xyz: np.ndarray | None = None,
) -> tuple[PoseSequence, Fault]:  # fmt: skip
    pose = c.pose
    t0 = float(pose.times_s[0])
    window = (float(pose.times_s[a]) - t0, float(pose.times_s[b - 1]) - t0 + 1.0 / pose.fps)
    fault = Fault(kind, KINDS[kind], float(severity), window, description, round(float(magnitude), 3), unit)
    fault.params = {k: (round(float(v), 4) if isinstance(v, float | np.floating) else v) for k, v in params.items()}
    full = np.flatnonzero(_full(w))  # the span at full strength, inside the ramps
    fault.params["full_window"] = [float(pose.times_s[full[0]]) - t0, float(pose.times_s[full[-1]]) - t0 + 1 / pose.fps]
    fault.feedback = feedback_text(fault)
    meta = {**pose.meta, "synthetic": fault.to_dict()}
    base = pose.xy.astype(np.float64)
    if xyz is None:
        xyz = pose.meta.get("xyz")
        lift = True
    else:  # already edited in 3-D
        lift = False
    if source_time is not None:  # re-timed: each frame shows the pose of another moment, in 3-D too
        meta["synthetic_source_time_s"] = np.asarray(source_time, np.float64)
        base = _retime(base, pose.times_s, source_time)
        xyz = None if xyz is None else _retime(np.asarray(xyz, np.float64), pose.times_s, source_time)
    if lift and xyz is not None:
        xyz = _lift_xyz(pose.meta, xyz, out - base)
    if xyz is not None:  # bit-identical outside the window, as the 2-D keypoints
        meta["xyz"] = np.where((w > 0)[:, None, None], xyz, pose.meta["xyz"]).astype(np.float32)
    src = f"{pose.source}#synth-{kind}" if pose.source else f"synth-{kind}"
    new = PoseSequence(out.astype(np.float32), pose.conf.copy(), pose.times_s.copy(), pose.fps, src, meta)
    check = check_plausible(pose, new)  # a last guard: noisy or foreshortened keypoints can defeat an edit
    if not check["plausible"]:
        raise NotApplicable(f"{kind} would not be plausible on this clip: {check}")
    return new, fault


def _retime(x: np.ndarray, times_s: np.ndarray, source_time: np.ndarray) -> np.ndarray:
    """``x`` (T, ...) seen at ``source_time`` (T,) seconds: linear interpolation between neighbouring frames."""
    src = np.interp(source_time, times_s, np.arange(len(times_s), dtype=np.float64))
    i0 = np.clip(np.floor(src).astype(int), 0, len(times_s) - 2)
    frac = (src - i0).reshape(-1, *([1] * (x.ndim - 1)))
    return x[i0] * (1 - frac) + x[i0 + 1] * frac


def _start(pose: PoseSequence, rng: np.random.Generator, severity: float) -> _Clip:
    if not 0.0 < severity <= 1.0:
        raise ValueError(f"severity must be in (0, 1], got {severity}")
    return _analyse(pose, rng)


def _need(c: _Clip, *names: str) -> None:
    missing = [n for n in names if not c.has(n)]
    if missing:
        raise NotApplicable(f"not seen: {', '.join(missing)}")


def _need_trunk(c: _Clip) -> None:
    """A shoulder and a hip seen (the other side may be hidden, as in side views), all four given."""
    if not (c.has("left_shoulder") or c.has("right_shoulder")) or not (c.has("left_hip") or c.has("right_hip")):
        raise NotApplicable("trunk not seen")
    if not c.present("left_shoulder", "right_shoulder", "left_hip", "right_hip"):
        raise NotApplicable("a shoulder or hip is never given")


# ------------------------------------------------------------------------------------------------ perturbations
def trunk_sway(pose: PoseSequence, rng: np.random.Generator, severity: float) -> tuple[PoseSequence, Fault]:
    """Trunk control: the upper body rotates about the hip centre in phase with the main motion, 8-25 degrees."""
    c = _start(pose, rng, severity)
    _need_trunk(c)
    a, b, w = _window(c, rng)
    amp = 8.0 + 17.0 * severity
    sign = _in_phase_sign(_trunk_angle(c.p), c.u, rng)
    q = c.p.copy()
    _rotate(q, _UPPER, _mid(q, "left_hip", "right_hip"), np.radians(sign * amp) * c.u * w)
    out = _compose(c, q, w)
    moved = _p98(_wrap(np.radians(_trunk_angle(out) - _trunk_angle(c.pose.xy)))[a:b]) * 180 / np.pi
    desc = f"trunk sways {moved:.0f} degrees in phase with the movement"
    return _package(c, out, w, a, b, "trunk_sway", severity, moved, "degrees", desc, {"amplitude_deg": amp})


def trunk_lean(pose: PoseSequence, rng: np.random.Generator, severity: float) -> tuple[PoseSequence, Fault]:
    """Posture: a constant extra lean of the upper body about the hip centre, 10-30 degrees, away from upright."""
    c = _start(pose, rng, severity)
    _need_trunk(c)
    a, b, w = _window(c, rng)
    amp = 10.0 + 20.0 * severity
    lean = float(np.nanmedian(_trunk_angle(c.p)))
    sign = float(np.sign(lean)) if 3.0 < abs(lean) < 45.0 else float(rng.choice([-1.0, 1.0]))
    q = c.p.copy()
    _rotate(q, _UPPER, _mid(q, "left_hip", "right_hip"), np.radians(sign * amp) * w)
    out = _compose(c, q, w)
    d = np.degrees(_wrap(np.radians(_trunk_angle(out) - _trunk_angle(c.pose.xy))))
    moved = float(np.nanmedian(np.abs(d[_full(w)])))
    desc = f"trunk leans {moved:.0f} degrees further off upright"
    return _package(c, out, w, a, b, "trunk_lean", severity, moved, "degrees", desc, {"lean_deg": amp})


def _primary_seg(c: _Clip, segs: list[str]) -> str:
    return max(segs, key=lambda s: c.ranges.get(s, 0.0))


def reduced_range(pose: PoseSequence, rng: np.random.Generator, severity: float) -> tuple[PoseSequence, Fault]:
    """Range of motion: the moving limb segments keep 0.8 (mild) to 0.4 (severe) of their swing about rest."""
    c = _start(pose, rng, severity)
    if not c.moving:
        raise NotApplicable("no limb moves")
    a, b, w = _window(c, rng)
    keep = 0.8 - 0.4 * severity
    q = c.p.copy()
    _shrink(q, c, c.moving, keep, w)
    if any(s.endswith(("thigh", "shin")) for s in c.moving):
        _plant(q, c)
    out = _compose(c, q, w)
    seg = _primary_seg(c, [s for s in c.moving if s != "trunk"] or c.moving)
    joint = "trunk" if seg == "trunk" else f"{seg.split('_')[0]} {_JOINT_OF[seg.split('_', 1)[1]]}"
    full = _full(w)
    before, after = _range(_relative(c.p, seg)[full]), _range(_relative(out, seg)[full])
    lost = 100.0 * (1.0 - after / before) if before > 0 else 0.0
    if lost < 50.0 * (1.0 - keep):  # the joint's swing is not what the segments' swing suggested (noisy keypoints)
        raise NotApplicable(f"the {joint} range shrank by {lost:.0f} % only")
    desc = f"{joint} moves through {after:.0f} of its {before:.0f} degrees ({lost:.0f} % less)"
    params = {"keep": keep, "joint": joint, "range_before_deg": before, "range_after_deg": after, "segments": c.moving}
    return _package(c, out, w, a, b, "reduced_range", severity, lost, "% less range", desc, params)


def _paired(c: _Clip, part: str) -> bool:
    """Both sides' ``part`` (e.g. ``forearm``) swing 20 degrees or more, together (|r| >= 0.6, mirrored or not)."""
    left, right = _relative(c.p, f"left_{part}"), _relative(c.p, f"right_{part}")
    if min(_range(left), _range(right)) < 20.0 or not np.isfinite(left).all() or not np.isfinite(right).all():
        return False
    return abs(float(np.corrcoef(left, right)[0, 1])) >= 0.6


def _asymmetry(q: np.ndarray, parts: list[str], full: np.ndarray) -> float:
    """Mean |left - right| of the encoder's joint angles of ``parts`` over the frames ``full``, degrees."""
    diffs = [np.abs(_joint_angle(q, f"left_{p}") - _joint_angle(q, f"right_{p}"))[full] for p in parts]
    return float(np.nanmean(np.concatenate(diffs)))


def side_lag(pose: PoseSequence, rng: np.random.Generator, severity: float) -> tuple[PoseSequence, Fault]:
    """Symmetry: one arm lags the other by 0.15-0.5 s (``mode`` "lag"), or swings 20-50 % less ("amplitude").

    Only for movements where both arms do the same swing (``_paired``). Of the two arms, the one whose change
    makes the left-right difference of the joint angles grow most is changed; NotApplicable when it grows by less
    than 2 degrees."""
    c = _start(pose, rng, severity)
    arms = {s: [x for x in c.moving if x.startswith(s) and x.endswith("arm")] for s in _SIDES}
    parts = [part for part in ("upper_arm", "forearm") if _paired(c, part)]
    if not (arms["left"] and arms["right"] and parts):
        raise NotApplicable("needs both arms doing the same swing (20 degrees or more, correlated)")
    a, b, w = _window(c, rng)
    mode = str(rng.choice(["lag", "amplitude"]))
    t, full = c.pose.times_s, _full(w)
    lag, keep = 0.15 + 0.35 * severity, 0.8 - 0.3 * severity
    before = _asymmetry(c.p, parts, full)
    tries = {}
    for side in _SIDES:
        q = c.p.copy()
        if mode == "lag":
            _set_angles(q, c, {s: np.interp(t - lag, t, c.theta[s]) for s in arms[side]}, w)
        else:
            _shrink(q, c, arms[side], keep, w)
        tries[side] = (_asymmetry(q, parts, full) - before, q)
    side = max(tries, key=lambda x: tries[x][0])
    grew, q = tries[side]
    if grew < 2.0:
        raise NotApplicable(f"changing one arm adds only {grew:.1f} degrees of left-right difference")
    out = _compose(c, q, w)
    seg = _primary_seg(c, arms[side])
    params: dict[str, Any] = {"mode": mode, "side": side, "asymmetry_added_deg": grew}
    if mode == "lag":
        idx = np.flatnonzero(full)
        orig_th, new_th = c.theta[seg], _direction(out, seg)
        shifts = np.arange(0, round(0.8 * c.pose.fps) + 1)
        err = [np.nanmean(np.abs(new_th[idx] - orig_th[np.clip(idx - k, 0, None)])) for k in shifts]
        magnitude, unit = float(shifts[int(np.argmin(err))] / c.pose.fps), "s"
        desc = f"{side} arm lags the other by {magnitude:.2f} s"
        params["lag_s"] = lag
    else:
        swing0, swing1 = _range(_relative(c.p, seg)[full]), _range(_relative(out, seg)[full])
        magnitude, unit = (100.0 * (1.0 - swing1 / swing0) if swing0 > 0 else 0.0), "% less range"
        desc = f"{side} arm swings {magnitude:.0f} % less than the other"
        params["keep"] = keep
    return _package(c, out, w, a, b, "side_lag", severity, magnitude, unit, desc, params)


def hips_drop(pose: PoseSequence, rng: np.random.Generator, severity: float) -> tuple[PoseSequence, Fault]:
    """Hip alignment: the hips sag (or pike) off the shoulder-ankle line by 5-15 % of the torso length.

    The legs turn about the ankles, the trunk about the new hips so the shoulders stay; on an upright body the
    hips shift sideways off the line (``mode`` "shift").
    """
    c = _start(pose, rng, severity)
    _need_trunk(c)
    if not (c.has("left_ankle") or c.has("right_ankle")):
        raise NotApplicable("no ankle seen: no shoulder-ankle line")
    a, b, w = _window(c, rng)
    size = (0.05 + 0.10 * severity) * c.scale
    d = _mid(c.p, "left_ankle", "right_ankle") - _mid(c.p, "left_shoulder", "right_shoulder")
    up = _normal(d)
    horizontal = float(np.nanmedian(np.abs(d[:, 0]))) > float(np.nanmedian(np.abs(d[:, 1])))
    mode = str(rng.choice(["sag", "pike"])) if horizontal else "shift"
    sign = -1.0 if mode == "sag" else 1.0 if mode == "pike" else float(rng.choice([-1.0, 1.0]))
    q = c.p.copy()
    _shift_hips(q, c, sign * size * w[:, None] * up, keep_shoulders=True)
    out = _compose(c, q, w)
    hip_move = _mid(out, "left_hip", "right_hip") - _mid(c.p, "left_hip", "right_hip")
    moved = float(np.nanmedian((hip_move * up).sum(-1)[_full(w)])) / c.scale  # + = up (pike), - = down (sag)
    what = {"sag": "sag below", "pike": "pike above", "shift": "shift off"}[mode]
    desc = f"hips {what} the shoulder-ankle line by {abs(moved) * 100:.0f} % of the torso length"
    params = {"mode": mode, "offset_torso": moved}
    return _package(c, out, w, a, b, "hips_drop", severity, abs(moved) * 100, "% torso length", desc, params)


def jerky_tempo(pose: PoseSequence, rng: np.random.Generator, severity: float) -> tuple[PoseSequence, Fault]:
    """Movement control: uneven tempo (the whole body re-timed, speed varying 30-75 %) plus 3-5 Hz tremor bursts.

    Every frame becomes the (interpolated) pose of a moment at most ~0.1 s away, so the skeleton stays a real one
    (``pose.meta["synthetic_source_time_s"]`` records which moment). The tremor, where the motion is slowest (holds
    and turning points), shakes the forearms about the elbows by 2-8 degrees (arm movements) or the pelvis over the
    feet by 2-6 % of the torso length (leg movements).
    """
    c = _start(pose, rng, severity)
    if c.static:
        raise NotApplicable("no movement to re-time")
    a, b, w = _window(c, rng)
    t = c.pose.times_s
    freqs, phases = rng.uniform(0.6, 1.8, 3), rng.uniform(0, 2 * np.pi, 3)
    g = (np.sin(2 * np.pi * freqs[:, None] * (t - t[a]) + phases[:, None]) / freqs[:, None]).sum(0) * w
    speed = 0.3 + 0.45 * severity
    g *= speed / max(float(np.max(np.abs(np.gradient(g, t)))), 1e-9)
    source = t + g
    q = _retime(c.p, t, source)
    # tremor bursts where the motion is slowest
    full = np.flatnonzero(_full(w))
    slow = full[np.argsort(np.abs(np.gradient(c.u, t))[full])[: max(1, len(full) // 3)]]
    bursts = 1 + round(3 * severity)
    env = np.zeros_like(t)
    for centre in rng.permutation(slow)[:bursts]:
        bump = np.clip(1 - np.abs(t - t[centre]) / rng.uniform(0.15, 0.25), 0, 1)
        env = np.maximum(env, np.sin(np.pi / 2 * bump) ** 2)
    shake = env * w * np.sin(2 * np.pi * rng.uniform(3.0, 5.0) * t + rng.uniform(0, 2 * np.pi))
    arms = [s for s in _SIDES if c.has(f"{s}_elbow", f"{s}_wrist")]
    if c.dominant == "legs" or not arms:
        part, amp = "pelvis", 0.02 + 0.04 * severity
        up = _mid(q, "left_shoulder", "right_shoulder") - _mid(q, "left_hip", "right_hip")
        up /= np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-12)
        _shift_hips(q, c, (amp * c.scale * shake)[:, None] * up, keep_shoulders=False)
        tremor = f"{amp * 100:.0f} % torso length"
    else:
        part, amp = "forearms", np.radians(2.0 + 6.0 * severity)
        for s in arms:
            _rotate(q, [J[f"{s}_wrist"]], q[:, J[f"{s}_elbow"]], amp * shake)
        tremor = f"{np.degrees(amp):.1f} degrees"
    out = _compose(c, q, w)
    change = float(np.max(np.abs(np.gradient(source, t) - 1.0))) * 100
    desc = f"tempo varies by up to {change:.0f} %, {bursts} tremor burst(s) of the {part} ({tremor})"
    params = {"speed_change": change / 100, "max_shift_s": float(np.max(np.abs(g))), "tremor_part": part}
    params |= {"tremor": tremor, "bursts": bursts}
    return _package(c, out, w, a, b, "jerky_tempo", severity, change, "% tempo change", desc, params, source)


def compensating_part(pose: PoseSequence, rng: np.random.Generator, severity: float) -> tuple[PoseSequence, Fault]:
    """Compensation: a part that should stay still moves in phase with the main motion.

    Arm movements (and static holds): the hips shift 5-15 % of the torso length (trunk turning about them so the
    shoulders stay). Leg movements: the arms swing 10-30 degrees (outward in front views, forward in side views).
    """
    c = _start(pose, rng, severity)
    _need_trunk(c)
    a, b, w = _window(c, rng)
    q = c.p.copy()
    if c.dominant in ("arms", "static"):
        size = (0.05 + 0.10 * severity) * c.scale
        sign = _in_phase_sign(_mid(c.p, "left_hip", "right_hip")[:, 0], c.u, rng)
        disp = np.zeros_like(q[:, 0])
        disp[:, 0] = sign * size * c.u * w
        _shift_hips(q, c, disp, keep_shoulders=True)
        out = _compose(c, q, w)
        hip_move = np.linalg.norm(_mid(out, "left_hip", "right_hip") - _mid(c.p, "left_hip", "right_hip"), axis=-1)
        moved = _p98(hip_move[a:b]) / c.scale * 100
        desc = f"hips shift {moved:.0f} % of the torso length with the movement"
        part, unit = "hips", "% torso length"
    else:
        arms = [s for s in _SIDES if c.has(f"{s}_shoulder", f"{s}_elbow") and f"{s}_upper_arm" not in c.moving]
        if not arms:
            raise NotApplicable("leg movement without a still, visible arm")
        amp = np.radians(10.0 + 20.0 * severity)
        trunk_x = _mid(q, "left_hip", "right_hip")[:, 0]
        for s in arms:
            sh, el = J[f"{s}_shoulder"], J[f"{s}_elbow"]
            v = q[:, el] - q[:, sh]
            want = np.sign(np.nanmedian(q[:, el, 0] - trunk_x)) if c.front else c.facing  # outward / forward
            sign = float(np.sign(np.nanmedian(-v[:, 1] * want))) or 1.0  # d(elbow x)/d(angle) = -v_y
            _rotate(q, _ids([f"{s}_elbow", f"{s}_wrist"]), q[:, sh], sign * amp * c.u * w)
        out = _compose(c, q, w)
        moved = max(
            np.degrees(_p98((_direction(out, f"{s}_upper_arm") - c.theta[f"{s}_upper_arm"])[a:b])) for s in arms
        )
        desc = f"{' and '.join(arms)} arm{'s' if len(arms) > 1 else ''} swing {moved:.0f} degrees with the movement"
        part, unit = "arms", "degrees"
    return _package(c, out, w, a, b, "compensating_part", severity, moved, unit, desc, {"part": part})


def _medial(q: np.ndarray, s: str) -> np.ndarray:
    """Unit normals (T, 2) of side ``s``'s hip-ankle line, pointing toward the hip centre (the body's midline)."""
    d = q[:, J[f"{s}_ankle"]] - q[:, J[f"{s}_hip"]]
    n = np.stack([-d[:, 1], d[:, 0]], -1) / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-12)
    inward = ((_mid(q, "left_hip", "right_hip") - q[:, J[f"{s}_hip"]]) * n).sum(-1, keepdims=True)
    return n * (float(np.sign(np.nansum(inward))) or 1.0)


def knee_valgus(pose: PoseSequence, rng: np.random.Generator, severity: float) -> tuple[PoseSequence, Fault]:
    """Knee alignment: as the hips go down over planted feet, the knees cave toward the midline.

    With 3-D joints (``meta["xyz"]`` and its camera) each loaded knee turns about its hip-ankle axis toward the
    other leg by 8-25 degrees (bone lengths kept exactly; the 2-D keypoints move as the re-projection does). In 2-D
    only (a front-view approximation) the knee moves across its hip-ankle line by 6-18 % of the torso length,
    capped so that thigh and shin keep their 2-D length within 8 %. Needs a front-ish view of a movement that
    lowers the hips (squat, sit-to-stand, lunge) on planted feet.
    """
    c = _start(pose, rng, severity)
    _need(c, "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
    feet = np.mean([c.p[:, J[f"{s}_ankle"], 1] for s in c.planted], axis=0) if c.planted else None
    height = (
        None if feet is None else smooth((feet - _mid(c.p, "left_hip", "right_hip")[:, 1])[:, None], c.pose.fps, 0.1)
    )
    if not c.front or height is None or _range(height[:, 0]) < 0.15 * c.scale:
        raise NotApplicable("needs a front view of the hips going down over planted feet")
    a, b, w = _window(c, rng)
    height = height[:, 0]
    top, low = np.percentile(height, [98, 2])
    amount = np.clip((top - height) / max(top - low, 1e-9), 0.0, 1.0) * w  # 1 where the hips are lowest
    q = c.p.copy()
    xyz, camera = c.pose.meta.get("xyz"), _camera(c.pose.meta)
    new_xyz = None
    if xyz is not None and camera is not None:
        x = np.asarray(xyz, np.float64)
        new_xyz = x.copy()
        psi = np.radians(8.0 + 17.0 * severity) * amount
        for s in c.planted:
            hip, knee, ank = (J[f"{s}_{j}"] for j in ("hip", "knee", "ankle"))
            other = J[f"{'right' if s == 'left' else 'left'}_hip"]
            e = x[:, ank] - x[:, hip]
            e /= np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), 1e-12)
            k = x[:, knee] - x[:, hip]
            r = k - (k * e).sum(-1, keepdims=True) * e  # knee offset from the hip-ankle axis
            turn = np.cross(e, r)
            toward = float(np.sign(np.nansum(turn * (x[:, other] - x[:, hip])))) or 1.0
            new_xyz[:, knee] = x[:, knee] + r * (np.cos(psi)[:, None] - 1) + toward * turn * np.sin(psi)[:, None]
        target = np.asarray(c.pose.meta["target_m"], np.float64)
        moved_px = project(new_xyz, camera, target=target).xy - project(x, camera, target=target).xy
        q += np.nan_to_num(moved_px.astype(np.float64))
        new_xyz = new_xyz.astype(np.float32)
        how = {"knee_turn_deg": 8.0 + 17.0 * severity}
    else:
        size = (0.06 + 0.12 * severity) * c.scale
        for s in c.planted:
            hip, knee, ank = (J[f"{s}_{j}"] for j in ("hip", "knee", "ankle"))
            shift = (size * amount)[:, None] * _medial(q, s)
            scale = np.ones(len(q))
            for end in (hip, ank):  # cap: thigh and shin keep their 2-D length within 8 %
                bone = q[:, knee] - q[:, end]
                length = np.linalg.norm(bone, axis=-1)
                change = np.abs(np.linalg.norm(bone + shift, axis=-1) - length)
                scale = np.minimum(scale, 0.08 * np.nanmedian(length) / np.maximum(change, 1e-12))
            q[:, knee] += shift * np.clip(scale, 0.0, 1.0)[:, None]
        how = {"shift_torso": size / c.scale}
    out = _compose(c, q, w)
    moved = max(_p98(((out[:, J[f"{s}_knee"]] - c.p[:, J[f"{s}_knee"]]) * _medial(c.p, s)).sum(-1)) for s in c.planted)
    moved = moved / c.scale * 100
    desc = f"knees cave {moved:.0f} % of the torso length toward the midline as the hips go down"
    params = {"legs": c.planted, **how}
    return _package(c, out, w, a, b, "knee_valgus", severity, moved, "% torso length", desc, params, xyz=new_xyz)


def weight_shift(pose: PoseSequence, rng: np.random.Generator, severity: float) -> tuple[PoseSequence, Fault]:
    """Balance: the body above the ankles drifts sideways over the feet and back, up to 10-25 % of the torso length.

    The pelvis moves over fixed feet (legs by IK) and carries the upper body; the drift rises and falls once over
    the window (a half sine), so it starts and ends at zero even when the window is the whole clip."""
    c = _start(pose, rng, severity)
    _need_trunk(c)
    if not (c.present("left_ankle") or c.present("right_ankle")):
        raise NotApplicable("no feet: no base of support")
    a, b, w = _window(c, rng)
    size = (0.10 + 0.15 * severity) * c.scale
    sign = float(rng.choice([-1.0, 1.0]))
    t = c.pose.times_s
    progress = np.clip((t - t[a]) / max(t[b - 1] - t[a], 1e-9), 0.0, 1.0)
    disp = np.zeros_like(c.p[:, 0])
    disp[:, 0] = sign * size * w * np.sin(np.pi * progress)
    q = c.p.copy()
    _shift_hips(q, c, disp, keep_shoulders=False)
    out = _compose(c, q, w)
    moved = _p98((_com(out)[:, 0] - _com(c.p)[:, 0])[a:b]) / c.scale * 100
    desc = f"centre of mass drifts up to {moved:.0f} % of the torso length sideways over the feet"
    return _package(
        c, out, w, a, b, "weight_shift", severity, moved, "% torso length", desc, {"shift_torso": size / c.scale}
    )


Perturbation = Callable[[PoseSequence, np.random.Generator, float], tuple[PoseSequence, Fault]]
PERTURBATIONS: dict[str, Perturbation] = {
    "trunk_sway": trunk_sway,
    "trunk_lean": trunk_lean,
    "reduced_range": reduced_range,
    "side_lag": side_lag,
    "hips_drop": hips_drop,
    "jerky_tempo": jerky_tempo,
    "compensating_part": compensating_part,
    "knee_valgus": knee_valgus,
    "weight_shift": weight_shift,
}
KINDS: dict[str, str] = {
    "trunk_sway": "trunk control",
    "trunk_lean": "posture",
    "reduced_range": "range of motion",
    "side_lag": "symmetry",
    "hips_drop": "hip alignment",
    "jerky_tempo": "movement control",
    "compensating_part": "compensation",
    "knee_valgus": "knee alignment",
    "weight_shift": "balance",
}
"""Perturbation kind -> the canonical attribute it teaches."""


# ----------------------------------------------------------------------------------------------- feedback text
def feedback_text(fault: Fault) -> str:
    """One actionable sentence from the fault's kind and measured magnitude.

    >>> feedback_text(Fault("trunk_sway", "trunk control", 0.5, (0, 1), "", 14.2, "degrees"))
    'Your trunk swings about 14 degrees: brace your core and keep your torso still.'
    """
    m, p = fault.magnitude, fault.params
    if fault.kind == "trunk_sway":
        return f"Your trunk swings about {m:.0f} degrees: brace your core and keep your torso still."
    if fault.kind == "trunk_lean":
        return f"Your torso leans about {m:.0f} degrees off its line: keep your torso upright and your spine neutral."
    if fault.kind == "reduced_range":
        joint = p.get("joint", "working joint")
        return (
            f"Your {joint} moves through only about {p.get('range_after_deg', 0):.0f} of "
            f"{p.get('range_before_deg', 0):.0f} degrees ({m:.0f} % short): move through the full range of motion."
        )
    if fault.kind == "side_lag":
        side, other = p.get("side", "one"), {"left": "right", "right": "left"}.get(p.get("side", ""), "other")
        if p.get("mode") == "lag":
            return f"Your {side} arm lags about {m:.1f} s behind your {other} arm: move both sides together."
        return f"Your {side} arm moves about {m:.0f} % less than your {other} arm: move both sides evenly."
    if fault.kind == "hips_drop":
        mode = p.get("mode")
        if mode == "sag":
            return (
                f"Your hips sag about {m:.0f} % of your torso length: squeeze your glutes and brace your abs to "
                "keep one straight line from shoulders to ankles."
            )
        if mode == "pike":
            return (
                f"Your hips pike up about {m:.0f} % of your torso length: lower them until your shoulders, hips and "
                "ankles form a straight line."
            )
        return f"Your hips shift about {m:.0f} % of your torso length out of line: keep them under your shoulders."
    if fault.kind == "jerky_tempo":
        return (
            f"Your speed changes by up to {m:.0f} % and the movement shakes: move slowly and smoothly at an even "
            "tempo, in control the whole way."
        )
    if fault.kind == "compensating_part":
        if p.get("part") == "hips":
            return (
                f"Your hips shift about {m:.0f} % of your torso length as you move: keep your hips still and let the "
                "working limbs do the work."
            )
        return f"Your arms swing about {m:.0f} degrees as you move: keep them still and let your legs do the work."
    if fault.kind == "knee_valgus":
        return f"Your knees cave inward about {m:.0f} degrees as you load them: push your knees out over your toes."
    if fault.kind == "weight_shift":
        return (
            f"Your weight drifts sideways about {m:.0f} % of your torso length: keep your weight centred over "
            "your feet."
        )
    return f"Work on your {fault.attribute}."


# ------------------------------------------------------------------------------------------------- the checks
_BONE_IDS = {**J, "shoulder_centre": len(J), "hip_centre": len(J) + 1}


def _with_centres(x: np.ndarray) -> np.ndarray:
    """(T, 17, D) -> (T, 19, D) with the shoulder and hip centres appended."""
    sh = (x[:, J["left_shoulder"]] + x[:, J["right_shoulder"]]) / 2
    hip = (x[:, J["left_hip"]] + x[:, J["right_hip"]]) / 2
    return np.concatenate([x, sh[:, None], hip[:, None]], axis=1)


def check_plausible(original: PoseSequence, perturbed: PoseSequence) -> dict[str, Any]:
    """Bone-length change and smoothness of a perturbed pose against its original.

    ``bone_change_max``: over the ``BONES`` and frames, max |L'(t) - L(t)| / median_t L(t), in 2-D, and
    ``bone_change_max_3d`` on ``meta["xyz"]`` when both poses have it. A re-timed pose
    (``meta["synthetic_source_time_s"]``, from ``jerky_tempo``) is compared with the original at the moment each
    frame shows. ``jump_ratio``: the fastest frame-to-frame move of a detected joint (torso lengths), over the
    original's. ``plausible``: bone change <= ``MAX_BONE_CHANGE`` (the 3-D one when known: a limb turning out of the
    image plane changes its 2-D length) and jump ratio <= ``MAX_JUMP_RATIO``::

        {"bone_change_max": 0.0, "worst_bone": "left_elbow-left_wrist", "jump_max": 0.061,
         "jump_max_original": 0.058, "jump_ratio": 1.05, "changed_frames": 48, "plausible": True}
    """
    scale, _ = body_scale(original.xy.astype(np.float64))
    source = perturbed.meta.get("synthetic_source_time_s")
    out: dict[str, Any] = {}
    for key, x0, x1 in (
        ("", original.xy, perturbed.xy),
        ("_3d", original.meta.get("xyz"), perturbed.meta.get("xyz")),
    ):
        if x0 is None or x1 is None:
            continue
        x0 = (
            np.asarray(x0, np.float64)
            if source is None
            else _retime(np.asarray(x0, np.float64), original.times_s, source)
        )
        x0, x1 = _with_centres(x0), _with_centres(np.asarray(x1, np.float64))
        a, b = np.array([_BONE_IDS[p] for p, _ in BONES]), np.array([_BONE_IDS[q] for _, q in BONES])
        l0 = np.linalg.norm(x0[:, a] - x0[:, b], axis=-1)
        l1 = np.linalg.norm(x1[:, a] - x1[:, b], axis=-1)
        seen = np.isfinite(l0) & np.isfinite(l1)
        median = np.array([np.median(l0[seen[:, k], k]) if seen[:, k].any() else np.nan for k in range(len(a))])
        floor = 0.1 * median[BONES.index(("shoulder_centre", "hip_centre"))]  # bones seen end-on: vs 0.1 torso
        rel = np.where(seen, np.abs(l1 - l0), 0.0) / np.nan_to_num(np.fmax(median, floor), nan=1.0)
        worst = rel.max(0) if len(rel) else np.zeros(len(a))
        k = int(np.argmax(worst))
        out[f"bone_change_max{key}"] = round(float(worst[k]), 4)
        out[f"worst_bone{key}"] = f"{BONES[k][0]}-{BONES[k][1]}"
    min_conf = MIN_CONF_BY_LAYOUT.get(str(original.meta.get("layout", "")), DEFAULT_MIN_CONF)
    ok = (original.conf[1:] >= min_conf) & (original.conf[:-1] >= min_conf)

    def fastest(x: np.ndarray) -> float:
        step = np.linalg.norm(np.diff(x.astype(np.float64), axis=0), axis=-1)
        step = np.where(ok & np.isfinite(step), step, 0.0)
        return float(step.max()) / scale if step.size else 0.0

    j0, j1 = fastest(original.xy), fastest(perturbed.xy)
    changed = ~np.isclose(np.nan_to_num(original.xy), np.nan_to_num(perturbed.xy), rtol=0, atol=1e-9).all((1, 2))
    out.update(
        jump_max=round(j1, 5),
        jump_max_original=round(j0, 5),
        jump_ratio=round(j1 / j0, 4) if j0 > 0 else (1.0 if j1 == 0 else float("inf")),
        changed_frames=int(changed.sum()),
    )
    bones = out.get("bone_change_max_3d", out["bone_change_max"])
    out["plausible"] = bool(bones <= MAX_BONE_CHANGE and out["jump_ratio"] <= MAX_JUMP_RATIO)
    return out


# ------------------------------------------------------------------------------------------------- synthesize
def synthesize(
    samples: list[Sample], rng_seed: int, per_sample: int = 1, kinds: list[str] | None = None
) -> list[Sample]:
    """Faulty versions of the CORRECT samples (``proficiency == "good form"`` with a ``pose``), each with its fault.

    Pass TRAINING samples only: a held-out (zero-shot) exercise must never be perturbed into the training set.
    For each such sample, ``per_sample`` new samples ``<id>#synth-<kind>-<k>``: ``source``, ``sport``,
    ``participant`` and ``split`` unchanged, proficiency ``needs improvement``, ``meta["synthetic"]`` =
    ``Fault.to_dict()`` (plus ``meta["synthetic_from"]``), the perturbed ``pose``, and one ``Commentary``::

        Commentary(text="Your trunk swings about 14 degrees: brace your core and keep your torso still.",
                   time_s=2.2, attributes=["trunk control"], window=(0.33, 2.2))

    ``video``, ``views``, ``features`` and ``keypoints`` are cleared (they show the correct execution). The kind of
    each new sample is drawn from ``kinds`` (default: all) among those that fit the clip; clips no kind fits, or
    shorter than ``MIN_FRAMES``, give nothing. Deterministic for a seed, whatever the order of ``samples``.
    """
    kinds = list(PERTURBATIONS) if kinds is None else list(kinds)
    unknown = [k for k in kinds if k not in PERTURBATIONS]
    if unknown:
        raise ValueError(f"unknown perturbation kind(s) {unknown} (known: {', '.join(PERTURBATIONS)})")
    out: list[Sample] = []
    for sample in samples:
        if sample.proficiency != GOOD or sample.pose is None or len(sample.pose) < MIN_FRAMES:
            continue
        rng = np.random.default_rng([int(rng_seed) & 0xFFFFFFFF, zlib.crc32(sample.id.encode("utf-8"))])
        for k in range(per_sample):
            severity = float(rng.uniform(0.25, 1.0))
            for kind in rng.permutation(kinds):
                try:
                    pose, fault = PERTURBATIONS[str(kind)](sample.pose, rng, severity)
                except NotApplicable:
                    continue
                out.append(_synthetic_sample(sample, pose, fault, k))
                break
    return out


def _synthetic_sample(sample: Sample, pose: PoseSequence, fault: Fault, k: int) -> Sample:
    comment = Commentary(text=fault.feedback, time_s=fault.window[1], attributes=[fault.attribute], window=fault.window)
    return sample.model_copy(
        update={
            "id": f"{sample.id}#synth-{fault.kind}-{k}",
            "proficiency": FAULTY,
            "commentary": [comment],
            "video": None,
            "views": {},
            "features": None,
            "keypoints": None,
            "meta": {**sample.meta, "synthetic": fault.to_dict(), "synthetic_from": sample.id},
            "pose": pose,
        }
    )


__all__ = [
    "ATTRIBUTES",
    "BONES",
    "KINDS",
    "MAX_BONE_CHANGE",
    "MAX_JUMP_RATIO",
    "MIN_FRAMES",
    "PERTURBATIONS",
    "Fault",
    "NotApplicable",
    "check_plausible",
    "compensating_part",
    "feedback_text",
    "hips_drop",
    "jerky_tempo",
    "knee_valgus",
    "reduced_range",
    "side_lag",
    "synthesize",
    "trunk_lean",
    "trunk_sway",
    "weight_shift",
]
