"""Pose-landmark CSVs (one MediaPipe frame per row) turned into clips: ``exercise_correction`` and
``gym_exercise_correction_vn``.

Input rows look like::

    label,nose_x,nose_y,nose_z,nose_v,left_shoulder_x,...
    C,0.615,0.074,-0.100,0.975,0.544,...

Rows are consecutive video frames without a clip id. Clips are recovered from the row order: a new clip
starts where the label changes or where the landmarks jump (median joint displacement above both an
absolute floor and a multiple of the local median motion). Coordinates are MediaPipe's normalised image
coordinates; the frame rate is not recorded and is assumed to be ``ASSUMED_FPS``.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from crosstrainer.data.exercise_labels import CORRECT_GENERIC, LABELS, WRONG_UNSPECIFIED, LabelMeaning
from crosstrainer.data.sample import Commentary, Sample
from crosstrainer.errors import InputNotFoundError, InvalidAnnotationError
from crosstrainer.keypoints.skeleton import JOINTS, NUM_JOINTS, PoseSequence

ASSUMED_FPS = 30.0

EXERCISE_CORRECTION_FILES: dict[str, tuple[str, str]] = {
    # sport: (relative path, split name)
    "bicep curl": ("core/bicep_model/test.csv", "test"),
    "plank": ("core/plank_model/test.csv", "test"),
    "lunge": ("core/lunge_model/err.test.csv", "test"),
}
GYM_VN_FILES: dict[str, list[tuple[str, str]]] = {
    "plank": [("trainning/plank_model/train_clean.csv", "train"), ("trainning/plank_model/test.csv", "test")],
    "push-up": [("trainning/pushup_model/train_clean.csv", "train"), ("trainning/pushup_model/test.csv", "test")],
}


def read_landmark_csv(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read a landmark CSV into (labels, xy (N, 17, 2), conf (N, 17)); joints absent from the file are NaN / 0."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"landmark CSV not found: {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise InvalidAnnotationError(f"{path}: empty CSV") from None
        rows = [r for r in reader if r]
    if "label" not in header or not rows:
        raise InvalidAnnotationError(f"{path}: expected a 'label' column and at least one row")
    col = {name: i for i, name in enumerate(header)}
    n = len(rows)
    xy = np.full((n, NUM_JOINTS, 2), np.nan, np.float32)
    conf = np.zeros((n, NUM_JOINTS), np.float32)
    try:
        table = np.array([[float(v) if v not in ("", "nan") else np.nan for v in r] for r in _numeric(rows, col)])
    except ValueError as exc:
        raise InvalidAnnotationError(f"{path}: non-numeric landmark value ({exc})") from exc
    numeric_cols = [c for c in header if c not in ("label", "predicted_label")]
    ncol = {name: i for i, name in enumerate(numeric_cols)}
    for j, joint in enumerate(JOINTS):
        if f"{joint}_x" in ncol and f"{joint}_y" in ncol:
            xy[:, j, 0] = table[:, ncol[f"{joint}_x"]]
            xy[:, j, 1] = table[:, ncol[f"{joint}_y"]]
            conf[:, j] = table[:, ncol[f"{joint}_v"]] if f"{joint}_v" in ncol else 1.0
    conf[np.isnan(xy).any(-1)] = 0.0
    labels = [r[col["label"]].strip() for r in rows]
    return labels, xy, conf


def _numeric(rows: list[list[str]], col: dict[str, int]) -> Iterable[list[str]]:
    drop = {col[c] for c in ("label", "predicted_label") if c in col}
    for r in rows:
        yield [v for i, v in enumerate(r) if i not in drop]


def recover_clips(
    xy: np.ndarray, labels: list[str], abs_jump: float = 0.03, rel_jump: float = 6.0, min_len: int = 4
) -> list[tuple[int, int]]:
    """Split consecutive frames into clips: returns [(start, end), ...] row ranges (end exclusive).

    A boundary is placed before row i when ``labels[i] != labels[i-1]``, or when the median joint displacement
    from row i-1 exceeds ``abs_jump`` and ``rel_jump`` times the median displacement of the 10 rows around it.
    Clips shorter than ``min_len`` rows are dropped (they are the noise at boundaries).
    """
    n = len(labels)
    if n == 0:
        return []
    disp = np.nanmedian(np.linalg.norm(np.diff(xy, axis=0), axis=-1), axis=1)
    disp = np.nan_to_num(disp, nan=0.0)
    cuts = [0]
    for i in range(1, n):
        lo, hi = max(0, i - 6), min(n - 1, i + 5)
        around = np.concatenate([disp[lo : i - 1], disp[i:hi]])
        local = float(np.median(around)) if around.size else 0.0
        jump = disp[i - 1] > abs_jump and disp[i - 1] > rel_jump * max(local, 1e-4)
        if labels[i] != labels[i - 1] or jump:
            cuts.append(i)
    cuts.append(n)
    return [(a, b) for a, b in itertools.pairwise(cuts) if b - a >= min_len]


def _clip_samples(
    path: Path, source: str, sport: str, split: str, meanings: dict[str, LabelMeaning], fps: float
) -> list[Sample]:
    labels, xy, conf = read_landmark_csv(path)
    samples = []
    for k, (a, b) in enumerate(recover_clips(xy, labels)):
        code = labels[a]
        meaning = meanings.get(code) or (CORRECT_GENERIC if code == "C" else WRONG_UNSPECIFIED)
        pose = PoseSequence(
            xy=xy[a:b], conf=conf[a:b], times_s=np.arange(b - a) / fps, fps=fps, source=f"{path}#rows={a}-{b}"
        )
        commentary = [
            Commentary(
                text=" ".join(meaning.feedback),
                time_s=pose.duration_s,
                attributes=list(meaning.attributes) if meaning is not WRONG_UNSPECIFIED else None,
                window=(0.0, pose.duration_s),
            )
        ]
        samples.append(
            Sample(
                id=f"{source}/{sport.replace(' ', '_')}/{path.stem}/clip{k:03d}",
                source=source,
                sport=sport,
                participant=None,
                keypoints=pose.source,
                commentary=commentary,
                proficiency=meaning.level,
                split=split,
                meta={"label": code, "label_description": meaning.description, "rows": [a, b], "fps_assumed": fps},
                pose=pose,
            )
        )
    return samples


def load_exercise_correction(root: str | Path, fps: float = ASSUMED_FPS) -> list[Sample]:
    """Clips of bicep curl, plank and lunge (error-labelled test CSVs; the upstream train CSVs are not published)."""
    root = Path(root)
    if (root / "exercise_correction").is_dir():
        root = root / "exercise_correction"
    out: list[Sample] = []
    for sport, (rel, split) in EXERCISE_CORRECTION_FILES.items():
        out += _clip_samples(root / rel, "exercise_correction", sport, split, LABELS[sport], fps)
    return out


def load_gym_vn(root: str | Path, fps: float = ASSUMED_FPS) -> list[Sample]:
    """Clips of plank and push-up labelled C (correct) / W (wrong).

    Evaluation only: the data has no license, so no shipped weights may be trained on it.
    """
    root = Path(root)
    if (root / "gym_exercise_correction_vn").is_dir():
        root = root / "gym_exercise_correction_vn"
    out: list[Sample] = []
    for sport, files in GYM_VN_FILES.items():
        for rel, split in files:
            out += _clip_samples(root / rel, "gym_exercise_correction_vn", sport, split, {}, fps)
    return out
