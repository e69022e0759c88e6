"""Repetitions of a movement from pose keypoints: which joints move, how many reps, and each rep's timing and range.

The rule, in short (docs/attributes.md, "Movement attributes"):

1. **Primary signals** (``primary_joints``): every joint angle (elbow, shoulder, hip, knee; degrees) and every
   torso-normalised joint position relative to the hips (wrists, elbows, knees, ankles; hips relative to the ankles)
   seen on at least 60 % of the frames is a candidate. Its *motion energy* is the standard deviation of the smoothed
   signal, angles in radians and positions in torso lengths (one torso length counts as one radian: a limb about a
   torso long turning one radian moves its end about one torso length). The primary signals are those with at least
   half the largest energy, at most four, largest first.
2. **Static**: when the most moving candidate's p5-p95 range is under 0.35 (20 degrees, or a third of a torso
   length) the body barely moves: no repetitions, ``kind="static"``.
3. **One signal**: primaries that correlate with the top one (abs(r) >= 0.7) are scaled to their own p5-p95 range,
   sign-aligned and averaged. The *rest* side is where the clip starts and ends; if start and end disagree, the
   anatomical neutral of the top angle (elbow, hip, knee straight; shoulder with the arm down), else the side the
   signal dwells on. ``u`` runs from 0 (rest) to 1 (turning point), by the p2 and p98 of the signal.
4. **Hysteresis**: a repetition is an excursion where ``u`` rises above 0.55 and comes back below 0.3, i.e. a
   prominence of at least 25 % of the clip's own range (a rep of 60 % of the deepest one still counts); its turning
   point is the extreme inside. Excursions cut by the clip's start or end count only if at least 0.25 of ``u`` is
   visible on the cut side. Reps shorter than ``min_rep_s`` (0.5 s) are dropped. A rep starts where ``u`` leaves the
   rest valley before it (last frame within 0.1 of the valley's level) and ends where it reaches the valley after it;
   the pause is the time spent in that valley, the range is the primary signal's excursion from the deeper valley.
5. **Kind**: 0 reps while moving -> one ``single`` rep when the signal crosses at least half its range once and
   stays (a transition such as sit-to-stand, at least ``min_rep_s`` long), else ``irregular``; 1 rep -> ``single``;
   2 or more -> ``periodic`` when the reps are regular, else ``irregular``. ``confidence`` (0..1) is, for 2+ reps,
   the least of: spread of turn-to-turn gaps and rep durations (coefficient of variation, 0.5 -> 0), spread of the
   turning and rest levels, mean shape correlation between reps, and how quiet ``u`` stays outside the reps;
   ``periodic`` needs 0.5. For one rep: same rest level on both sides and quiet outside.

>>> report = find_repetitions(pose)                        # doctest: +SKIP
>>> report.to_dict()                                       # doctest: +SKIP
{"kind": "periodic", "count": 3, "primary": ["left_elbow_angle"], "confidence": 0.82, "reason": None,
 "repetitions": [{"index": 1, "start_s": 0.4, "end_s": 2.1, "turn_s": 1.2, "range_deg": 112.0, "range_torso": None,
                  "tempo_s": 1.7, "pause_s": 0.2}, ...]}
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crosstrainer.keypoints.skeleton import PoseSequence
from crosstrainer.movement._signals import BodySignals, body_signals, robust_range

MAX_PRIMARY = 4
PRIMARY_SHARE = 0.5
STATIC_RANGE = 0.35
LOW, HIGH = 0.3, 0.55
VALLEY_TOL = 0.1
MIN_REP_S = 0.5
MIN_CONFIDENCE = 0.5
TRANSITION = 0.5
NO_MOTION = "no repetitions found: the body barely moves"

# anatomical neutral (standing, arms down): the rest side of an angle signal
_NEUTRAL_HIGH = ("elbow", "knee", "hip")  # rest = straight = large angle
_NEUTRAL_LOW = ("shoulder",)  # rest = arm down = small angle


@dataclass
class Repetition:
    """One repetition: times in seconds from the clip's first frame time, ranges of the primary signal."""

    index: int
    start_s: float
    end_s: float
    turn_s: float
    range_deg: float | None
    range_torso: float | None
    pause_s: float | None = None
    start: int = 0
    end: int = 0
    turn: int = 0

    @property
    def tempo_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def out_s(self) -> float:
        """Duration of the phase away from rest (rest -> turning point)."""
        return self.turn_s - self.start_s

    @property
    def return_s(self) -> float:
        """Duration of the phase back to rest (turning point -> rest)."""
        return self.end_s - self.turn_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start_s": _r(self.start_s, 2),
            "end_s": _r(self.end_s, 2),
            "turn_s": _r(self.turn_s, 2),
            "range_deg": _r(self.range_deg, 1),
            "range_torso": _r(self.range_torso, 3),
            "tempo_s": _r(self.tempo_s, 2),
            "pause_s": _r(self.pause_s, 2),
        }


@dataclass
class RepetitionReport:
    """What ``find_repetitions`` found. ``kind``: periodic | single | irregular | static."""

    kind: str
    primary: list[str]
    repetitions: list[Repetition] = field(default_factory=list)
    reason: str | None = None
    confidence: float = 0.0

    @property
    def count(self) -> int:
        return len(self.repetitions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count": self.count,
            "primary": list(self.primary),
            "confidence": _r(self.confidence, 2),
            "repetitions": [r.to_dict() for r in self.repetitions],
            "reason": self.reason,
        }


def _r(x: float | None, nd: int) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def describe_reps(indices: list[int]) -> str:
    """Rep indices (1-based) as words for feedback text.

    >>> describe_reps([2]), describe_reps([2, 3, 4]), describe_reps([1, 3]), describe_reps([1, 2, 4])
    ('rep 2', 'reps 2-4', 'reps 1, 3', 'reps 1-2, 4')
    """
    idx = sorted(set(int(i) for i in indices))
    if not idx:
        return ""
    if len(idx) == 1:
        return f"rep {idx[0]}"
    runs: list[list[int]] = [[idx[0], idx[0]]]
    for i in idx[1:]:
        if i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    parts = [f"{a}-{b}" if b > a else f"{a}" for a, b in runs]
    return "reps " + ", ".join(parts)


# ------------------------------------------------------------------------------------------------ primary signals
def _energy(sig: BodySignals, name: str) -> float:
    x = sig.values[name]
    x = x[np.isfinite(x)]
    if x.size < 2:
        return 0.0
    sd = float(np.std(x))
    return np.radians(sd) if sig.unit(name) == "deg" else sd


def _in_common_units(sig: BodySignals, name: str, value: float) -> float:
    return float(np.radians(value)) if sig.unit(name) == "deg" else float(value)


def _primary(sig: BodySignals) -> tuple[list[str], dict[str, float]]:
    energy = {n: _energy(sig, n) for n in sig.candidates()}
    if not energy:
        return [], energy
    ranked = sorted(energy, key=lambda n: -energy[n])
    top = energy[ranked[0]]
    keep = [n for n in ranked if top > 0 and energy[n] >= PRIMARY_SHARE * top]
    return keep[:MAX_PRIMARY], energy


def primary_joints(pose: PoseSequence) -> list[str]:
    """Names of the signals that carry the movement, most moving first (rule: module docstring, step 1).

    Angles are ``<side>_<joint>_angle`` (degrees), positions ``<side>_<joint>_height`` / ``_forward`` (torso lengths,
    relative to the hips) or ``hip_height`` / ``hip_forward`` (relative to the ankles).

    >>> primary_joints(curl_pose)                          # doctest: +SKIP
    ['right_elbow_angle']
    """
    return _primary(body_signals(pose))[0]


# ------------------------------------------------------------------------------------------------ the rep finder
def _combined(sig: BodySignals, primary: list[str]) -> np.ndarray:
    """The primary signals, each scaled to its p5-p95 range, sign-aligned to the top one and averaged."""
    top = sig.values[primary[0]]
    parts = []
    for name in primary:
        x = sig.values[name]
        rng = robust_range(x)
        if not np.isfinite(rng) or rng <= 0:
            continue
        r = 1.0 if name == primary[0] else float(np.corrcoef(top, x)[0, 1])
        if not np.isfinite(r) or abs(r) < 0.7:
            continue
        parts.append(np.sign(r) * (x - np.median(x)) / rng)
    return np.mean(parts, axis=0)


def _rest_is_high(c: np.ndarray, top_name: str) -> bool:
    """True when the rest position is the high side of ``c`` (``c`` is oriented like the top primary signal)."""
    n = len(c)
    k = max(1, n // 10)
    lo, hi = np.percentile(c, 2), np.percentile(c, 98)
    span = max(hi - lo, 1e-9)
    u_start = (np.median(c[:k]) - lo) / span
    u_end = (np.median(c[-k:]) - lo) / span
    if (u_start - 0.5) * (u_end - 0.5) > 0:
        return bool(u_start > 0.5)
    joint = top_name.split("_")[1] if top_name.endswith("_angle") else ""
    if joint in _NEUTRAL_HIGH:
        return True
    if joint in _NEUTRAL_LOW:
        return False
    return bool(np.mean((c - lo) / span > 0.5) > 0.5)


def _hysteresis_runs(u: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs where the hysteresis state is "active" (entered above HIGH, left below LOW)."""
    n = len(u)
    mark = np.where(u > HIGH, 1, np.where(u < LOW, -1, 0))
    idx = np.where(mark != 0, np.arange(n), -1)
    last = np.maximum.accumulate(idx)
    state = np.where(last >= 0, mark[np.maximum(last, 0)], -1)
    active = np.concatenate([[False], state == 1, [False]])
    edges = np.flatnonzero(np.diff(active.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _turns(u: np.ndarray) -> list[int]:
    """Frame indices of the turning points of the complete (or sufficiently visible) excursions."""
    n = len(u)
    turns = []
    for a, b in _hysteresis_runs(u):
        t = a + int(np.argmax(u[a:b]))
        if a == 0 and u[t] - u[: t + 1].min() < HIGH - LOW:  # cut by the start: too little of the way out seen
            continue
        if b == n and u[t] - u[t:].min() < HIGH - LOW:  # cut by the end: too little of the way back seen
            continue
        if t == 0 or t == n - 1:
            continue
        turns.append(t)
    return turns


def _bounds(u: np.ndarray, turns: list[int]) -> tuple[list[tuple[int, int]], list[int]]:
    """(start, end) frame of each rep, and the rest valleys around the turns (len(turns) + 1 frame indices).

    A rep starts where ``u`` leaves the valley before its turn (last frame within ``VALLEY_TOL`` of the valley's
    level) and ends where it reaches the valley after it (first frame within ``VALLEY_TOL``).
    """
    n = len(u)
    cuts = [0, *turns, n - 1]
    valleys = [a + int(np.argmin(u[a : b + 1])) for a, b in itertools.pairwise(cuts)]
    out = []
    for i, t in enumerate(turns):
        v0, v1 = valleys[i], valleys[i + 1]
        near = np.flatnonzero(u[v0 : t + 1] <= u[v0] + VALLEY_TOL)
        start = v0 + int(near[-1]) if near.size else v0
        near = np.flatnonzero(u[t : v1 + 1] <= u[v1] + VALLEY_TOL)
        end = t + int(near[0]) if near.size else v1
        out.append((start, max(end, t)))
    return out, valleys


def _confidence(u: np.ndarray, turns: list[int], bounds: list[tuple[int, int]], valleys: list[int]) -> float:
    """How regular (periodic) the reps are, 0..1: the least of duration, level, shape and quiet-outside terms.

    Reps and valleys that touch the clip's first or last frame are cut by the recording, not by the person: they are
    left out of the duration, rest-level and shape terms (turn-to-turn gaps and turning levels use every rep).
    """
    if len(turns) < 2:
        return 0.0
    n = len(u)
    whole = [(s, e) for s, e in bounds if s > 0 and e < n - 1]
    cvs = [float(np.std(x) / max(np.mean(x), 1e-9)) for x in (np.diff(turns), [e - s for s, e in whole]) if len(x)]
    r_dur = 1.0 - max(cvs) / 0.5
    inner = [v for v in valleys if 0 < v < n - 1]
    r_level = 1.0 - (float(np.std(u[turns])) + (float(np.std(u[inner])) if len(inner) >= 2 else 0.0)) / 0.4
    shapes = []
    for s, e in whole or bounds:
        x = np.interp(np.linspace(s, e, 32), np.arange(n), u)
        shapes.append(x - x.mean())
    if len(shapes) >= 2:
        m = np.array(shapes)
        m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)
        r_shape = float((m @ m.T)[np.triu_indices(len(m), 1)].mean())
    else:
        r_shape = 1.0 - 0.5 * float(np.std(u[turns]))  # one whole rep: nothing to compare the shape with
    outside = np.concatenate([u[: bounds[0][0]], u[bounds[-1][1] + 1 :]])
    r_quiet = 1.0 - (float(outside.max() - u[valleys].min()) / 0.6 if outside.size else 0.0)
    return float(np.clip(min(r_dur, r_level, r_shape, r_quiet), 0.0, 1.0))


def _rep_range(sig: BodySignals, names: list[str], v0: int, t: int, v1: int) -> float | None:
    """Excursion of the first of ``names``: abs(value at the turn - value at the farther of the two rest valleys)."""
    if not names:
        return None
    x = sig.values[names[0]]
    return float(max(abs(x[t] - x[v0]), abs(x[t] - x[v1])))


def _single_confidence(u: np.ndarray, start: int, end: int, v0: int, v1: int) -> float:
    """How clean one rep is, 0..1: both rest valleys at the same level and the clip quiet outside the rep."""
    outside = np.concatenate([u[:start], u[end + 1 :]])
    spill = float(outside.max() - min(u[v0], u[v1])) if outside.size else 0.0
    return float(np.clip(min(1.0 - abs(u[v0] - u[v1]) / 0.5, 1.0 - spill / 0.6), 0.0, 1.0))


def find_repetitions(pose: PoseSequence, min_rep_s: float = MIN_REP_S) -> RepetitionReport:
    """Count and time the repetitions of ``pose`` (rule: module docstring).

    >>> find_repetitions(plank_pose).to_dict()             # doctest: +SKIP
    {'kind': 'static', 'count': 0, 'primary': [...], 'confidence': 0.0, 'repetitions': [],
     'reason': 'no repetitions found: the body barely moves'}
    """
    return analyse(pose, min_rep_s)[0]


def analyse(pose: PoseSequence, min_rep_s: float = MIN_REP_S) -> tuple[RepetitionReport, BodySignals, np.ndarray]:
    """``find_repetitions`` plus the body signals and the normalised primary signal ``u`` (0 rest, 1 turn)."""
    sig = body_signals(pose)
    n = len(pose)
    primary, energy = _primary(sig)
    u = np.zeros(n)
    if n < 5 or not primary:
        why = "too few frames" if n < 5 else "no joint is seen on enough frames"
        return RepetitionReport("static", primary, reason=f"no repetitions found: {why}"), sig, u
    moved = max(_in_common_units(sig, k, robust_range(sig.values[k])) for k in energy)
    if not moved >= STATIC_RANGE:
        return RepetitionReport("static", primary, reason=NO_MOTION), sig, u
    c = _combined(sig, primary)
    if _rest_is_high(c, primary[0]):
        c = -c  # u = 0 at rest, 1 at the turning point
    lo, hi = np.percentile(c, 2), np.percentile(c, 98)
    u = np.clip((c - lo) / max(hi - lo, 1e-9), -0.2, 1.2)
    t = sig.times_s
    turns = _turns(u)
    bounds, _ = _bounds(u, turns)
    turns = [tr for tr, (s, e) in zip(turns, bounds) if t[e] - t[s] >= min_rep_s]
    bounds, valleys = _bounds(u, turns)
    angles = [p for p in primary if sig.unit(p) == "deg"]
    positions = [p for p in primary if sig.unit(p) != "deg"]
    reps = []
    for i, (tr, (s, e)) in enumerate(zip(turns, bounds)):
        pause = float(t[bounds[i + 1][0]] - t[e]) if i + 1 < len(bounds) else None
        reps.append(
            Repetition(
                index=i + 1,
                start_s=float(t[s]),
                end_s=float(t[e]),
                turn_s=float(t[tr]),
                range_deg=_rep_range(sig, angles, valleys[i], tr, valleys[i + 1]),
                range_torso=_rep_range(sig, positions, valleys[i], tr, valleys[i + 1]),
                pause_s=max(pause, 0.0) if pause is not None else None,
                start=s,
                end=e,
                turn=tr,
            )
        )
    if len(reps) >= 2:
        conf = _confidence(u, turns, bounds, valleys)
        if conf >= MIN_CONFIDENCE:
            return RepetitionReport("periodic", primary, reps, None, conf), sig, u
        why = f"the movement is irregular: {len(reps)} excursions found, repetition count uncertain"
        return RepetitionReport("irregular", primary, reps, why, conf), sig, u
    if len(reps) == 1:
        conf = _single_confidence(u, bounds[0][0], bounds[0][1], valleys[0], valleys[1])
        return RepetitionReport("single", primary, reps, None, conf), sig, u
    return _transition(sig, primary, u, angles, positions, min_rep_s), sig, u


def _transition(
    sig: BodySignals, primary: list[str], u: np.ndarray, angles: list[str], positions: list[str], min_rep_s: float
) -> RepetitionReport:
    """No out-and-back excursion: one ``single`` movement if the signal crosses from one side to the other once."""
    n = len(u)
    k = max(1, n // 10)
    a, b = float(np.median(u[:k])), float(np.median(u[-k:]))
    if abs(b - a) < TRANSITION:
        why = "no repetitions found: the body moves but does not go out and back"
        return RepetitionReport("irregular", primary, [], why, 0.0)
    t = sig.times_s
    sign = 1.0 if b > a else -1.0  # +1: u rises from the start level to the end level
    v = sign * u
    e = int(np.argmax(v >= sign * b - VALLEY_TOL))
    before = np.flatnonzero(v[: e + 1] <= sign * a + VALLEY_TOL)
    s = int(before[-1]) if before.size else 0
    e = min(max(e, s + 1), n - 1)
    if t[e] - t[s] < min_rep_s:
        why = "no repetitions found: the body jumps from one position to another (too fast for a movement)"
        return RepetitionReport("irregular", primary, [], why, 0.0)
    rep = Repetition(
        index=1,
        start_s=float(t[s]),
        end_s=float(t[e]),
        turn_s=float(t[e]),
        range_deg=_rep_range(sig, angles, s, e, s),
        range_torso=_rep_range(sig, positions, s, e, s),
        start=s,
        end=e,
        turn=e,
    )
    why = "one movement from one position to another, without a return"
    return RepetitionReport("single", primary, [rep], why, float(np.clip(abs(b - a), 0.0, 1.0)))
