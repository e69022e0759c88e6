"""The backbone of skill-attributes: kinematic measures that mean the same on every exercise.

Each attribute has a one-sentence definition, a measured signature (a number with a unit, computed the same way
whatever the exercise), the body part it concerns, and a feedback template that carries the number. ``measure``
computes them from a pose (and its repetitions), ``grounded_sentence`` turns one into actionable feedback and
``praise_sentence`` names what was done well.

Severity (0 = good practice, 1 = far from it) is a linear ramp between two reference values per attribute
(``SPECS[name].good`` and ``.bad``). **The reference values are heuristics**: rounded from coaching rules of thumb
and from the spread seen on the exercise_correction clips (MediaPipe, 2-D), not from a clinical norm; they are meant
to rank and to phrase feedback, not to diagnose.

>>> reps = find_repetitions(pose)                                  # doctest: +SKIP
>>> ms = measure(pose, reps)                                       # doctest: +SKIP
>>> ms["trunk control"].to_dict()                                  # doctest: +SKIP
{'name': 'trunk control', 'value': 15.2, 'unit': 'deg', 'body_part': 'trunk', 'severity': 0.68,
 'per_rep': [6.1, 15.9, 16.4, 15.0], 'worst_reps': [2, 3, 4],
 'detail': 'trunk swings about 15 degrees, in time with the reps'}
>>> grounded_sentence(ms["trunk control"], reps)                   # doctest: +SKIP
'Your trunk swings about 15 degrees during reps 2-4: brace your core and keep your torso still.'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.signal import savgol_filter

from crosstrainer.attributes.vocabulary import Attribute
from crosstrainer.keypoints.skeleton import J, PoseSequence
from crosstrainer.movement._signals import (
    ANGLE_JOINTS,
    MIN_AVAILABLE,
    SIDES,
    BodySignals,
    fill_nan,
    odd_window,
    robust_range,
    smooth_signal,
)
from crosstrainer.movement.repetitions import RepetitionReport, analyse, describe_reps


# ------------------------------------------------------------------------------------------------ the backbone
@dataclass(frozen=True)
class AttributeSpec:
    """One backbone attribute: what it means, how it is measured, and how feedback about it is phrased."""

    name: str
    definition: str
    signature: str
    unit: str
    body_part: str
    good: float
    bad: float
    synonyms: tuple[str, ...] = ()
    feedback: str = ""
    praise: str = ""


SPECS: dict[str, AttributeSpec] = {
    s.name: s
    for s in (
        AttributeSpec(
            "posture",
            "How the trunk and spine are held: upright and neutral, not leaning or arching.",
            "trunk lean from vertical: 90th percentile of the absolute angle between the shoulder-mid to hip-mid line "
            "and the vertical, in degrees (sign: forward or back); upright bodies only",
            "deg",
            "trunk",
            8.0,
            30.0,
            ("back straight", "torso upright", "body position", "leaning back", "leaning forward"),
            "Keep your torso upright and your spine neutral.",
            "upright trunk (within {d} of vertical)",
        ),
        AttributeSpec(
            "trunk control",
            "Keeping the torso still instead of swinging it to create momentum.",
            "trunk sway: p5-p95 range of the trunk lean angle within each repetition (median over reps; over the "
            "whole clip without reps), in degrees, with its correlation to the primary motion",
            "deg",
            "trunk",
            5.0,
            20.0,
            ("core control", "no swinging", "momentum", "torso swing"),
            "Brace your core and keep your torso still; let the working muscles move the load.",
            "steady trunk (under {d} of sway)",
        ),
        AttributeSpec(
            "compensation",
            "Only the joints the exercise works should move; other body parts joining in take load off them.",
            "largest p5-p95 range of a non-primary joint angle (or the trunk lean) as a percentage of the primary "
            "signal's range; the mirror joints of the primary ones, and the trunk when the hips are primary, excluded",
            "% of primary range",
            "non-working joints",
            15.0,
            50.0,
            ("cheating", "helping with other joints", "elbow drift", "body english"),
            "Keep the rest of your body still and let the working joint do the movement.",
            "only the working joints moving",
        ),
        AttributeSpec(
            "range of motion",
            "Moving through the full extent the exercise requires, the same on every repetition.",
            "excursion of the primary signal per repetition (turning point vs rest), in degrees (or % of torso length "
            "for a position); severity from the shortfall of the smallest rep against the largest",
            "deg",
            "working joints",
            10.0,
            40.0,
            ("full range", "depth", "partial reps", "full extension"),
            "Move through the same full range on every rep.",
            "consistent range of motion ({d}) across {n} reps",
        ),
        AttributeSpec(
            "movement control",
            "Moving smoothly at a steady, deliberate speed, without jerks and without rushing the return.",
            "dimensionless jerk of the primary signal per rep (integral of squared jerk x duration^5 / range^2), as a "
            "multiple of a smooth cosine-shaped rep; and the way-out vs way-back duration ratio",
            "x smooth",
            "working joints",
            2.0,
            8.0,
            ("smoothness", "tempo", "control", "jerky", "rushing", "dropping the weight"),
            "Move at a steady, controlled speed and control the way back.",
            "smooth, controlled reps",
        ),
        AttributeSpec(
            "symmetry",
            "The left and right sides move and hold the same way.",
            "largest median absolute left-right difference of matching joint angles (elbow, shoulder, hip, knee) "
            "seen on both sides, in degrees; pairs where only one side is primary (one-sided exercises) excluded",
            "deg",
            "left and right sides",
            10.0,
            30.0,
            ("left-right balance", "even sides", "asymmetry", "uneven"),
            "Move both sides the same way and at the same time.",
            "even left and right sides (within {d})",
        ),
        AttributeSpec(
            "balance",
            "Keeping the centre of mass over the base of support without drifting or wobbling.",
            "horizontal offset of the segment-mass centre of mass from the middle of the base of support (feet; "
            "feet and hands when horizontal), median of its absolute value in torso lengths, and its sway (std)",
            "torso lengths",
            "whole body",
            0.15,
            0.45,
            ("stability on landing", "off balance", "wobble", "weight shift", "centre of mass"),
            "Keep your weight centred over your feet.",
            "weight centred over your base",
        ),
        AttributeSpec(
            "hip alignment",
            "Hips in line with the shoulders and ankles (or knees): neither piked up nor sagging.",
            "deviation of the shoulder-hip-ankle angle from a straight 180 degrees, signed by the side of the "
            "shoulder-ankle line the hips are on (+ piked up or pushed forward, - sagging or bent back), median, deg",
            "deg",
            "hips",
            8.0,
            25.0,
            ("hip position", "hips high", "hips low", "hips sagging", "piking"),
            "Keep your hips in one straight line with your shoulders and ankles.",
            "hips in line with your shoulders and ankles (within {d})",
        ),
        AttributeSpec(
            "knee alignment",
            "The knee tracks over the ankle and foot, not past the toes or caving in.",
            "side view: how far the knee passes the toes (90th percentile, % of torso length); front view: how much "
            "narrower the knees are than the ankles (knee valgus proxy, 90th percentile, % of torso length)",
            "% torso length",
            "knees",
            5.0,
            25.0,
            ("knee position", "knee over toe", "knee tracking", "knees caving in", "valgus"),
            "Keep your front knee above your ankle, not past your toes.",
            "knees tracking over your feet",
        ),
        AttributeSpec(
            "core stability",
            "Holding the midsection braced so the body does not sag or rotate under load.",
            "movement of the hips across the shoulder-ankle line during a hold or a horizontal exercise: p5-p95 "
            "range of the hips' offset from that line, in % of torso length",
            "% torso length",
            "midsection",
            3.0,
            12.0,
            ("core engagement", "bracing", "abdominal tension", "holding still"),
            "Squeeze your glutes and brace your abs to hold the position.",
            "still, braced midsection",
        ),
    )
}
BACKBONE_NAMES: tuple[str, ...] = tuple(SPECS)

BACKBONE: list[Attribute] = [
    Attribute(
        name=s.name,
        definition=s.definition,
        synonyms=list(s.synonyms),
        feedback=[s.feedback],
        signature=s.signature,
        unit=s.unit,
        body_part=s.body_part,
    )
    for s in SPECS.values()
]
"""The backbone as vocabulary attributes (``signature``, ``unit`` and ``body_part`` ride along as extra fields)."""


# ------------------------------------------------------------------------------------------------ measurements
@dataclass
class Measurement:
    """One measured attribute of one clip (``per_rep`` in rep order; ``worst_reps`` are 1-based rep indices)."""

    name: str
    value: float
    unit: str
    body_part: str
    severity: float
    per_rep: list[float] | None = None
    worst_reps: list[int] = field(default_factory=list)
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": _round(self.value),
            "unit": self.unit,
            "body_part": self.body_part,
            "severity": round(float(self.severity), 2),
            "per_rep": None if self.per_rep is None else [_round(v) for v in self.per_rep],
            "worst_reps": list(self.worst_reps),
            "detail": self.detail,
        }


def _round(v: float) -> float | None:
    if v is None or not np.isfinite(v):
        return None
    return round(float(v), 3 if abs(v) < 1 else 1)


def ramp(x: float, good: float, bad: float) -> float:
    """0 at ``good``, 1 at ``bad``, linear between, clipped.

    >>> ramp(5.0, 5.0, 20.0), ramp(12.5, 5.0, 20.0), ramp(40.0, 5.0, 20.0)
    (0.0, 0.5, 1.0)
    """
    if not np.isfinite(x):
        return 0.0
    return float(np.clip((x - good) / (bad - good), 0.0, 1.0))


@dataclass
class _Ctx:
    """What every measure needs: signals, reps, the frames to look at, and the body's orientation."""

    sig: BodySignals
    reps: RepetitionReport
    u: np.ndarray
    window: np.ndarray
    horizontal: bool
    front_view: bool

    def series(self, frame_col: str) -> np.ndarray | None:
        """A smoothed encoder column, or None when it is seen on too few frames."""
        x = self.sig.frame(frame_col)
        ok = np.isfinite(x)
        if ok.mean() < MIN_AVAILABLE:
            return None
        return smooth_signal(fill_nan(x), self.sig.fps)

    def rep_slices(self) -> list[slice]:
        return [slice(r.start, r.end + 1) for r in self.reps.repetitions]


def _worst(per_rep: list[float], sev: Callable[[float], float]) -> list[int]:
    """Reps whose own severity is at least 0.3 and within 80 % of the worst rep's."""
    s = np.array([sev(v) for v in per_rep])
    if not s.size or s.max() < 0.3:
        return []
    return [i + 1 for i in np.flatnonzero(s >= max(0.3, 0.8 * s.max())).tolist()]


def _make(
    ctx: _Ctx,
    name: str,
    value: float,
    per_rep: list[float] | None,
    detail: str,
    sev_value: float | None = None,
    **extra: Any,
) -> Measurement:
    spec = SPECS[name]

    def sev(v: float) -> float:
        return ramp(abs(v), spec.good, spec.bad)

    severity = sev(value if sev_value is None else sev_value)
    worst = _worst(per_rep, sev) if per_rep and len(per_rep) >= 2 else []
    return Measurement(name, float(value), spec.unit, spec.body_part, severity, per_rep, worst, detail, dict(extra))


def _p90_abs(x: np.ndarray) -> float:
    return float(np.percentile(np.abs(x), 90)) if x.size else float("nan")


# --- the ten measures: each returns a Measurement, or None where it does not apply or cannot be computed
def _posture(ctx: _Ctx) -> Measurement | None:
    lean = ctx.series("trunk_lean_fwd")
    if lean is None or ctx.horizontal:
        return None
    w = lean[ctx.window]
    value = _p90_abs(w)
    big = w[np.abs(w) >= 0.5 * value]
    direction = "forward" if (big.mean() if big.size else w.mean()) >= 0 else "back"
    per_rep = [_p90_abs(lean[s]) for s in ctx.rep_slices()] or None
    detail = f"trunk leans {direction} about {_deg(value)} from vertical"
    return _make(ctx, "posture", value, per_rep, detail, direction=direction)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or np.std(a) < 1e-9 or np.std(b) < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


MAX_PLAUSIBLE_SWAY_DEG = 90.0
"""Trunk sway beyond this within a repetition is a pose-tracking failure (e.g. front and back confused)."""


def _trunk_control(ctx: _Ctx) -> Measurement | None:
    lean = ctx.series("trunk_lean_fwd")
    if lean is None:
        return None
    lean = np.degrees(np.unwrap(np.radians(lean)))  # a horizontal trunk (plank, push-up) crosses +-180 degrees
    per_rep = [robust_range(lean[s]) for s in ctx.rep_slices()] or None
    value = float(np.median(per_rep)) if per_rep else robust_range(lean[ctx.window])
    if value > MAX_PLAUSIBLE_SWAY_DEG:  # a tracking failure, not a movement: say nothing rather than nonsense
        return None
    phase = _corr(lean[ctx.window], ctx.u[ctx.window]) if ctx.reps.count else 0.0
    detail = f"trunk swings about {_deg(value)}" + (", in time with the reps" if abs(phase) >= 0.5 else "")
    return _make(ctx, "trunk control", value, per_rep, detail, phase_corr=round(phase, 2))


def _angle_name(name: str) -> str:
    side, joint = name.split("_")[:2]
    return f"{side} {joint}"


def _compensation(ctx: _Ctx) -> Measurement | None:
    if not ctx.reps.count:
        return None
    sig = ctx.sig
    primary = ctx.reps.primary
    top = primary[0]
    to_common = np.radians if sig.unit(top) == "deg" else (lambda v: v)
    prim_range = float(to_common(robust_range(sig.values[top][ctx.window])))
    if not prim_range > 0:
        return None
    prim_joints = {n.split("_")[1] for n in primary}
    others: dict[str, np.ndarray] = {}
    for n in sig.candidates():
        if not n.endswith("_angle") or n in primary or n.split("_")[1] in prim_joints:
            continue
        others[_angle_name(n)] = sig.values[n]
    lean = ctx.series("trunk_lean_fwd")
    if lean is not None and "hip" not in prim_joints and not any(n.startswith("hip_") for n in primary):
        others["trunk"] = lean
    if not others:
        return None

    def ratios(sl: slice | np.ndarray) -> dict[str, float]:
        pr = float(to_common(robust_range(sig.values[top][sl])))
        return {k: 100.0 * np.radians(robust_range(v[sl])) / max(pr, 1e-9) for k, v in others.items()}

    whole = ratios(ctx.window)
    worst = max(whole, key=lambda k: whole[k])
    per_rep = [max(ratios(s).values()) for s in ctx.rep_slices()] or None
    moved = robust_range(others[worst][ctx.window])
    detail = f"{worst} moves about {_deg(moved)}, {whole[worst]:.0f}% of the {_angle_name(top)} range"
    m = _make(ctx, "compensation", whole[worst], per_rep, detail, part=worst, moved_deg=round(moved, 1))
    m.body_part = worst
    return m


def _range_of_motion(ctx: _Ctx) -> Measurement | None:
    reps = ctx.reps.repetitions
    if not reps:
        return None
    deg = reps[0].range_deg is not None
    per_rep = [float(r.range_deg if deg else 100.0 * (r.range_torso or 0.0)) for r in reps]
    value = float(np.median(per_rep))
    best = max(per_rep)
    shortfall = [100.0 * (1.0 - v / best) if best > 0 else 0.0 for v in per_rep]
    unit = "degrees" if deg else "% of a torso length"
    if len(per_rep) >= 2:
        detail = f"range {min(per_rep):.0f} to {best:.0f} {unit} per rep"
    else:
        detail = f"range {value:.0f} {unit}"
    m = _make(ctx, "range of motion", value, per_rep, detail, sev_value=max(shortfall), best=best)
    worst = _worst(shortfall, lambda v: ramp(v, SPECS["range of motion"].good, SPECS["range of motion"].bad))
    m.worst_reps = worst if len(per_rep) >= 2 else []
    m.unit = "deg" if deg else "% torso length"
    return m


def _dimensionless_jerk(x: np.ndarray, fps: float) -> float:
    """Integral of squared jerk x duration^5 / range^2 of one rep (NaN when too short)."""
    n = len(x)
    w = odd_window(0.25, fps, n, minimum=5)
    amp = float(x.max() - x.min())
    if w < 5 or amp <= 0:
        return float("nan")
    jerk = savgol_filter(x, w, 3, deriv=3, delta=1.0 / fps)
    dur = n / fps
    return float((jerk**2).sum() / fps * dur**5 / amp**2)


def _smooth_reference(n: int, fps: float) -> float:
    """Dimensionless jerk of an ideal rep over ``n`` frames: a cosine from rest to the turn and back."""
    t = np.arange(n) / max(n - 1, 1)
    return _dimensionless_jerk(0.5 - 0.5 * np.cos(2 * np.pi * t), fps)


def _movement_control(ctx: _Ctx) -> Measurement | None:
    reps = [r for r in ctx.reps.repetitions if r.start < r.turn < r.end]  # out-and-back reps only
    if not reps:
        return None
    x = ctx.u
    fps = ctx.sig.fps
    per_rep: list[float] = []
    for r in reps:
        seg = x[r.start : r.end + 1]
        ratio = _dimensionless_jerk(seg, fps) / _smooth_reference(len(seg), fps)
        per_rep.append(float(ratio) if np.isfinite(ratio) else float("nan"))
    ok = [v for v in per_rep if np.isfinite(v)]
    if not ok:
        return None
    value = float(np.median(ok))
    rush = [r.out_s / max(r.return_s, 1.0 / fps) for r in reps]
    worst_rush = max(rush)
    rush_sev = ramp(worst_rush, 2.0, 4.0)
    jerk_sev = ramp(value, SPECS["movement control"].good, SPECS["movement control"].bad)
    detail = f"jerk {value:.1f} times that of a smooth rep"
    r_worst = reps[int(np.argmax(rush))]
    if rush_sev > jerk_sev:
        detail = f"the way back takes {r_worst.return_s:.1f} s against {r_worst.out_s:.1f} s on the way out"
    m = _make(ctx, "movement control", value, per_rep, detail, rushed=rush_sev > jerk_sev)
    m.severity = max(jerk_sev, rush_sev)
    m.extra.update(out_s=round(r_worst.out_s, 2), return_s=round(r_worst.return_s, 2))
    if rush_sev > jerk_sev and len(reps) >= 2:
        m.worst_reps = [r.index for r, v in zip(reps, rush) if ramp(v, 2.0, 4.0) >= max(0.3, 0.8 * rush_sev)]
    return m


def _split_stance(ctx: _Ctx) -> bool:
    """One foot well ahead of the other (over a third of a torso length, median over the window)."""
    a, b = ctx.sig.values["left_ankle_forward"], ctx.sig.values["right_ankle_forward"]
    if min(ctx.sig.available["left_ankle_forward"], ctx.sig.available["right_ankle_forward"]) < MIN_AVAILABLE:
        return False
    return bool(np.median(np.abs(a - b)[ctx.window]) > 0.35)


def _symmetry(ctx: _Ctx) -> Measurement | None:
    sig = ctx.sig
    prim = set(ctx.reps.primary)
    pairs = {}
    for j in ANGLE_JOINTS:
        left, right = f"left_{j}_angle", f"right_{j}_angle"
        if min(sig.available[left], sig.available[right]) < MIN_AVAILABLE:
            continue
        if j in ("hip", "knee") and _split_stance(ctx):  # lunges, hurdle steps: the legs differ on purpose
            continue
        if (left in prim) != (right in prim):  # one-sided exercise: the other side is meant to differ
            continue
        pairs[j] = np.abs(sig.values[left] - sig.values[right])
    if not pairs:
        return None
    med = {j: float(np.median(d[ctx.window])) for j, d in pairs.items()}
    worst = max(med, key=lambda k: med[k])
    per_rep = [max(float(np.median(d[s])) for d in pairs.values()) for s in ctx.rep_slices()] or None
    detail = f"left and right {worst}s differ by about {_deg(med[worst])}"
    m = _make(ctx, "symmetry", med[worst], per_rep, detail, joint=worst)
    m.body_part = f"{worst}s"
    return m


def _balance(ctx: _Ctx) -> Measurement | None:
    off = ctx.series("com_bos_offset")
    if off is None:
        return None
    w = off[ctx.window]
    value = float(np.median(np.abs(w)))
    sway = float(np.std(w))
    where = "ahead of" if np.median(w) >= 0 else "behind"
    per_rep = [float(np.median(np.abs(off[s]))) for s in ctx.rep_slices()] or None
    sway_sev = ramp(sway, 0.03, 0.12)
    detail = f"centre of mass {value:.2f} torso lengths {where} the middle of the base, swaying {sway:.2f}"
    m = _make(ctx, "balance", value, per_rep, detail, sway=round(sway, 3), where=where)
    m.severity = max(m.severity, sway_sev)
    m.extra["sway_dominates"] = sway_sev > ramp(value, SPECS["balance"].good, SPECS["balance"].bad)
    return m


def _hip_alignment(ctx: _Ctx) -> Measurement | None:
    angle, offset = ctx.series("body_line_angle"), ctx.series("hip_line_offset")
    if angle is None or offset is None:
        return None
    hips_move = any(p.split("_")[1] in ("hip", "knee") or p.startswith("hip_") for p in ctx.reps.primary)
    if not ctx.horizontal and hips_move and ctx.reps.kind != "static":
        return None  # squats, lunges: the hips bend on purpose
    dev = (180.0 - angle) * np.sign(offset)
    value = float(np.median(dev[ctx.window]))
    per_rep = [float(np.median(dev[s])) for s in ctx.rep_slices()] or None
    if ctx.horizontal:
        how = "piked up" if value >= 0 else "sagging"
    else:
        how = "pushed forward" if value >= 0 else "bent back"
    detail = f"hips {how} about {_deg(value)} out of the shoulder-ankle line"
    return _make(ctx, "hip alignment", value, per_rep, detail, direction=how, horizontal=ctx.horizontal)


def _front_leg_knee_over_toe(ctx: _Ctx) -> np.ndarray | None:
    """Per frame: how far the front leg's knee is ahead of its toes (foot index, else ankle), torso lengths."""
    q = ctx.sig.points
    assert q is not None
    kot, ank = [], []
    for s in SIDES:
        toe = q[:, J[f"{s}_foot_index"], 0]
        toe = np.where(np.isfinite(toe), toe, q[:, J[f"{s}_ankle"], 0])
        kot.append(q[:, J[f"{s}_knee"], 0] - toe)
        ank.append(q[:, J[f"{s}_ankle"], 0])
    kot_a, ank_a = np.stack(kot), np.stack(ank)
    seen = np.isfinite(kot_a) & np.isfinite(ank_a)
    front = np.argmax(np.where(seen, ank_a, -np.inf), axis=0)
    x = np.where(seen.any(0), kot_a[front, np.arange(kot_a.shape[1])], np.nan)
    if np.isfinite(x).mean() < MIN_AVAILABLE:
        return None
    return smooth_signal(fill_nan(x), ctx.sig.fps)


def _knee_alignment(ctx: _Ctx) -> Measurement | None:
    if ctx.horizontal:
        return None
    if ctx.front_view:
        kw, fw = ctx.series("knee_width"), ctx.series("feet_width")
        if kw is None or fw is None:
            return None
        x = 100.0 * np.maximum(fw - kw, 0.0)
        how = "knees cave in"
    else:
        kot = _front_leg_knee_over_toe(ctx)
        if kot is None:
            return None
        x = 100.0 * np.maximum(kot, 0.0)
        how = "knee passes the toes"
    value = float(np.percentile(x[ctx.window], 90))
    per_rep = [float(np.percentile(x[s], 90)) for s in ctx.rep_slices()] or None
    detail = f"{how} by about {value:.0f}% of a torso length"
    return _make(ctx, "knee alignment", value, per_rep, detail, view="front" if ctx.front_view else "side")


def _core_stability(ctx: _Ctx) -> Measurement | None:
    if not (ctx.horizontal or ctx.reps.kind == "static"):
        return None
    offset = ctx.series("hip_line_offset")
    if offset is None:
        return None
    value = 100.0 * robust_range(offset[ctx.window])
    per_rep = [100.0 * robust_range(offset[s]) for s in ctx.rep_slices()] or None
    detail = f"midsection moves about {value:.0f}% of a torso length"
    return _make(ctx, "core stability", value, per_rep, detail)


_MEASURES: dict[str, Callable[[_Ctx], Measurement | None]] = {
    "posture": _posture,
    "trunk control": _trunk_control,
    "compensation": _compensation,
    "range of motion": _range_of_motion,
    "movement control": _movement_control,
    "symmetry": _symmetry,
    "balance": _balance,
    "hip alignment": _hip_alignment,
    "knee alignment": _knee_alignment,
    "core stability": _core_stability,
}


def measure(pose: PoseSequence, reps: RepetitionReport | None = None) -> dict[str, Measurement]:
    """The backbone attributes that apply to ``pose`` and can be computed from its joints, by canonical name.

    ``reps`` defaults to ``find_repetitions(pose)``; pass the report you show the user so that rep numbers agree.
    Not returned: attributes that do not apply (posture and knee alignment on horizontal bodies, hip alignment when
    the hips bend on purpose, core stability outside holds and horizontal exercises, rep-based ones without reps)
    or whose joints are missing.

    >>> {k: round(m.value, 1) for k, m in measure(pose).items()}    # doctest: +SKIP
    {'posture': 14.2, 'trunk control': 15.2, 'compensation': 22.0, 'range of motion': 112.0, ...}
    """
    report, sig, u = analyse(pose)
    if reps is None:
        reps = report
    n = len(pose)
    if n < 3:
        return {}
    window = np.zeros(n, bool)
    if reps.repetitions:
        window[reps.repetitions[0].start : reps.repetitions[-1].end + 1] = True
    else:
        window[:] = True
    horiz = sig.frame("horizontal")
    horizontal = bool(np.nanmean(horiz) >= 0.5) if np.isfinite(horiz).any() else False
    sw = sig.frame("shoulder_width")
    front_view = bool(np.nanmedian(sw) >= 0.5) if np.isfinite(sw).any() else False
    ctx = _Ctx(sig, reps, u, window, horizontal, front_view)
    out = {}
    for name, fn in _MEASURES.items():
        m = fn(ctx)
        if m is not None and np.isfinite(m.value):
            out[name] = m
    return out


# ------------------------------------------------------------------------------------------------ sentences
_ALLOWED = re.compile(r"[^A-Za-z0-9 .,:;'()%-]")


def _clean(text: str) -> str:
    """Plain sentence: only letters, digits, spaces and . , : ; - ' ( ) %; single spaces."""
    return " ".join(_ALLOWED.sub(" ", text).split())


def _during(m: Measurement, reps: RepetitionReport | None) -> str:
    if reps is not None and reps.count >= 2 and m.worst_reps and len(m.worst_reps) < reps.count:
        return f" during {describe_reps(m.worst_reps)}"
    if reps is not None and reps.kind == "static":
        return " during the hold"
    return ""


def _num(v: float) -> str:
    """A magnitude for text: whole numbers from 1.5 up, one decimal below."""
    v = abs(float(v))
    return f"{v:.0f}" if v >= 1.5 or v.is_integer() else f"{v:.1f}"


def _deg(v: float) -> str:
    """'1 degree', '15 degrees', '0.8 degrees'."""
    n = _num(v)
    return f"{n} degree" if n == "1" else f"{n} degrees"


def _units(m: Measurement, v: float) -> str:
    return _deg(v) if m.unit == "deg" else f"{_num(v)}% of a torso length"


_HIP_FIX = {
    "piked up": "lower your hips until your body forms a straight line from shoulders to ankles.",
    "sagging": "squeeze your glutes and lift your hips into a straight line from shoulders to ankles.",
    "pushed forward": "stand tall with your hips under your shoulders.",
    "bent back": "straighten your hips so they sit in line with your shoulders and ankles.",
}


def grounded_sentence(m: Measurement, reps: RepetitionReport | None = None) -> str:
    """One plain-English, actionable feedback sentence that carries the measured number.

    Rep numbers (``worst_reps``) are named when they are some but not all of two or more reps.

    >>> m = Measurement("trunk control", 15.2, "deg", "trunk", 0.68, [6.1, 15.9, 16.4, 15.0], [2, 3, 4])
    >>> grounded_sentence(m, None)
    'Your trunk swings about 15 degrees: brace your core and keep your torso still.'
    """
    d = _during(m, reps)
    x = m.extra
    name = m.name
    if name == "posture":
        s = f"Your trunk leans {x.get('direction', 'back')} about {_deg(m.value)}{d}: keep your torso upright."
    elif name == "trunk control":
        s = f"Your trunk swings about {_deg(m.value)}{d}: brace your core and keep your torso still."
    elif name == "compensation":
        moved = _deg(x.get("moved_deg", m.value))
        s = (
            f"Your {x.get('part', m.body_part)} moves about {moved} ({_num(m.value)}% of the main movement){d}: "
            "keep it still and let the working joint do the work."
        )
    elif name == "range of motion":
        if m.per_rep and len(m.per_rep) >= 2 and m.worst_reps:
            worst = min(m.per_rep[i - 1] for i in m.worst_reps)
            s = (
                f"Your range of motion drops to {_units(m, worst)}{d}, against {_units(m, max(m.per_rep))} at best: "
                "move through the same full range on every rep."
            )
        else:
            s = f"Your range of motion is about {_units(m, m.value)} per rep: keep moving through the full range."
    elif name == "movement control":
        if x.get("rushed"):
            s = (
                f"The way back takes {x.get('return_s', 0):.1f} s against {x.get('out_s', 0):.1f} s on the way "
                f"out{d}: slow down and control the return."
            )
        else:
            s = (
                f"Your movement is jerky ({m.value:.1f} times the jerk of a smooth rep){d}: "
                "move at a steady, controlled speed."
            )
    elif name == "symmetry":
        s = (
            f"Your left and right {x.get('joint', 'side')}s differ by about {_deg(m.value)}{d}: "
            "move both sides the same way."
        )
    elif name == "balance":
        if x.get("sway_dominates"):
            s = (
                f"Your centre of mass sways about {x.get('sway', 0):.2f} torso lengths{d}: "
                "settle and keep your weight over your feet."
            )
        else:
            s = (
                f"Your centre of mass sits {m.value:.2f} torso lengths {x.get('where', 'ahead of')} the middle of "
                f"your base{d}: keep your weight centred over your feet."
            )
    elif name == "hip alignment":
        how = x.get("direction", "sagging" if m.value < 0 else "piked up")
        s = f"Your hips are {how} about {_deg(m.value)} out of the line from shoulders to ankles{d}: {_HIP_FIX[how]}"
    elif name == "knee alignment":
        if x.get("view") == "front":
            s = (
                f"Your knees cave in by about {_num(m.value)}% of a torso length{d}: "
                "push your knees out over your toes."
            )
        else:
            s = (
                f"Your knee travels about {_num(m.value)}% of a torso length past your toes{d}: "
                "keep your knee above your ankle."
            )
    elif name == "core stability":
        s = (
            f"Your midsection moves about {_num(m.value)}% of a torso length{d or ' during the hold'}: "
            "brace your abs and squeeze your glutes to hold still."
        )
    else:
        s = f"Your {name} measures {_num(m.value)} {m.unit}{d}."
    return _clean(s)


PRAISE_MAX_SEVERITY = 0.2


def praise_sentence(measurements: dict[str, Measurement] | list[Measurement], max_items: int = 3) -> str:
    """Specific praise of the best-scoring attributes (severity <= 0.2), best first; '' when nothing qualifies.

    Range of motion is praised only across two or more reps (one rep has nothing to be consistent with).

    >>> ms = [Measurement("trunk control", 3.2, "deg", "trunk", 0.0),
    ...       Measurement("range of motion", 112.0, "deg", "elbows", 0.0, [110.0, 112.0, 114.0])]
    >>> praise_sentence(ms)
    'Steady trunk (under 4 degrees of sway) and consistent range of motion (112 degrees) across 3 reps.'
    """
    items = list(measurements.values()) if isinstance(measurements, dict) else list(measurements)
    order = {n: i for i, n in enumerate(BACKBONE_NAMES)}
    good = sorted(
        (m for m in items if m.severity <= PRAISE_MAX_SEVERITY and m.name in SPECS and np.isfinite(m.value)),
        key=lambda m: (m.severity, order[m.name]),
    )
    phrases = []
    for m in good:
        n = len(m.per_rep) if m.per_rep else 1
        if m.name == "range of motion" and n < 2:
            continue
        v = max(math.ceil(abs(m.value)), 1) if m.name != "range of motion" else abs(m.value)
        phrases.append(SPECS[m.name].praise.format(d=_units(m, v), n=n))
        if len(phrases) == max_items:
            break
    if not phrases:
        return ""
    text = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return _clean(text[0].upper() + text[1:] + ".")
