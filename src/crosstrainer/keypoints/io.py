"""Load keypoints from files other pose estimators write, and save a ``PoseSequence``; see docs/keypoints.md.

Accepted inputs (the layout is inferred from the joint count J, or named with ``skeleton``):

* ``.npy``: a float array (T, J, 2) or (T, J, 3) of x, y[, confidence]; confidence 0 or NaN = not detected.
* CrossTrainer keypoints JSON: ``{"skeleton": "coco17", "fps": 30, "frames": [[[x, y, c], ...], ...]}``
  (optional ``"times_s": [...]``; a frame may be ``null`` or ``[]`` when nobody was detected).
* OpenPose JSON: one ``{"people": [{"pose_keypoints_2d": [x0, y0, c0, x1, ...]}]}`` file, or a folder of per-frame
  files (``*_keypoints.json``, sorted by name).
* MMPose / COCO-style predictions with several people per frame: a list of ``{"frame_id", "instances": [{"keypoints":
  [[x, y], ...], "keypoint_scores": [...]}]}`` (MMPose inferencer), ``{"instance_info": [...]}`` (MMPose demo), or a
  list of ``{"image_id", "keypoints": [x, y, s, ...], "score"}`` (COCO results; frames in image_id order).

With several people in a frame, the main person is the one with the largest (visible bbox area x mean confidence),
then followed over time by nearest-centre tracking (see ``pick_main_person``).

>>> pose = load_keypoints("clip.npy", fps=30)           # doctest: +SKIP
>>> pose.xy.shape, pose.meta["layout"]                  # doctest: +SKIP
((90, 17, 2), 'mediapipe33')
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.errors import InputNotFoundError, InvalidKeypointsError
from crosstrainer.fileio import atomic_write, atomic_write_text
from crosstrainer.keypoints.formats import LAYOUTS, from_ct17, infer_layout, resolve_layout, to_ct17
from crosstrainer.keypoints.skeleton import PoseSequence

DEFAULT_FPS = 30.0
"""Frame rate assumed for files that do not store one (npy, OpenPose, MMPose) when ``fps`` is not given."""

JSON_FORMAT_ID = "crosstrainer.keypoints/v1"
KEYPOINT_SUFFIXES = (".npy", ".json")
"""File suffixes read as keypoints (a folder of OpenPose ``*_keypoints.json`` files is read as keypoints too)."""


# ----------------------------------------------------------------------------------------------------------- loading
def load_keypoints(path: str | Path, skeleton: str | None = None, fps: float | None = None) -> PoseSequence:
    """Read a keypoint file (or a folder of OpenPose JSON files) into a CT17 ``PoseSequence``.

    ``skeleton`` names the layout (``mediapipe33``, ``coco17``, ``openpose18``, ``openpose25``, ``ct17``) when the
    joint count alone does not say it. ``fps`` overrides the file's frame rate; files without one (npy, OpenPose,
    MMPose) default to ``DEFAULT_FPS`` = 30 and ``meta["warnings"]`` says so. Coordinates keep their units (pixels or
    normalised); features normalise by body size. Raises ``InvalidKeypointsError`` with one line on bad input.
    """
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"keypoints not found: {p}")
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise InvalidKeypointsError(f"{p}: fps must be a positive number, got {fps}")
    times: np.ndarray | None = None
    file_fps: float | None = None
    if p.is_dir():
        files = sorted(p.glob("*.json"), key=_natural_key)
        if not files:
            raise InvalidKeypointsError(f"{p}: folder has no .json keypoint files")
        frames = [_openpose_people(_read_json(f), f) for f in files]
        array, layout = _main_person_array(frames, skeleton, p, fps or DEFAULT_FPS)
        kind = "openpose"
    elif p.suffix.lower() == ".npy":
        array = _read_npy(p)
        layout = infer_layout(array.shape[1], skeleton, what=str(p))
        kind = "npy"
    elif p.suffix.lower() == ".json":
        array, layout, kind, file_fps, times = _read_json_keypoints(p, skeleton, fps)
    else:
        raise InvalidKeypointsError(
            f"{p}: unsupported keypoints file type {p.suffix or '(none)'!r}; expected .npy, .json or a folder of .json"
        )
    if array.shape[0] == 0:
        raise InvalidKeypointsError(f"{p}: no frames (empty keypoint array)")
    xy, conf = to_ct17(array, layout)
    if not (conf > 0).any():
        raise InvalidKeypointsError(f"{p}: every keypoint is missing (confidence 0 or NaN in all {len(xy)} frames)")
    warnings: list[str] = []
    rate = fps or file_fps
    if rate is None:
        rate = DEFAULT_FPS
        warnings.append(f"{p.name}: no frame rate given; assumed {DEFAULT_FPS:g} fps (pass --fps)")
    if times is None or fps is not None:
        times = np.arange(len(xy)) / rate
    meta = {"layout": layout, "format": kind, "frames": len(xy), "warnings": warnings}
    return PoseSequence(xy=xy, conf=conf, times_s=times, fps=float(rate), source=str(p), meta=meta)


def _read_npy(p: Path) -> np.ndarray:
    try:
        a = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InvalidKeypointsError(f"{p}: not a readable .npy array ({str(e).splitlines()[0][:120]})") from None
    if not np.issubdtype(a.dtype, np.number):
        raise InvalidKeypointsError(f"{p}: array of dtype {a.dtype}; expected numbers")
    if a.ndim != 3 or a.shape[2] not in (2, 3):
        raise InvalidKeypointsError(f"{p}: array of shape {tuple(a.shape)}: expected (T, J, 2) or (T, J, 3)")
    if a.shape[0] == 0:
        raise InvalidKeypointsError(f"{p}: no frames (array of shape {tuple(a.shape)})")
    return a.astype(np.float32)


def _read_json(p: Path) -> Any:
    try:
        with open(p, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise InvalidKeypointsError(f"{p}: malformed JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except UnicodeDecodeError:
        raise InvalidKeypointsError(f"{p}: not a text JSON file") from None


def _read_json_keypoints(
    p: Path, skeleton: str | None, fps: float | None
) -> tuple[np.ndarray, str, str, float | None, np.ndarray | None]:
    """Dispatch on the JSON's shape; returns (array (T, J, 2|3), layout, kind, fps from file, times from file)."""
    data = _read_json(p)
    rate = fps or DEFAULT_FPS
    if isinstance(data, dict) and "frames" in data:
        return _crosstrainer_json(data, p, skeleton)
    if isinstance(data, dict) and "people" in data:
        array, layout = _main_person_array([_openpose_people(data, p)], skeleton, p, rate)
        return array, layout, "openpose", None, None
    if isinstance(data, dict) and isinstance(data.get("instance_info"), list):
        array, layout = _main_person_array(_mmpose_frames(data["instance_info"], p), skeleton, p, rate)
        return array, layout, "mmpose", None, None
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        array, layout = _main_person_array(_coco_frames(data["annotations"], p), skeleton, p, rate)
        return array, layout, "coco", None, None
    if isinstance(data, list) and data and all(isinstance(d, dict) for d in data):
        if any("instances" in d for d in data):
            array, layout = _main_person_array(_mmpose_frames(data, p), skeleton, p, rate)
            return array, layout, "mmpose", None, None
        if all("keypoints" in d for d in data):
            if any("image_id" in d for d in data):
                frames = _coco_frames(data, p)
            else:  # one image's instances
                frames = [[_instance_array(d, p) for d in data]]
            array, layout = _main_person_array(frames, skeleton, p, rate)
            return array, layout, "coco", None, None
    if isinstance(data, list) and not data:
        raise InvalidKeypointsError(f"{p}: empty JSON list (no frames)")
    raise InvalidKeypointsError(
        f"{p}: unrecognised keypoints JSON; expected a CrossTrainer {{'frames': ...}}, OpenPose {{'people': ...}}, "
        f"MMPose or COCO predictions (see docs/keypoints.md)"
    )


def _crosstrainer_json(
    data: dict, p: Path, skeleton: str | None
) -> tuple[np.ndarray, str, str, float | None, np.ndarray | None]:
    frames = data["frames"]
    if not isinstance(frames, list) or not frames:
        raise InvalidKeypointsError(f"{p}: 'frames' must be a non-empty list of frames")
    name = skeleton or data.get("skeleton")
    lengths = {len(f) for f in frames if f}
    if not lengths:
        raise InvalidKeypointsError(f"{p}: every keypoint is missing (all {len(frames)} frames are empty)")
    if len(lengths) > 1:
        raise InvalidKeypointsError(f"{p}: frames have different joint counts {sorted(lengths)}")
    nj = lengths.pop()
    layout = infer_layout(nj, name, what=str(p))
    rows = []
    for i, f in enumerate(frames):
        if not f:
            rows.append(np.full((nj, 3), np.nan, np.float32))
            continue
        try:
            a = np.asarray(f, dtype=np.float32)
        except (ValueError, TypeError):
            raise InvalidKeypointsError(f"{p}: frame {i} is not a list of [x, y] or [x, y, c] numbers") from None
        if a.ndim != 2 or a.shape[1] not in (2, 3):
            raise InvalidKeypointsError(f"{p}: frame {i} has shape {a.shape}: expected (J, 2) or (J, 3)")
        if a.shape[1] == 2:
            a = np.concatenate([a, np.isfinite(a).all(1, keepdims=True).astype(np.float32)], axis=1)
        rows.append(a)
    array = np.stack(rows)
    file_fps = data.get("fps")
    if file_fps is not None and not (isinstance(file_fps, (int, float)) and file_fps > 0):
        raise InvalidKeypointsError(f"{p}: 'fps' must be a positive number, got {file_fps!r}")
    times = data.get("times_s")
    if times is not None:
        times = np.asarray(times, dtype=np.float64)
        if times.shape != (len(frames),) or not np.all(np.diff(times) > 0):
            raise InvalidKeypointsError(f"{p}: 'times_s' must list one increasing time per frame")
    return array, layout, "crosstrainer", float(file_fps) if file_fps else None, times


def _flat_to_joints(values: Any, p: Path, what: str) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=np.float32)
    except (ValueError, TypeError):
        raise InvalidKeypointsError(f"{p}: {what} is not a list of numbers") from None
    if a.ndim == 1:
        if a.size == 0 or a.size % 3:
            raise InvalidKeypointsError(f"{p}: {what} has {a.size} numbers; expected x, y, c triples")
        a = a.reshape(-1, 3)
    if a.ndim != 2 or a.shape[1] not in (2, 3):
        raise InvalidKeypointsError(f"{p}: {what} has shape {a.shape}: expected (J, 2) or (J, 3)")
    return a


def _openpose_people(data: Any, p: Path) -> list[np.ndarray]:
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise InvalidKeypointsError(f"{p}: not an OpenPose keypoints JSON (no 'people' list)")
    out = []
    for person in data["people"]:
        kp = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if kp:
            out.append(_flat_to_joints(kp, p, "pose_keypoints_2d"))
    return out


def _instance_array(inst: dict, p: Path) -> np.ndarray:
    """One MMPose/COCO instance: ``keypoints`` (J, 2) + ``keypoint_scores`` (J,), or a flat x, y, s list."""
    kp = _flat_to_joints(inst.get("keypoints"), p, "keypoints")
    if kp.shape[1] == 2:
        scores = inst.get("keypoint_scores")
        if scores is None:
            s = np.ones((len(kp), 1), np.float32)
        else:
            s = np.asarray(scores, dtype=np.float32).reshape(-1, 1)
            if len(s) != len(kp):
                raise InvalidKeypointsError(f"{p}: {len(kp)} keypoints but {len(s)} keypoint_scores")
        kp = np.concatenate([kp, s], axis=1)
    return kp


def _mmpose_frames(entries: list, p: Path) -> list[list[np.ndarray]]:
    """MMPose ``[{"frame_id": 0, "instances": [...]}, ...]``; integer frame ids give empty frames for gaps."""
    ids = [e.get("frame_id") for e in entries if isinstance(e, dict)]
    by_frame: dict[int, list[np.ndarray]] = {}
    use_ids = all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids)
    for k, e in enumerate(entries):
        if not isinstance(e, dict):
            raise InvalidKeypointsError(f"{p}: frame entry {k} is not an object")
        key = e["frame_id"] if use_ids else k
        by_frame[key] = [_instance_array(inst, p) for inst in e.get("instances") or []]
    if not by_frame:
        raise InvalidKeypointsError(f"{p}: no frames")
    lo, hi = min(by_frame), max(by_frame)
    return [by_frame.get(i, []) for i in range(lo, hi + 1)]


def _coco_frames(entries: list, p: Path) -> list[list[np.ndarray]]:
    """COCO results/annotations: one entry per person, grouped by ``image_id`` (frames in sorted id order)."""
    groups: dict[Any, list[np.ndarray]] = {}
    for d in entries:
        if not isinstance(d, dict) or "keypoints" not in d:
            raise InvalidKeypointsError(f"{p}: COCO entry without 'keypoints'")
        groups.setdefault(d.get("image_id"), []).append(_instance_array(d, p))
    return [groups[k] for k in sorted(groups, key=lambda k: _natural_key(str(k)))]


def _natural_key(x: Any) -> list:
    s = x.name if isinstance(x, Path) else str(x)
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


# ------------------------------------------------------------------------------------------------------ main person
def _person_stats(kp: np.ndarray) -> tuple[float, np.ndarray, float] | None:
    """(score, centre, size) of one person (J, 3), or None with fewer than 2 visible joints."""
    vis = (kp[:, 2] > 0) & np.isfinite(kp[:, :2]).all(1)
    if vis.sum() < 2:
        return None
    pts = kp[vis, :2]
    w, h = np.ptp(pts[:, 0]), np.ptp(pts[:, 1])
    area = float(w * h)
    score = area * float(np.clip(kp[:, 2], 0, 1)[vis].sum() / len(kp))
    return score, pts.mean(0), float(np.hypot(w, h))


def pick_main_person(frames: list[list[np.ndarray]], fps: float = DEFAULT_FPS, relock_s: float = 1.0) -> np.ndarray:
    """Choose one person per frame from ``frames[t] = [person (J, 3), ...]``; returns (T, J, 3) (NaN when absent).

    The first frame with people takes the highest (visible bbox area x mean confidence). Each next frame takes the
    person whose centre (mean of visible joints) is nearest the last chosen centre, if it lies within 0.75 body
    diagonals; otherwise the frame is left empty. After ``relock_s`` seconds without a match the choice restarts from
    the best score (the main person left and someone else is now the subject).
    """
    nj = next((len(person) for people in frames for person in people), 0)
    if nj == 0:
        raise InvalidKeypointsError("no person in any frame")
    out = np.full((len(frames), nj, 3), np.nan, np.float32)
    out[..., 2] = 0.0
    last_c: np.ndarray | None = None
    last_size = 0.0
    lost = 0
    for t, people in enumerate(frames):
        stats = [(i, s) for i, kp in enumerate(people) if len(kp) == nj and (s := _person_stats(kp)) is not None]
        if not stats:
            lost += 1
            continue
        if last_c is None or lost > relock_s * fps:
            i, (_, c, size) = max(stats, key=lambda x: x[1][0])
        else:
            i, (_, c, size) = min(stats, key=lambda x: float(np.linalg.norm(x[1][1] - last_c)))
            if np.linalg.norm(c - last_c) > 0.75 * max(last_size, size, 1e-6):
                lost += 1
                continue
        out[t] = people[i]
        last_c, last_size, lost = c, size, 0
    return out


def _main_person_array(
    frames: list[list[np.ndarray]], skeleton: str | None, p: Path, fps: float
) -> tuple[np.ndarray, str]:
    counts = {len(kp) for people in frames for kp in people}
    if not counts:
        raise InvalidKeypointsError(f"{p}: no person in any of {len(frames)} frames")
    if len(counts) > 1:
        raise InvalidKeypointsError(f"{p}: people have different joint counts {sorted(counts)}")
    layout = infer_layout(counts.pop(), skeleton, what=str(p))
    try:
        array = pick_main_person(frames, fps)
    except InvalidKeypointsError as e:
        raise InvalidKeypointsError(f"{p}: {e}") from None
    return array, layout


# ------------------------------------------------------------------------------------------------------------ saving
def save_keypoints(pose: PoseSequence, path: str | Path, layout: str | None = None) -> Path:
    """Write ``pose`` (atomically) as ``.npy`` or CrossTrainer ``.json``; ``load_keypoints`` reads it back the same.

    ``.npy``: (T, J, 3) float32 of x, y, confidence in ``layout`` (default ``mediapipe33``, J=33, so the file is also
    valid MediaPipe-33 data; joints CT17 lacks are NaN with confidence 0). An npy stores no frame rate: pass
    ``fps=pose.fps`` when loading. ``.json``: ``{"format", "skeleton": "ct17", "fps", "times_s", "frames"}`` keeps
    everything, including uneven frame times (default layout ``ct17``).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        with atomic_write(path, "wb") as fh:
            np.save(fh, from_ct17(pose.xy, pose.conf, layout or "mediapipe33"))
    elif suffix == ".json":
        layout = resolve_layout(layout or "ct17")
        arr = from_ct17(pose.xy, pose.conf, layout)
        frames = [[[_num(x), _num(y), _num(c)] for x, y, c in frame] for frame in arr.tolist()]
        doc = {
            "format": JSON_FORMAT_ID,
            "skeleton": layout,
            "joints": list(LAYOUTS[layout]),
            "fps": float(pose.fps),
            "times_s": [float(t) for t in pose.times_s],
            "source": pose.source,
            "frames": frames,
        }
        atomic_write_text(path, json.dumps(doc, separators=(",", ":")))
    else:
        raise InvalidKeypointsError(f"{path}: can only save .npy or .json keypoints, not {suffix or '(no suffix)'!r}")
    return path


def _num(v: float) -> float | None:
    """JSON has no NaN: missing coordinates are written as null (read back as NaN)."""
    return None if v != v else v
