"""UI-PRMD (Vakanski et al., Data 2018): Kinect v2 repetitions of 10 rehabilitation movements, correct and incorrect.

Layout (as published; ``manifest_kinect.csv`` indexes it, else the folders are listed)::

    <root>/Segmented Movements/Kinect/Positions/m01_s01_e01_positions.txt.gz          (correct)
    <root>/Segmented Movements/Kinect/Angles/m01_s01_e01_angles.txt.gz
    <root>/Incorrect Segmented Movements/Kinect/Positions/m01_s01_e01_positions_inc.txt.gz
    <root>/Incorrect Segmented Movements/Kinect/Angles/m01_s01_e01_angles_inc.txt.gz

Each file: CSV without header, one row per frame (30 fps), 66 columns = 22 joints x 3. Positions are centimetres,
y up; joint 0 (waist) is absolute, the others are offsets from their parent in the parent's local frame. Angles are
Euler angles in degrees, columns (x, y, z)::

    -3.502800,85.597550,-235.881530,-0.000010,27.802410,0.000020,...      (positions: waist, spine offset, ...)
    -3.314720,-3.798660,-2.311440,1.792150,-0.221450,-0.214530,...        (angles)

``read_repetition`` runs the forward kinematics of the authors' viewer (chains from the waist for spine/head and legs,
from the chest for the arms; ``global[j] = R . offset[j] + global[parent]`` with R the product of the chain's joint
rotations down to the parent) and returns global positions (T, 22, 3) in cm, y up: x is the subject's left (the
Kinect's image right), z points to the Kinect, the subject faces +z, y = 0 is about the floor.

**Euler order.** The authors' viewer (and the dataset notes) compose a joint's rotation as ``Rz(a2) Ry(a1) Rx(a0)``.
With that order the legs are physically impossible: in deep squats and sit-to-stand the ankles rise to a median peak
of 75 and 94 cm, and in most straight-leg raises the knee ends below the ankle. ``Rz(a2) Rx(a0) Ry(a1)`` (the Z-X-Y
order common in BVH files) keeps the feet down (median ankle peak 16 and 14 cm; <= 25 cm in 83 % and 91 % of those
repetitions, 100 % of shoulder abductions) and changes neither the waist (absolute) nor the arm facts. It is the
default (``euler_order="zxy"``); ``euler_order="zyx"`` reproduces the authors' viewer.

Kinect joint -> CT17 (``KINECT_TO_CT17``)::

    nose        <- 4 head                 left/right_shoulder    <- 7 / 11 upper arm
    left/right_elbow     <- 8 / 12 forearm        left/right_wrist     <- 9 / 13 hand
    left/right_hip       <- 14 / 18 upper leg     left/right_knee      <- 15 / 19 lower leg
    left/right_ankle     <- 16 / 20 foot          left/right_foot_index <- 17 / 21 toes
    left/right_heel      <- not available: conf 0, NaN

Every sample's ``pose`` is the CT17 skeleton projected by a virtual camera (``crosstrainer.keypoints.projection``,
default ``front``), and ``pose.meta["xyz"]`` keeps the 3-D joints: (T, 17, 3) float32, **metres**, y up, same axes
as above (heels NaN), so training can re-project them from other cameras with ``projection.project``.

License ODC-PDDL 1.0; cite A. Vakanski, H. Jun, D. Paul, R. Baker, "A Data Set of Human Body Movements for Physical
Rehabilitation Exercises", Data 2018, 3(1):2, doi:10.3390/data3010002.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import warnings
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.data.exercise_labels import CORRECT_GENERIC, WRONG_UNSPECIFIED
from crosstrainer.data.sample import Commentary, Sample
from crosstrainer.errors import InputNotFoundError, InvalidAnnotationError, UsageError
from crosstrainer.keypoints.projection import VIRTUAL_CAMERAS, Camera, get_camera, project
from crosstrainer.keypoints.skeleton import JOINTS, NUM_JOINTS

FPS = 30.0
MOVEMENTS: dict[str, str] = {
    "m01": "deep squat",
    "m02": "hurdle step",
    "m03": "inline lunge",
    "m04": "side lunge",
    "m05": "sit to stand",
    "m06": "standing active straight leg raise",
    "m07": "standing shoulder abduction",
    "m08": "standing shoulder extension",
    "m09": "standing shoulder internal-external rotation",
    "m10": "standing shoulder scaption",
}
KINECT_JOINTS: tuple[str, ...] = (
    "waist", "spine", "chest", "neck", "head", "head_tip",
    "left_collar", "left_upper_arm", "left_forearm", "left_hand",
    "right_collar", "right_upper_arm", "right_forearm", "right_hand",
    "left_upper_leg", "left_lower_leg", "left_foot", "left_toes",
    "right_upper_leg", "right_lower_leg", "right_foot", "right_toes",
)  # fmt: skip
NUM_KINECT = len(KINECT_JOINTS)
CHAINS: tuple[tuple[int, ...], ...] = (
    (0, 1, 2, 3, 4, 5),
    (2, 6, 7, 8, 9),
    (2, 10, 11, 12, 13),
    (0, 14, 15, 16, 17),
    (0, 18, 19, 20, 21),
)
KINECT_TO_CT17: dict[str, int | None] = {
    "nose": 4,
    "left_shoulder": 7,
    "right_shoulder": 11,
    "left_elbow": 8,
    "right_elbow": 12,
    "left_wrist": 9,
    "right_wrist": 13,
    "left_hip": 14,
    "right_hip": 18,
    "left_knee": 15,
    "right_knee": 19,
    "left_ankle": 16,
    "right_ankle": 20,
    "left_heel": None,
    "right_heel": None,
    "left_foot_index": 17,
    "right_foot_index": 21,
}
"""CT17 joint name -> Kinect joint index (None: not available, treated as not detected)."""
EULER_ORDERS = ("zxy", "zyx")
DEFAULT_EULER_ORDER = "zxy"
MIN_BONE_CM = 1e-3
"""A bone (offset of a joint from its parent) shorter than this is "zero-length"; the shortest real one is ~0.1 cm."""
XYZ_FRAME = "CT17 joints, metres, y up, x = subject's left (Kinect image right), z towards the Kinect"
_NAME = re.compile(r"^(m\d{2})_(s\d{2})_(e\d{2})_positions(_inc)?\.txt(\.gz)?$")


# ------------------------------------------------------------------------------------------------- reading files
def read_table(path: str | Path) -> np.ndarray:
    """One UI-PRMD file (gzip or plain CSV) as a (T, 66) float64 array; clear errors for malformed files."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"UI-PRMD file not found: {path}")
    try:
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        raise InvalidAnnotationError(f"{path}: cannot read the file ({exc})") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # loadtxt warns on empty input; reported below
            table = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise InvalidAnnotationError(f"{path}: {str(exc).split('; use')[0]}") from exc
    if table.size == 0:
        raise InvalidAnnotationError(f"{path}: empty file (no frames)")
    if table.shape[1] != NUM_KINECT * 3:
        raise InvalidAnnotationError(f"{path}: expected {NUM_KINECT * 3} columns (22 joints x 3), got {table.shape[1]}")
    return table


def euler_to_matrix(angles_deg: np.ndarray, order: str = DEFAULT_EULER_ORDER) -> np.ndarray:
    """Rotation matrices (..., 3, 3) from Euler angles (..., 3) in degrees about x, y, z.

    ``order="zxy"``: ``Rz(a2) Rx(a0) Ry(a1)``; ``order="zyx"``: ``Rz(a2) Ry(a1) Rx(a0)`` (the authors' viewer).
    """
    if order not in EULER_ORDERS:
        raise UsageError(f"unknown Euler order {order!r} (known: {', '.join(EULER_ORDERS)})")
    a = np.radians(np.asarray(angles_deg, dtype=np.float64))
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a[..., 0]), np.zeros_like(a[..., 0])

    def mat(rows: list[list[np.ndarray]]) -> np.ndarray:
        return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)

    rx = mat([[one, zero, zero], [zero, c[..., 0], -s[..., 0]], [zero, s[..., 0], c[..., 0]]])
    ry = mat([[c[..., 1], zero, s[..., 1]], [zero, one, zero], [-s[..., 1], zero, c[..., 1]]])
    rz = mat([[c[..., 2], -s[..., 2], zero], [s[..., 2], c[..., 2], zero], [zero, zero, one]])
    return rz @ rx @ ry if order == "zxy" else rz @ ry @ rx


def forward_kinematics(offsets: np.ndarray, angles_deg: np.ndarray, order: str = DEFAULT_EULER_ORDER) -> np.ndarray:
    """Global joint positions (T, 22, 3) from the positions file (waist + offsets) and the angles, both (T, 22, 3)."""
    rot = euler_to_matrix(angles_deg, order)  # (T, 22, 3, 3)
    out = np.empty_like(offsets)
    out[:, 0] = offsets[:, 0]
    for chain in CHAINS:
        r = rot[:, chain[0]]
        for k in range(1, len(chain)):
            joint, parent = chain[k], chain[k - 1]
            if k >= 2:
                r = r @ rot[:, parent]
            out[:, joint] = np.einsum("tab,tb->ta", r, offsets[:, joint]) + out[:, parent]
    return out


def read_repetition(
    positions_path: str | Path, angles_path: str | Path, euler_order: str = DEFAULT_EULER_ORDER
) -> np.ndarray:
    """Global positions (T, 22, 3) in centimetres, y up, of one repetition (see the module docstring).

    Raises ``InvalidAnnotationError`` for a wrong column count, non-numeric cells, an empty file, files of different
    lengths, or impossible bones (NaN/inf values, zero-length bones).
    """
    pos = read_table(positions_path).reshape(-1, NUM_KINECT, 3)
    ang = read_table(angles_path).reshape(-1, NUM_KINECT, 3)
    if len(pos) != len(ang):
        raise InvalidAnnotationError(f"{positions_path}: {len(pos)} frames but {angles_path} has {len(ang)}")
    for arr, path, what in ((pos, positions_path, "position"), (ang, angles_path, "angle")):
        bad = ~np.isfinite(arr).all(-1)
        if bad.any():
            t, j = np.argwhere(bad)[0]
            raise InvalidAnnotationError(
                f"{path}: impossible bone: non-finite {what} of {KINECT_JOINTS[j]} in frame {t} "
                f"({int(bad.sum())} in all)"
            )
    length = np.linalg.norm(pos[:, 1:], axis=-1)
    short = length < MIN_BONE_CM
    if short.any():
        t, j = np.argwhere(short)[0]
        raise InvalidAnnotationError(
            f"{positions_path}: impossible bone: zero-length {KINECT_JOINTS[j + 1]} in frame {t} "
            f"({int(short.sum())} in all)"
        )
    return forward_kinematics(pos, ang, euler_order)


def kinect_to_ct17(xyz22: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 22, 3) Kinect joints -> (xyz (T, 17, 3) same units, conf (T, 17)): 1 where mapped, 0 and NaN for heels."""
    xyz22 = np.asarray(xyz22)
    if xyz22.ndim != 3 or xyz22.shape[1:] != (NUM_KINECT, 3):
        raise ValueError(f"kinect_to_ct17 expects (T,{NUM_KINECT},3), got {xyz22.shape}")
    out = np.full((len(xyz22), NUM_JOINTS, 3), np.nan, dtype=np.float64)
    for i, name in enumerate(JOINTS):
        src = KINECT_TO_CT17[name]
        if src is not None:
            out[:, i] = xyz22[:, src]
    conf = np.isfinite(out).all(-1).astype(np.float32)
    return out, conf


# ------------------------------------------------------------------------------------------------------ the loader
def _root(root: str | Path) -> Path:
    root = Path(root)
    if (root / "ui_prmd").is_dir():
        root = root / "ui_prmd"
    if not root.is_dir():
        raise InputNotFoundError(f"{root}: UI-PRMD folder not found")
    return root


def read_index(root: str | Path) -> list[dict[str, Any]]:
    """Repetitions of the dataset: ``{positions, angles (Paths), movement, subject, episode, correct (bool)}``."""
    root = _root(root)
    manifest = root / "manifest_kinect.csv"
    rows: list[dict[str, Any]] = []
    if manifest.is_file():
        with manifest.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            need = {"positions_path", "angles_path", "movement", "subject", "episode", "correct"}
            missing = need - set(reader.fieldnames or ())
            if missing:
                raise InvalidAnnotationError(f"{manifest}: missing column(s) {', '.join(sorted(missing))}")
            for lineno, r in enumerate(reader, start=2):
                if r["correct"] not in ("0", "1") or r["movement"] not in MOVEMENTS:
                    raise InvalidAnnotationError(f"{manifest} line {lineno}: bad movement or correct flag")
                rows.append(
                    {
                        "positions": root / r["positions_path"],
                        "angles": root / r["angles_path"],
                        "movement": r["movement"],
                        "subject": r["subject"],
                        "episode": r["episode"],
                        "correct": r["correct"] == "1",
                    }
                )
    else:
        for folder, correct in (("Segmented Movements", True), ("Incorrect Segmented Movements", False)):
            for pos in sorted((root / folder / "Kinect" / "Positions").glob("*.txt*")):
                m = _NAME.match(pos.name)
                if not m:
                    continue
                ang = pos.parent.parent / "Angles" / pos.name.replace("_positions", "_angles")
                rows.append(
                    {
                        "positions": pos,
                        "angles": ang,
                        "movement": m[1],
                        "subject": m[2],
                        "episode": m[3],
                        "correct": correct,
                    }
                )
    if not rows:
        raise InvalidAnnotationError(f"{root}: no UI-PRMD repetitions (no manifest_kinect.csv, no Kinect files)")
    return rows


def _codes(values: str | int | Iterable[str | int] | None, prefix: str, names: dict[str, str] | None = None) -> set:
    """``"s01,2"`` / ``[1, "s02"]`` -> ``{"s01", "s02"}``; movement names are accepted for movements."""
    if values is None:
        return set()
    items = values.split(",") if isinstance(values, str) else [values] if isinstance(values, int) else list(values)
    by_name = {v: k for k, v in (names or {}).items()}
    out = set()
    for item in items:
        text = str(item).strip().lower()
        if not text:
            continue
        if text in by_name:
            out.add(by_name[text])
        elif text.isdigit():
            out.add(f"{prefix}{int(text):02d}")
        elif re.fullmatch(rf"{prefix}\d{{2}}", text):
            out.add(text)
        else:
            raise UsageError(f"not a UI-PRMD {'movement' if names else 'subject'}: {item!r}")
    return out


def load_ui_prmd(
    root: str | Path,
    view: str | Camera = "front",
    subjects: str | int | Iterable[str | int] | None = None,
    movements: str | int | Iterable[str | int] | None = None,
    sport: str | None = None,
    correct: bool | None = None,
    euler_order: str = DEFAULT_EULER_ORDER,
) -> list[Sample]:
    """One ``Sample`` per repetition, its pose seen from the virtual camera ``view`` (a preset name or a ``Camera``).

    Filters (applied before any file is read): ``subjects`` ("s01,s02" or numbers), ``movements`` (codes, numbers or
    names), ``sport`` (one movement name, any case; another sport gives no samples, like the registry's generic
    filter), ``correct`` (True/False).
    """
    camera = get_camera(view)
    view_name = next((k for k, v in VIRTUAL_CAMERAS.items() if v == camera), "custom")
    if euler_order not in EULER_ORDERS:
        raise UsageError(f"unknown Euler order {euler_order!r} (known: {', '.join(EULER_ORDERS)})")
    keep_s = _codes(subjects, "s")
    keep_m = _codes(movements, "m", MOVEMENTS)
    if sport is not None:
        wanted = str(sport).strip().lower()
        by_sport = {code for code, name in MOVEMENTS.items() if wanted in (name, code)}
        keep_m = (keep_m & by_sport) if keep_m else by_sport
        if not keep_m:
            return []
    out: list[Sample] = []
    for row in read_index(root):
        if (keep_s and row["subject"] not in keep_s) or (keep_m and row["movement"] not in keep_m):
            continue
        if correct is not None and row["correct"] != bool(correct):
            continue
        out.append(_sample(row, camera, view_name, euler_order))
    return out


def _sample(row: dict[str, Any], camera: Camera, view_name: str, euler_order: str) -> Sample:
    xyz_cm = read_repetition(row["positions"], row["angles"], euler_order)
    xyz, conf = kinect_to_ct17(xyz_cm / 100.0)
    ok = row["correct"]
    pose = project(
        xyz,
        camera,
        conf=conf,
        fps=FPS,
        source=str(row["positions"]),
        meta={"xyz": xyz.astype(np.float32), "xyz_frame": XYZ_FRAME, "skeleton": "kinect_v2_22", "view": view_name},
    )
    meaning = CORRECT_GENERIC if ok else WRONG_UNSPECIFIED
    commentary = Commentary(
        text=" ".join(meaning.feedback),
        time_s=pose.duration_s,
        attributes=list(meaning.attributes) if ok else None,
        window=(0.0, pose.duration_s),
    )
    m, s, e = row["movement"], row["subject"], row["episode"]
    return Sample(
        id=f"ui_prmd/{m}_{s}_{e}_{'correct' if ok else 'incorrect'}",
        source="ui_prmd",
        sport=MOVEMENTS[m],
        participant=s,
        commentary=[commentary],
        proficiency=meaning.level,
        meta={
            "subject": s,
            "movement": m,
            "episode": e,
            "correct": ok,
            "fps": FPS,
            "n_frames": len(pose),
            "view": view_name,
            "euler_order": euler_order,
            "label_description": meaning.description,
            "positions": str(row["positions"]),
            "angles": str(row["angles"]),
        },
        pose=pose,
    )
