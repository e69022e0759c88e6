"""UI-PRMD adapter: forward kinematics checked against physical facts of the real recordings (../shared/data/ui_prmd,
skipped when absent), malformed files on generated temporary files, the Sample it produces, and registry loading."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from crosstrainer.data.registry import load_samples, sniff
from crosstrainer.data.ui_prmd import (
    KINECT_TO_CT17,
    MOVEMENTS,
    kinect_to_ct17,
    load_ui_prmd,
    read_index,
    read_repetition,
)
from crosstrainer.errors import InputNotFoundError, InvalidAnnotationError, UsageError
from crosstrainer.keypoints.skeleton import JOINTS, J

ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ui_prmd"
SUBJECTS = ("s01", "s03", "s05", "s07", "s09")
WAIST, HEAD, L_FOREARM, L_HAND, R_FOREARM, R_HAND = 0, 4, 8, 9, 12, 13
ANKLES, KNEES = [16, 20], [15, 19]

needs_data = pytest.mark.skipif(
    not (ROOT / "manifest_kinect.csv").is_file(), reason=f"UI-PRMD not found at {ROOT} (the project's ../shared/data)"
)


@pytest.fixture(scope="module")
def reps() -> dict[tuple[str, str], list[np.ndarray]]:
    """Correct repetitions of m01/m05/m07 for SUBJECTS: (movement, subject) -> [(T, 22, 3) cm]."""
    if not (ROOT / "manifest_kinect.csv").is_file():
        pytest.skip(f"UI-PRMD not found at {ROOT}")
    out: dict[tuple[str, str], list[np.ndarray]] = {}
    for row in read_index(ROOT):
        if row["correct"] and row["movement"] in ("m01", "m05", "m07") and row["subject"] in SUBJECTS:
            out.setdefault((row["movement"], row["subject"]), []).append(
                read_repetition(row["positions"], row["angles"])
            )
    return out


# ------------------------------------------------------------------------------------------- physical facts (NOTES.md)
@needs_data
def test_deep_squat_waist_drops_from_about_86_to_about_25_cm(reps):
    starts, bottoms = [], []
    for s in SUBJECTS:
        for g in reps[("m01", s)]:
            y = g[:, WAIST, 1]
            assert 75 < y[0] < 105 and 15 < y.min() < 50 and y[0] - y.min() > 35, (s, y[0], y.min())
            starts.append(y[0])
            bottoms.append(y.min())
    s01 = np.array([[g[0, WAIST, 1], g[:, WAIST, 1].min()] for g in reps[("m01", "s01")]])
    assert np.allclose(np.median(s01, axis=0), [86, 25], atol=10)  # the numbers of the notes are subject 1's
    assert abs(np.median(starts) - 86) < 10 and abs(np.median(bottoms) - 30) < 12


@needs_data
def test_sit_to_stand_waist_between_about_39_and_89_cm(reps):
    lows, highs = [], []
    for s in SUBJECTS:
        for g in reps[("m05", s)]:
            y = g[:, WAIST, 1]
            assert 30 < y.min() < 55 and 75 < y.max() < 100, (s, y.min(), y.max())
            lows.append(y.min())
            highs.append(y.max())
    assert abs(np.median(lows) - 39) < 10 and abs(np.median(highs) - 89) < 10


@needs_data
def test_shoulder_abduction_moving_hand_rises_from_about_90_to_about_200_cm(reps):
    peaks = []
    for s in SUBJECTS:
        for g in reps[("m07", s)]:
            moving = max((L_HAND, R_HAND), key=lambda j: np.ptp(g[:, j, 1]))
            still = L_HAND + R_HAND - moving
            y = g[:, moving, 1]
            assert 65 < y.min() < 105 and 165 < y.max() < 220, (s, y.min(), y.max())
            assert np.ptp(g[:, still, 1]) < 15  # the other arm hangs
            assert y.max() > g[:, HEAD, 1].max()  # abduction to overhead
            peaks.append(y.max())
    assert abs(np.median(peaks) - 195) < 15


@needs_data
def test_forearm_length_is_a_constant_bone(reps):
    """Notes: 23-26 cm, std under 1 cm. Measured (m01/m05/m07, both arms): subject medians 22.4-27.0 cm, a typical
    repetition's std 1.0-1.5 cm, 18-48 % of repetitions under 1 cm: Kinect's hand joint jitters along the forearm."""
    all_stds = []
    for s in SUBJECTS:
        lengths, stds = [], []
        for key in (("m01", s), ("m05", s), ("m07", s)):
            for g in reps[key]:
                for elbow, hand in ((L_FOREARM, L_HAND), (R_FOREARM, R_HAND)):
                    n = np.linalg.norm(g[:, hand] - g[:, elbow], axis=-1)
                    lengths.append(np.median(n))
                    stds.append(n.std())
        assert 21 <= np.median(lengths) <= 28, (s, np.median(lengths))
        assert np.median(stds) < 1.6 and np.percentile(stds, 90) < 2.5, (s, np.median(stds))
        all_stds += stds
    assert np.mean(np.array(all_stds) < 1.0) > 0.2


@needs_data
def test_head_above_waist_and_feet_near_the_floor(reps):
    ankle_peaks = {"m01": [], "m05": [], "m07": []}
    for (movement, s), gs in reps.items():
        for g in gs:
            assert (g[:, HEAD, 1] - g[:, WAIST, 1] > 20).all(), (movement, s)
            lower_foot = g[:, ANKLES, 1].min(1)
            assert -10 < np.median(lower_foot) < 20, (movement, s)  # one foot always on the floor
            ankle_peaks[movement].append(g[:, ANKLES, 1].max())
            assert np.median(g[:, KNEES, 1] - g[:, ANKLES, 1]) > 20  # knees above ankles
    # squats and sit-to-stand keep both feet down (a few Kinect glitches aside); standing arm raises always do
    assert np.median(ankle_peaks["m01"]) < 25 and np.mean(np.array(ankle_peaks["m01"]) < 25) > 0.7
    assert np.median(ankle_peaks["m05"]) < 25 and np.mean(np.array(ankle_peaks["m05"]) < 25) > 0.7
    assert max(ankle_peaks["m07"]) < 25


@needs_data
def test_the_authors_euler_order_lifts_the_feet_off_the_floor():
    """Why the default is "zxy": with the viewer's Rz.Ry.Rx the ankles rise ~70 cm during a deep squat."""
    row = next(r for r in read_index(ROOT) if (r["movement"], r["subject"], r["correct"]) == ("m01", "s01", True))
    zxy = read_repetition(row["positions"], row["angles"])
    zyx = read_repetition(row["positions"], row["angles"], euler_order="zyx")
    assert zxy[:, ANKLES, 1].max() < 25 < 40 < zyx[:, ANKLES, 1].max()
    assert np.allclose(zxy[:, WAIST], zyx[:, WAIST])  # the waist is absolute either way


# ---------------------------------------------------------------------------------------------------- bad inputs
def _write(path: Path, rows: list[list[float]] | str) -> Path:
    text = rows if isinstance(rows, str) else "\n".join(",".join(f"{v:.5f}" for v in r) for r in rows) + "\n"
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    return path


def _good_frames(n: int = 3) -> tuple[list[list[float]], list[list[float]]]:
    pos = np.tile(np.arange(66, dtype=float) % 7 + 1.0, (n, 1))  # every offset non-zero
    return pos.tolist(), np.zeros((n, 66)).tolist()


def test_generated_files_read(tmp_path: Path):
    pos, ang = _good_frames()
    g = read_repetition(_write(tmp_path / "p.txt.gz", pos), _write(tmp_path / "a.txt.gz", ang))
    assert g.shape == (3, 22, 3) and np.isfinite(g).all()
    # zero angles: every joint is its parent plus its offset
    off = np.array(pos[0]).reshape(22, 3)
    assert np.allclose(g[0, 1], off[0] + off[1]) and np.allclose(g[0, 6], g[0, 2] + off[6])


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("columns", "columns"),
        ("ragged", "number of columns changed"),
        ("text", "could not convert"),
        ("empty", "empty file"),
        ("nan", "impossible bone: non-finite position"),
        ("nan_angle", "impossible bone: non-finite angle"),
        ("zero_bone", "impossible bone: zero-length left_forearm"),
        ("frames", "frames but"),
        ("not_gzip", "cannot read"),
    ],
)
def test_malformed_files_are_clear_errors(tmp_path: Path, case: str, message: str):
    pos, ang = _good_frames()
    if case == "columns":
        pos = [r[:65] for r in pos]
    if case == "nan":
        pos[1][4] = float("nan")
    if case == "nan_angle":
        ang[2][10] = float("nan")
    if case == "zero_bone":
        pos[0][8 * 3 : 8 * 3 + 3] = [0.0, 0.0, 0.0]
    if case == "frames":
        ang = ang[:2]
    p, a = _write(tmp_path / "p.txt.gz", pos), _write(tmp_path / "a.txt.gz", ang)
    if case == "ragged":
        _write(p, "1,2,3\n1,2\n")
    if case == "text":
        _write(p, ",".join(["1.0"] * 65 + ["abc"]) + "\n")
    if case == "empty":
        _write(p, "")
    if case == "not_gzip":
        p.write_text("1,2,3\n")
    with pytest.raises(InvalidAnnotationError, match=message):
        read_repetition(p, a)


def test_missing_file_and_folder(tmp_path: Path):
    with pytest.raises(InputNotFoundError):
        read_repetition(tmp_path / "nope.txt.gz", tmp_path / "nope2.txt.gz")
    with pytest.raises(InputNotFoundError):
        load_ui_prmd(tmp_path / "absent")
    with pytest.raises(InvalidAnnotationError, match="no UI-PRMD repetitions"):
        load_ui_prmd(tmp_path)


def test_folder_without_manifest_is_listed(tmp_path: Path):
    pos, ang = _good_frames(5)
    for folder, suffix in (("Segmented Movements", ""), ("Incorrect Segmented Movements", "_inc")):
        for kind, rows in (("Positions", pos), ("Angles", ang)):
            d = tmp_path / folder / "Kinect" / kind
            d.mkdir(parents=True)
            _write(d / f"m07_s02_e03_{kind.lower()}{suffix}.txt.gz", rows)
    samples = load_ui_prmd(tmp_path)
    assert [s.id for s in samples] == ["ui_prmd/m07_s02_e03_correct", "ui_prmd/m07_s02_e03_incorrect"]
    assert sniff(tmp_path) == "ui_prmd"


# -------------------------------------------------------------------------------------------------- the samples
def test_joint_mapping():
    assert set(KINECT_TO_CT17) == set(JOINTS)
    xyz22 = np.arange(2 * 22 * 3, dtype=float).reshape(2, 22, 3)
    xyz, conf = kinect_to_ct17(xyz22)
    assert xyz.shape == (2, 17, 3) and conf.shape == (2, 17)
    assert np.array_equal(xyz[:, J["nose"]], xyz22[:, 4]) and np.array_equal(xyz[:, J["right_wrist"]], xyz22[:, 13])
    assert np.isnan(xyz[:, J["left_heel"]]).all() and (conf[:, [J["left_heel"], J["right_heel"]]] == 0).all()
    assert conf.sum() == 2 * 15


@needs_data
def test_samples_of_one_subject():
    samples = load_ui_prmd(ROOT, subjects="s01", movements="m01,sit to stand")
    assert len(samples) == 40
    by_id = {s.id: s for s in samples}
    good, bad = by_id["ui_prmd/m01_s01_e01_correct"], by_id["ui_prmd/m05_s01_e10_incorrect"]
    assert (good.source, good.sport, good.participant) == ("ui_prmd", "deep squat", "s01")
    assert good.proficiency == "good form"
    assert (bad.sport, bad.proficiency) == ("sit to stand", "needs improvement")
    expected = {"subject": "s01", "movement": "m01", "episode": "e01", "correct": True, "fps": 30.0}
    assert {k: good.meta[k] for k in expected} == expected
    assert bad.meta["correct"] is False
    assert good.commentary[0].attributes == [] and bad.commentary[0].attributes is None
    assert good.commentary[0].window == (0.0, good.pose.duration_s)
    pose = good.pose
    assert pose.fps == 30.0 and np.allclose(np.diff(pose.times_s), 1 / 30)
    assert len(pose) == good.meta["n_frames"] == 73  # the manifest's count
    heels = [J["left_heel"], J["right_heel"]]
    assert (pose.conf[:, heels] == 0).all() and (np.delete(pose.conf, heels, axis=1) == 1).all()
    xyz = pose.meta["xyz"]
    assert xyz.dtype == np.float32 and xyz.shape == (len(pose), 17, 3)
    hips_y = xyz[:, [J["left_hip"], J["right_hip"]], 1].mean(1)
    assert 0.7 < hips_y[0] < 1.1 and hips_y.min() < 0.5  # metres, y up: the squat goes down
    # front view, y down: the nose is above the ankles in the image; the subject's left is on the image right
    assert (pose.xy[:, J["nose"], 1] < pose.xy[:, J["left_ankle"], 1]).all()
    assert np.median(pose.xy[:, J["left_shoulder"], 0] - pose.xy[:, J["right_shoulder"], 0]) > 0


@needs_data
def test_view_option_and_unknown_values():
    (front,) = load_ui_prmd(ROOT, subjects=1, movements=7, correct=True)[:1]
    (side,) = load_ui_prmd(ROOT, subjects=1, movements=7, correct=True, view="side_left")[:1]
    assert side.meta["view"] == "side_left" and np.array_equal(
        side.pose.meta["xyz"], front.pose.meta["xyz"], equal_nan=True
    )
    sh = [J["left_shoulder"], J["right_shoulder"]]
    width = lambda p: np.median(np.abs(np.diff(p.xy[:, sh, 0], axis=1)))  # noqa: E731
    assert width(side.pose) < 0.3 * width(front.pose)  # seen from the side the shoulders overlap
    with pytest.raises(UsageError, match="virtual camera"):
        load_ui_prmd(ROOT, view="top")
    with pytest.raises(UsageError, match="subject"):
        load_ui_prmd(ROOT, subjects="bob")
    with pytest.raises(UsageError, match="Euler order"):
        load_ui_prmd(ROOT, euler_order="xyz")
    assert load_ui_prmd(ROOT, sport="bicep curl") == []
    assert load_ui_prmd(ROOT, movements="m01", sport="sit to stand") == []


@needs_data
def test_registry_spec_filters_and_sniffing():
    spec = f"ui_prmd:{ROOT}?subjects=s02&limit=3"
    samples = load_samples(spec)
    assert [s.id for s in samples] == [f"ui_prmd/m01_s02_e{e:02d}_correct" for e in (1, 2, 3)]
    squats = load_samples(f"{ROOT}?subjects=s03,s04&sport=Sit to stand&view=oblique_left_high")
    assert len(squats) == 40 and {s.sport for s in squats} == {MOVEMENTS["m05"]}
    assert {s.meta["view"] for s in squats} == {"oblique_left_high"}
    assert sniff(ROOT) == "ui_prmd"
