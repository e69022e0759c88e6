"""The backbone of measurable skill-attributes: vocabulary, synthetic motions with a known answer (labelled
SYNTHETIC), feedback sentences, and the direction of each measure on real labelled clips (skipped without
../shared/data)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from crosstrainer.attributes.vocabulary import Attribute, Vocabulary
from crosstrainer.data.exercise_labels import ATTRIBUTES as EXERCISE_ATTRIBUTES
from crosstrainer.keypoints.skeleton import J
from crosstrainer.movement import (
    BACKBONE,
    BACKBONE_NAMES,
    SPECS,
    Measurement,
    find_repetitions,
    grounded_sentence,
    measure,
    praise_sentence,
)
from test_repetitions import make_pose, standing, still, synthetic_curl

CANONICAL = [
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
]
PLAIN = re.compile(r"^[A-Za-z0-9 .,:;'()%-]+$")


# ------------------------------------------------------------------------------------------------ the backbone
def test_backbone_has_exactly_the_canonical_names() -> None:
    assert list(BACKBONE_NAMES) == CANONICAL
    assert [a.name for a in BACKBONE] == CANONICAL
    assert all(isinstance(a, Attribute) for a in BACKBONE)
    Vocabulary(attributes=BACKBONE)  # unique names, valid vocabulary


def test_backbone_keeps_the_exercise_label_definitions() -> None:
    ours = {a.name: a for a in BACKBONE}
    for old in EXERCISE_ATTRIBUTES:
        assert old.name in ours, old.name
        assert ours[old.name].definition == old.definition
        assert set(old.synonyms) <= set(ours[old.name].synonyms)
        assert ours[old.name].feedback[0] == old.feedback[0]


def test_every_attribute_is_documented() -> None:
    for name, spec in SPECS.items():
        assert spec.definition.endswith(".") and spec.definition.count(". ") == 0, name
        assert spec.signature and spec.unit and spec.body_part and spec.feedback and spec.praise, name
        assert spec.good < spec.bad, name
    doc = (Path(__file__).resolve().parents[1] / "docs" / "attributes.md").read_text(encoding="utf-8")
    section = doc.split("## Movement attributes (the backbone)", 1)
    assert len(section) == 2, "docs/attributes.md lacks the backbone section"
    for name in CANONICAL:
        assert f"`{name}`" in section[1], name


# ------------------------------------------------------------------------------------------------ SYNTHETIC
def test_synthetic_trunk_swing_is_measured_and_located() -> None:
    """SYNTHETIC: 4 curls, the upper body leaning back 15 degrees in phase with reps 2-4 only."""
    pose = synthetic_curl(swing_deg=[0.0, 15.0, 15.0, 15.0])
    reps = find_repetitions(pose)
    assert reps.count == 4
    ms = measure(pose, reps)
    tc = ms["trunk control"]
    assert tc.unit == "deg" and tc.value == pytest.approx(15, abs=3)
    assert tc.per_rep[0] < 3 and min(tc.per_rep[1:]) > 12
    assert tc.worst_reps == [2, 3, 4] and tc.severity > 0.5
    assert abs(tc.extra["phase_corr"]) > 0.5  # leaning back (negative lean) as the elbow flexes (u up)
    sentence = grounded_sentence(tc, reps)
    assert "reps 2-4" in sentence and re.search(r"\b1[3-7] degrees\b", sentence), sentence
    assert ms["posture"].extra["direction"] == "back" and ms["posture"].value > 10
    comp = ms["compensation"]  # 15 of 130 degrees: the trunk and the hip angle (trunk vs thigh) both move
    assert comp.body_part in ("trunk", "left hip", "right hip") and comp.value == pytest.approx(11.5, abs=3)


def test_synthetic_clean_curls_score_well_and_get_praise() -> None:
    """SYNTHETIC: still trunk, identical reps, two identical arms: low severities and specific praise."""
    pose = synthetic_curl()
    reps = find_repetitions(pose)
    ms = measure(pose, reps)
    for name in ("posture", "trunk control", "compensation", "range of motion", "movement control", "symmetry"):
        assert name in ms and ms[name].severity <= 0.2, (name, ms[name].to_dict())
    assert ms["range of motion"].value == pytest.approx(130, abs=8)
    assert ms["movement control"].value < 2.0  # about as smooth as the cosine reference
    assert ms["symmetry"].value < 2.0
    praise = praise_sentence(ms)
    assert PLAIN.match(praise) and praise.endswith(".")
    assert "under 1 degree of sway" in praise or "steady trunk" in praise.lower(), praise
    assert "range of motion" in praise or len([m for m in ms.values() if m.severity <= 0.2]) > 3


def test_synthetic_short_rep_is_flagged_in_range_of_motion() -> None:
    """SYNTHETIC: rep 3 of 4 only goes to 90 instead of 40 degrees."""
    t = np.arange(10 * 30) / 30.0
    ph = np.clip((t - 1.0) / 2.0, 0, 4)
    e = 0.5 - 0.5 * np.cos(2 * np.pi * ph)
    depth = np.where((ph >= 2) & (ph < 3), 80.0, 130.0)
    theta = np.radians(170 - depth * e)
    xy = standing(len(t))
    for s in ("left", "right"):
        el = xy[:, J[f"{s}_elbow"]]
        xy[:, J[f"{s}_wrist"], 0] = el[:, 0] + 55 * np.sin(np.pi - theta)
        xy[:, J[f"{s}_wrist"], 1] = el[:, 1] - 55 * np.cos(np.pi - theta)
    pose = make_pose(xy)
    reps = find_repetitions(pose)
    assert reps.count == 4
    rom = measure(pose, reps)["range of motion"]
    assert rom.worst_reps == [3] and rom.severity > 0.5
    assert rom.per_rep[2] == pytest.approx(80, abs=8)
    sentence = grounded_sentence(rom, reps)
    assert "rep 3" in sentence and "drops to" in sentence, sentence


def test_static_pose_gets_hold_measures_not_rep_measures() -> None:
    """SYNTHETIC: standing still: no rep-based measures; posture and hip line are measured and fine."""
    pose = still()
    reps = find_repetitions(pose)
    ms = measure(pose, reps)
    assert reps.kind == "static"
    assert not {"range of motion", "movement control", "compensation"} & set(ms)
    assert ms["posture"].severity == 0 and ms["hip alignment"].severity == 0
    assert "core stability" in ms
    assert "during the hold" in grounded_sentence(ms["core stability"], reps)


def test_measurement_to_dict_is_json_ready() -> None:
    pose = synthetic_curl(swing_deg=[0.0, 15.0, 15.0, 15.0])
    for m in measure(pose).values():
        d = json.loads(json.dumps(m.to_dict()))
        assert set(d) == {"name", "value", "unit", "body_part", "severity", "per_rep", "worst_reps", "detail"}
        assert 0.0 <= d["severity"] <= 1.0 and d["name"] in CANONICAL


def test_sentences_are_plain_english() -> None:
    m = Measurement("hip alignment", -22.4, "deg", "hips", 0.8, extra={"direction": "sagging"})
    s = grounded_sentence(m, None)
    assert s == (
        "Your hips are sagging about 22 degrees out of the line from shoulders to ankles: "
        "squeeze your glutes and lift your hips into a straight line from shoulders to ankles."
    )
    assert praise_sentence([m]) == ""
    one = Measurement("trunk control", 0.6, "deg", "trunk", 0.0)
    assert praise_sentence([one]) == "Steady trunk (under 1 degree of sway)."


# ------------------------------------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def measured(shared_data: Path) -> list[tuple[str, str, dict[str, Measurement], object]]:
    """(sport, label, measurements, reps) of every exercise_correction clip."""
    from crosstrainer.data.pose_csv import load_exercise_correction

    out = []
    for s in load_exercise_correction(shared_data):
        reps = find_repetitions(s.pose)
        out.append((s.sport, s.meta["label"], measure(s.pose, reps), reps))
    return out


def _values(measured, sport: str, label: str, name: str) -> list[float]:
    return [ms[name].value for sp, lab, ms, _ in measured if sp == sport and lab == label and name in ms]


def test_real_lean_back_curls_lean_and_sway_more(measured) -> None:
    """Real: bicep-curl clips labelled L ("lean too far back") against correct ones (C)."""
    for name, margin in (("posture", 10.0), ("trunk control", 2.0)):
        lean, good = _values(measured, "bicep curl", "L", name), _values(measured, "bicep curl", "C", name)
        assert len(lean) >= 5 and len(good) >= 5
        assert np.mean(lean) > np.mean(good) + margin, (name, np.mean(lean), np.mean(good))
    directions = [ms["posture"].extra["direction"] for sp, lab, ms, _ in measured if sp == "bicep curl" and lab == "L"]
    assert directions.count("back") >= 0.8 * len(directions)


def test_real_plank_hip_alignment_points_the_right_way(measured) -> None:
    """Real: hips-high planks (H) read more piked (+) than correct ones, hips-low (L) more sagging (-)."""
    high, good, low = (np.mean(_values(measured, "plank", lab, "hip alignment")) for lab in ("H", "C", "L"))
    assert high > good + 10 and low < good - 10, (high, good, low)
    lows = [ms["hip alignment"] for sp, lab, ms, _ in measured if sp == "plank" and lab == "L"]
    assert sum(m.value < 0 and m.extra["direction"] == "sagging" for m in lows) >= 0.8 * len(lows)


def test_real_knee_over_toe_lunges_push_the_knee_further(measured) -> None:
    """Real: lunge clips labelled L ("knee over toe") against correct ones (C)."""
    bad, good = _values(measured, "lunge", "L", "knee alignment"), _values(measured, "lunge", "C", "knee alignment")
    assert len(bad) >= 10 and len(good) >= 10
    assert np.mean(bad) > np.mean(good) and np.median(bad) > np.median(good)


def test_real_sentences_carry_numbers_and_plain_characters(measured) -> None:
    for _, _, ms, reps in measured:
        for m in ms.values():
            assert 0.0 <= m.severity <= 1.0 and np.isfinite(m.value)
            s = grounded_sentence(m, reps)
            assert PLAIN.match(s) and re.search(r"\d", s) and s.endswith("."), s
        p = praise_sentence(ms)
        assert p == "" or PLAIN.match(p), p
