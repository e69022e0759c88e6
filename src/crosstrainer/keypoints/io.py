"""Load keypoints from files other pose estimators write, and save a ``PoseSequence``; see docs/keypoints.md.

Accepted inputs (the layout is inferred from the joint count J, or named with ``skeleton``):

* ``.npy``: a real-number array (T, J, 2|3|4): x, y[, confidence] (x, y, z for ``skeleton="mediapipe33"`` with 3
  values; x, y, z, confidence with 4; ``channels`` overrides); confidence 0 or NaN = not detected.
* CrossTrainer keypoints JSON: ``{"skeleton": "coco17", "fps": 30, "frames": [[[x, y, c], ...], ...]}``
  (optional ``"times_s": [...]``; a frame may be ``null`` or ``[]`` when nobody was detected).
* OpenPose JSON: one ``{"people": [{"pose_keypoints_2d": [x0, y0, c0, x1, ...]}]}`` file, or a folder of per-frame
  files (``*_keypoints.json``, sorted by name).
* MMPose / COCO-style predictions with several people per frame: a list of ``{"frame_id", "instances": [{"keypoints":
  [[x, y], ...], "keypoint_scores": [...]}]}`` (MMPose inferencer), ``{"meta_info": {...}, "instance_info": [...]}``
  (MMPose demo; one image gives a flat list of instances; ``meta_info.keypoint_id2name`` names the joints), or a list
  of ``{"image_id", "keypoints": [x, y, s, ...], "score"}`` (COCO results; frames in image_id order).

Hostile or oversized files are refused with ``InvalidKeypointsError`` before they can use much memory or time
(``ReadLimits``): JSON nesting deeper than 32, a JSON with more values than ``max_frames`` frames could need (checked
by a streaming scan before parsing), a ``.npy`` whose header declares more data than the file holds, more than
``max_frames`` frames (default 108,000: 1 h at 30 fps) or more than ``max_duration_s`` (default 3600 s), non-real
dtypes (complex, object, strings, bools), and infinite values (missing points are NaN, ``null`` or confidence 0).

With several people in a frame, the main person is the one with the largest (visible bbox area x mean confidence),
then followed over time by nearest-centre tracking (see ``pick_main_person``).

>>> pose = load_keypoints("clip.npy", fps=30)           # doctest: +SKIP
>>> pose.xy.shape, pose.meta["layout"]                  # doctest: +SKIP
((90, 17, 2), 'mediapipe33')
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.errors import InputNotFoundError, InvalidKeypointsError
from crosstrainer.fileio import atomic_write, atomic_write_text
from crosstrainer.keypoints.formats import (
    LAYOUTS,
    Layout,
    check_channels,
    default_channels,
    from_ct17,
    infer_layout,
    resolve_layout,
    to_ct17,
)
from crosstrainer.keypoints.skeleton import JOINTS, PoseSequence

DEFAULT_FPS = 30.0
"""Frame rate assumed for files that do not store one (npy, OpenPose, MMPose) when ``fps`` is not given."""
MAX_FPS = 10_000.0
"""The highest frame rate accepted (from ``fps`` or a file): anything above is a corrupt value, not a camera."""

JSON_FORMAT_ID = "crosstrainer.keypoints/v1"
KEYPOINT_SUFFIXES = (".npy", ".json", ".npz")
"""File suffixes read as keypoints (a folder of OpenPose ``*_keypoints.json`` files is read as keypoints too); ``.npz``
holds 3-D joints (``keypoints.world``)."""


@dataclass(frozen=True)
class ReadLimits:
    """Bounds that keep a hostile or mistaken keypoint file from using unbounded memory or time.

    ``max_frames`` (CLI ``--max-frames``) and ``max_duration_s`` (``--max-duration``) bound what a file may hold.
    A JSON file is scanned (streaming, without building it) before it is parsed: nesting deeper than
    ``max_json_depth``, more than ``max_frames * json_values_per_frame`` values (numbers, separators) or more than
    ``max_frames * json_bytes_per_frame`` bytes are refused, so a file far beyond ``max_frames`` is refused in about
    a second and never parsed. Each file of an OpenPose folder (one frame) may hold ``frame_file_values`` values.
    """

    max_frames: int = 108_000
    max_duration_s: float = 3600.0
    max_json_depth: int = 32
    json_values_per_frame: int = 200
    json_bytes_per_frame: int = 4096
    frame_file_values: int = 200_000

    def __post_init__(self) -> None:
        if not (isinstance(self.max_frames, int) and self.max_frames > 0):
            raise InvalidKeypointsError(f"max frames must be a positive whole number, got {self.max_frames!r}")
        if not (np.isfinite(self.max_duration_s) and self.max_duration_s > 0):
            raise InvalidKeypointsError(f"max duration must be a positive number of seconds, got {self.max_duration_s}")

    @property
    def max_json_values(self) -> int:
        return self.max_frames * self.json_values_per_frame

    @property
    def max_json_bytes(self) -> int:
        return self.max_frames * self.json_bytes_per_frame


_DEFAULTS: dict[str, Any] = {"limits": ReadLimits(), "channels": None}


def set_read_defaults(
    max_frames: int | None = None, max_duration_s: float | None = None, channels: str | None = None
) -> ReadLimits:
    """Set what ``load_keypoints`` uses when a call does not pass ``limits``/``channels`` (the CLI options).

    Every argument left ``None`` goes back to its default, so each ``crosstrainer assess`` run starts clean.
    """
    from crosstrainer.errors import UsageError

    try:
        limits = ReadLimits()
        if max_frames is not None:
            limits = replace(limits, max_frames=max_frames)
        if max_duration_s is not None:
            limits = replace(limits, max_duration_s=max_duration_s)
        checked = check_channels(channels) if channels else None
    except InvalidKeypointsError as e:
        raise UsageError(str(e)) from None
    _DEFAULTS["limits"] = limits
    _DEFAULTS["channels"] = checked
    return limits


# ----------------------------------------------------------------------------------------------------------- loading
def load_keypoints(
    path: str | Path,
    skeleton: str | None = None,
    fps: float | None = None,
    *,
    channels: str | None = None,
    limits: ReadLimits | None = None,
) -> PoseSequence:
    """Read a keypoint file (or a folder of OpenPose JSON files) into a CT17 ``PoseSequence``.

    ``skeleton`` names the layout (``mediapipe33``, ``coco17``, ``openpose18``, ``openpose25``, ``openpose25b``,
    ``ct17``) when the joint count alone does not say it (J = 25 always needs it). ``channels`` (``xy``, ``xyc``,
    ``xyz``, ``xyzc``) says what the values per joint of a ``.npy`` or CrossTrainer JSON are; by default 2 -> xy,
    3 -> xyc (xyz with ``skeleton="mediapipe33"``), 4 -> xyzc. ``fps`` overrides the file's frame rate; files without
    one (npy, OpenPose, MMPose) default to ``DEFAULT_FPS`` = 30 and ``meta["warnings"]`` says so. ``limits`` bounds
    the file (``ReadLimits``; default: ``set_read_defaults``). Coordinates keep their units (pixels or normalised);
    features normalise by body size. Raises ``InvalidKeypointsError`` with one line on bad input.
    """
    p = Path(path)
    limits = limits or _DEFAULTS["limits"]
    if channels is None:
        channels = _DEFAULTS["channels"]
    if channels is not None:
        channels = check_channels(channels)
    if not p.exists():
        raise InputNotFoundError(f"keypoints not found: {p}")
    if fps is not None:
        _check_fps(fps, p, "fps")
    if p.suffix.lower() == ".npz":  # 3-D joints, turned to face the camera and projected (keypoints.world)
        from crosstrainer.keypoints.world import read_world_npz

        _no_channels(channels, "a 3-D .npz (always x, y, z)")
        pose = read_world_npz(p, fps, skeleton, max_frames=limits.max_frames)
        if pose.duration_s > limits.max_duration_s:
            raise InvalidKeypointsError(
                f"{p}: {_hours(pose.duration_s)} of keypoints is longer than the limit of "
                f"{_hours(limits.max_duration_s)}; pass --max-duration SECONDS to allow more"
            )
        return pose
    named = resolve_layout(skeleton) if skeleton else None
    times: np.ndarray | None = None
    file_fps: float | None = None
    label: str | None = None
    if p.is_dir():
        _no_channels(channels, "an OpenPose folder")
        array, layout = _read_openpose_folder(p, named, fps or DEFAULT_FPS, limits)
        kind, chans = "openpose", "xyc"
    elif p.suffix.lower() == ".npy":
        array = _read_npy(p, named, limits)
        layout = infer_layout(array.shape[1], named, what=str(p))
        chans = channels or default_channels(array.shape[2], named)
        kind = "npy"
    elif p.suffix.lower() == ".json":
        array, layout, kind, file_fps, times, chans, label = _read_json_keypoints(p, named, fps, channels, limits)
    else:
        raise InvalidKeypointsError(
            f"{p}: unsupported keypoints file type {p.suffix[:20] or '(none)'!r}; expected .npy, .json or a folder "
            f"of .json"
        )
    if array.shape[0] == 0:
        raise InvalidKeypointsError(f"{p}: no frames (empty keypoint array)")
    _check_frames(len(array), p, limits)
    xy, conf = to_ct17(array, layout, chans)
    if not (conf > 0).any():
        raise InvalidKeypointsError(f"{p}: every keypoint is missing (confidence 0 or NaN in all {len(xy)} frames)")
    warnings: list[str] = []
    rate = fps or file_fps
    if rate is None:
        rate = DEFAULT_FPS
        warnings.append(f"{p.name}: no frame rate given; assumed {DEFAULT_FPS:g} fps (pass --fps)")
    if times is None or fps is not None:
        times = np.arange(len(xy)) / rate
    duration = float(times[-1] - times[0]) + 1.0 / rate
    if duration > limits.max_duration_s:
        raise InvalidKeypointsError(
            f"{p}: {_hours(duration)} of keypoints ({len(xy):,} frames at {rate:g} fps) is longer than the limit of "
            f"{_hours(limits.max_duration_s)}; pass --max-duration SECONDS to allow more"
        )
    meta = {
        "layout": label or (layout if isinstance(layout, str) else "custom"),
        "format": kind,
        "channels": chans,
        "frames": len(xy),
        "warnings": warnings,
    }
    return PoseSequence(xy=xy, conf=conf, times_s=times, fps=float(rate), source=str(p), meta=meta)


def _hours(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def _check_fps(value: Any, p: Path, what: str) -> float:
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    if not (ok and np.isfinite(value) and 0 < value <= MAX_FPS):
        shown = value if ok else type(value).__name__
        raise InvalidKeypointsError(f"{p}: {what} must be a positive number up to {MAX_FPS:g}, got {shown!r}")
    return float(value)


def _check_frames(n: int, p: Path, limits: ReadLimits, what: str = "frames") -> None:
    if n > limits.max_frames:
        raise InvalidKeypointsError(
            f"{p}: {n:,} {what}, more than the limit of {limits.max_frames:,} frames; pass --max-frames N to allow more"
        )


def _no_channels(channels: str | None, what: str) -> None:
    if channels:
        raise InvalidKeypointsError(
            f"--channels applies to .npy and CrossTrainer JSON files; {what} stores x, y, confidence"
        )


def _as_float32(values: Any, p: Path, what: str) -> np.ndarray:
    """``values`` (nested lists of numbers, ``None`` = missing) as float32; infinite values are refused."""
    if not isinstance(values, (list, tuple, np.ndarray)):
        raise InvalidKeypointsError(f"{p}: {what} is not a list of numbers")
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            a = np.asarray(values, dtype=np.float32)
    except (ValueError, TypeError, OverflowError):
        raise InvalidKeypointsError(f"{p}: {what} is not a list of numbers") from None
    _refuse_inf(a, p, what)
    return a


def _refuse_inf(a: np.ndarray, p: Path, what: str) -> None:
    inf = np.isinf(a)
    if inf.any():
        where = f" (first in frame {int(np.argwhere(inf)[0][0])})" if a.ndim == 3 else ""
        raise InvalidKeypointsError(
            f"{p}: {what} holds {int(inf.sum()):,} infinite or out-of-range value(s){where}; mark a missing point "
            f"with NaN (JSON null) or confidence 0"
        )


def _read_npy(p: Path, named: str | None, limits: ReadLimits) -> np.ndarray:
    """The array, after checking its header (dtype, shape, size on disk, limits) without allocating the data."""
    size = p.stat().st_size
    try:
        with open(p, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                shape, _fortran, dtype = np.lib.format._read_array_header(f, version)
            offset = f.tell()
    except Exception as e:  # a malformed header can fail in many ways (ValueError, SyntaxError, ...): all unreadable
        first = (str(e).splitlines() or [type(e).__name__])[0][:120]
        raise InvalidKeypointsError(f"{p}: not a readable .npy array ({first})") from None
    if dtype.hasobject:
        raise InvalidKeypointsError(f"{p}: array of Python objects (pickled data is never loaded); expected numbers")
    if dtype.kind not in "iuf" or dtype.subdtype is not None:
        what = {"c": "complex numbers", "b": "booleans", "U": "strings", "S": "bytes"}.get(dtype.kind, str(dtype))
        raise InvalidKeypointsError(f"{p}: array of {what} (dtype {dtype}); expected real numbers (float or int)")
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or shape[2] not in (2, 3, 4):
        raise InvalidKeypointsError(f"{p}: array of shape {shape}: expected (T, J, 2), (T, J, 3) or (T, J, 4)")
    if shape[0] == 0:
        raise InvalidKeypointsError(f"{p}: no frames (array of shape {shape})")
    _check_frames(shape[0], p, limits)
    infer_layout(shape[1], named, what=str(p))  # an unknown joint count fails before any data is read
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size - offset < need:
        raise InvalidKeypointsError(
            f"{p}: header declares shape {shape} of {dtype} ({need:,} bytes of data) but the file holds only "
            f"{max(size - offset, 0):,}: truncated or corrupt"
        )
    try:
        a = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InvalidKeypointsError(f"{p}: not a readable .npy array ({str(e).splitlines()[0][:120]})") from None
    with np.errstate(over="ignore", invalid="ignore"):
        a = a.astype(np.float32)
    _refuse_inf(a, p, "the array")
    return a


_KEEP_BRACKETS = bytes(i for i in range(256) if i not in b"[]{}")  # bytes.translate deletes all but these
_KEEP_STRUCTURE = bytes(i for i in range(256) if i not in b'[]{},"')


def scan_json(
    path: str | Path, max_depth: int, max_values: int, max_bytes: int, chunk_bytes: int = 1 << 20
) -> str | None:
    """Why the JSON file is too deep or too big to parse, or ``None``; reads it in 1 MiB chunks, builds nothing.

    Counts values as separators and opened containers outside strings (string escapes are followed, so a ``[``
    or ``,`` inside a string does not count) and tracks the nesting depth; stops at the first bound passed. Malformed
    JSON is left to the parser. About 150 MB/s: a chunk without strings is counted with ``bytes`` methods.
    """
    p = Path(path)
    size = p.stat().st_size
    if size > max_bytes:
        return f"file of {size:,} bytes is larger than the {max_bytes:,} allowed for keypoints"
    state = {"in_string": 0, "slashes": 0, "depth": 0, "values": 0}
    with open(p, "rb") as f:
        while chunk := f.read(chunk_bytes):
            if b"\\" in chunk or state["slashes"]:
                deepest = _scan_escaped(chunk, state)
            elif not state["in_string"] and b'"' not in chunk:  # numbers and brackets only: the common case
                state["values"] += chunk.count(b",") + chunk.count(b"[") + chunk.count(b"{")
                deepest = _deepest(np.frombuffer(chunk.translate(None, _KEEP_BRACKETS), np.uint8), state)
            else:
                ev = np.frombuffer(chunk.translate(None, _KEEP_STRUCTURE), np.uint8)
                deepest = _scan_events(ev, ev == 34, state)
            if deepest > max_depth:
                return f"JSON nested more than {max_depth} levels deep (keypoint files need at most 6)"
            if state["values"] > max_values:
                return f"too large to read: more than {max_values:,} JSON values, beyond what the frame limit allows"
    return None


def _deepest(brackets: np.ndarray, state: dict) -> int:
    """Update ``state["depth"]`` over a run of bracket bytes outside strings; the deepest level reached."""
    if not len(brackets):
        return state["depth"]
    step = ((brackets == 91) | (brackets == 123)).astype(np.int32) * 2 - 1
    levels = state["depth"] + np.cumsum(step, dtype=np.int64)
    state["depth"] = int(levels[-1])
    return int(levels.max())


def _scan_events(ev: np.ndarray, quotes: np.ndarray, state: dict) -> int:
    """Structural bytes ``ev`` (brackets, commas, quotes) with the unescaped ``quotes`` marked: count and nest."""
    parity = (np.cumsum(quotes, dtype=np.int64) + state["in_string"]) % 2
    if len(parity):
        state["in_string"] = int(parity[-1])
    outside = (parity == 0) & ~quotes
    state["values"] += int(np.count_nonzero((ev == 44) & outside))
    brackets = ev[outside & (ev != 44)]
    state["values"] += int(np.count_nonzero((brackets == 91) | (brackets == 123)))
    return _deepest(brackets, state)


def _scan_escaped(chunk: bytes, state: dict) -> int:
    """A chunk with backslashes: a quote is escaped when an odd run of backslashes precedes it (byte by byte)."""
    b = np.frombuffer(chunk, np.uint8)
    n = len(b)
    bs = b == 92
    idx = np.arange(n, dtype=np.int64)
    last_plain = np.maximum.accumulate(np.where(bs, -1, idx))
    run = np.empty(n, np.int64)  # backslashes right before each byte
    run[0] = state["slashes"]
    prev = last_plain[:-1]
    run[1:] = np.where(prev < 0, idx[1:] + state["slashes"], idx[1:] - 1 - prev)
    state["slashes"] = state["slashes"] + n if last_plain[-1] < 0 else n - 1 - int(last_plain[-1])
    structural = (b == 91) | (b == 93) | (b == 123) | (b == 125) | (b == 44) | (b == 34)
    quotes = (b == 34) & (run % 2 == 0)
    return _scan_events(b[structural], quotes[structural], state)


def _read_json(p: Path, limits: ReadLimits, one_frame: bool = False) -> Any:
    """The parsed JSON, after ``scan_json`` bounds: ``one_frame`` for a file of an OpenPose folder."""
    if one_frame:
        max_values, max_bytes = limits.frame_file_values, limits.frame_file_values * 32
    else:
        max_values, max_bytes = limits.max_json_values, limits.max_json_bytes
    problem = scan_json(p, limits.max_json_depth, max_values, max_bytes)
    if problem:
        hint = "" if problem.startswith("JSON nested") else "; pass --max-frames N to allow more"
        raise InvalidKeypointsError(f"{p}: {problem}{hint}")
    try:
        with open(p, encoding="utf-8-sig") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise InvalidKeypointsError(f"{p}: malformed JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except UnicodeDecodeError:
        raise InvalidKeypointsError(f"{p}: not a text JSON file (not UTF-8)") from None
    except RecursionError:
        raise InvalidKeypointsError(f"{p}: JSON nested too deeply") from None
    except ValueError as e:  # e.g. an integer literal of more than 4300 digits
        raise InvalidKeypointsError(f"{p}: malformed JSON ({str(e).splitlines()[0][:120]})") from None


def _read_openpose_folder(p: Path, named: str | None, fps: float, limits: ReadLimits) -> tuple[np.ndarray, Layout]:
    files = []
    for f in p.iterdir():
        if f.suffix.lower() == ".json" and not f.name.startswith(".") and f.is_file():
            files.append(f)
            _check_frames(len(files), p, limits, "frame files (or more)")
    if not files:
        raise InvalidKeypointsError(f"{p}: folder has no .json keypoint files")
    files.sort(key=_natural_key)
    frames = [_openpose_people(_read_json(f, limits, one_frame=True), f) for f in files]
    return _main_person_array(frames, named, p, fps)


def _read_json_keypoints(
    p: Path, named: str | None, fps: float | None, channels: str | None, limits: ReadLimits
) -> tuple[np.ndarray, Layout, str, float | None, np.ndarray | None, str, str | None]:
    """Dispatch on the JSON's shape.

    Returns (array (T, J, C), layout, kind, fps from file, times from file, channels, layout label or None).
    """
    data = _read_json(p, limits)
    rate = fps or DEFAULT_FPS
    if isinstance(data, dict) and "frames" in data:
        return _crosstrainer_json(data, p, named, channels, limits)
    _no_channels(channels, "an OpenPose, MMPose or COCO file")
    if isinstance(data, dict) and "people" in data:
        array, layout = _main_person_array([_openpose_people(data, p)], named, p, rate)
        return array, layout, "openpose", None, None, "xyc", None
    if isinstance(data, dict) and "instance_info" in data:
        names, label = _mmpose_meta_names(data.get("meta_info"), p)
        if not isinstance(data["instance_info"], list):
            raise InvalidKeypointsError(f"{p}: 'instance_info' must be a list (of frames or of instances)")
        frames = _mmpose_frames(data["instance_info"], p, limits)
        array, layout = _main_person_array(frames, named, p, rate, names)
        return array, layout, "mmpose", None, None, "xyc", None if named else label
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        array, layout = _main_person_array(_coco_frames(data["annotations"], p, limits), named, p, rate)
        return array, layout, "coco", None, None, "xyc", None
    if isinstance(data, list) and data and all(isinstance(d, dict) for d in data):
        if any("instances" in d for d in data):
            array, layout = _main_person_array(_mmpose_frames(data, p, limits), named, p, rate)
            return array, layout, "mmpose", None, None, "xyc", None
        if all("keypoints" in d for d in data):
            if any("image_id" in d for d in data):
                frames = _coco_frames(data, p, limits)
            else:  # one image's instances
                frames = [[_instance_array(d, p) for d in data]]
            array, layout = _main_person_array(frames, named, p, rate)
            return array, layout, "coco", None, None, "xyc", None
    if isinstance(data, list) and not data:
        raise InvalidKeypointsError(f"{p}: empty JSON list (no frames)")
    raise InvalidKeypointsError(
        f"{p}: unrecognised keypoints JSON; expected a CrossTrainer {{'frames': ...}}, OpenPose {{'people': ...}}, "
        f"MMPose or COCO predictions (see docs/keypoints.md)"
    )


def _crosstrainer_json(
    data: dict, p: Path, named: str | None, channels: str | None, limits: ReadLimits
) -> tuple[np.ndarray, Layout, str, float | None, np.ndarray | None, str, str | None]:
    frames = data["frames"]
    if not isinstance(frames, list) or not frames:
        raise InvalidKeypointsError(f"{p}: 'frames' must be a non-empty list of frames")
    _check_frames(len(frames), p, limits)
    name = named
    if name is None and data.get("skeleton") is not None:
        if not isinstance(data["skeleton"], str):
            raise InvalidKeypointsError(f"{p}: 'skeleton' must be a layout name such as \"coco17\"")
        name = resolve_layout(data["skeleton"])
    for i, f in enumerate(frames):
        if f is not None and not isinstance(f, list):
            raise InvalidKeypointsError(f"{p}: frame {i} is not a list of joints (or null)")
    lengths = {len(f) for f in frames if f}
    if not lengths:
        raise InvalidKeypointsError(f"{p}: every keypoint is missing (all {len(frames)} frames are empty)")
    if len(lengths) > 1:
        raise InvalidKeypointsError(f"{p}: frames have different joint counts {sorted(lengths)[:5]}")
    nj = lengths.pop()
    layout = infer_layout(nj, name, what=str(p))
    width = len(channels) if channels else None
    rows: list[np.ndarray | None] = []
    for i, f in enumerate(frames):
        if not f:
            rows.append(None)
            continue
        a = _as_float32(f, p, f"frame {i}")
        if a.ndim != 2 or a.shape[1] not in (2, 3, 4):
            raise InvalidKeypointsError(f"{p}: frame {i} has shape {a.shape}: expected (J, 2), (J, 3) or (J, 4)")
        if width is not None and a.shape[1] != width:
            raise InvalidKeypointsError(
                f"{p}: frame {i} has {a.shape[1]} values per joint, --channels {channels} says {width}"
            )
        if width is None and a.shape[1] == 2:  # [x, y] pairs: confidence 1 where the point is given
            a = np.concatenate([a, np.isfinite(a).all(1, keepdims=True).astype(np.float32)], axis=1)
        rows.append(a)
    widths = {r.shape[1] for r in rows if r is not None}
    if len(widths) > 1:
        raise InvalidKeypointsError(f"{p}: frames have different numbers of values per joint {sorted(widths)}")
    c = widths.pop()
    array = np.stack([np.full((nj, c), np.nan, np.float32) if r is None else r for r in rows])
    chans = channels or default_channels(c)
    file_fps = data.get("fps")
    if file_fps is not None:
        file_fps = _check_fps(file_fps, p, "'fps'")
    times = data.get("times_s")
    if times is not None:
        if not isinstance(times, list):
            raise InvalidKeypointsError(f"{p}: 'times_s' must list one increasing time per frame")
        try:
            times = np.asarray(times, dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            raise InvalidKeypointsError(f"{p}: 'times_s' must list one increasing time per frame") from None
        if times.shape != (len(frames),) or not np.isfinite(times).all() or not np.all(np.diff(times) > 0):
            raise InvalidKeypointsError(f"{p}: 'times_s' must list one increasing (finite) time per frame")
    return array, layout, "crosstrainer", file_fps, times, chans, None


def _flat_to_joints(values: Any, p: Path, what: str) -> np.ndarray:
    a = _as_float32(values, p, what)
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


def _instance_array(inst: Any, p: Path) -> np.ndarray:
    """One MMPose/COCO instance as (J, 3) x, y, score.

    MMPose: ``keypoints`` (J, 2) with ``keypoint_scores`` (J,); its 3-D demos write (J, 3) x, y, z keypoints with
    ``keypoint_scores``, z dropped. COCO: a flat x, y, s list.
    """
    if not isinstance(inst, dict):
        raise InvalidKeypointsError(f"{p}: an instance is not an object with 'keypoints'")
    raw = inst.get("keypoints")
    kp = _flat_to_joints(raw, p, "keypoints")
    nested = isinstance(raw, list) and bool(raw) and isinstance(raw[0], list)
    scores = inst.get("keypoint_scores")
    if scores is not None and nested:
        s = _as_float32(scores, p, "keypoint_scores").reshape(-1, 1)
        if len(s) != len(kp):
            raise InvalidKeypointsError(f"{p}: {len(kp)} keypoints but {len(s)} keypoint_scores")
        return np.concatenate([kp[:, :2], s], axis=1)
    if kp.shape[1] == 2:
        kp = np.concatenate([kp, np.ones((len(kp), 1), np.float32)], axis=1)
    return kp


def _mmpose_meta_names(meta: Any, p: Path) -> tuple[Layout | None, str | None]:
    """The layout MMPose's ``meta_info`` (its ``dataset_meta``) names: a known layout, or the joint names; with
    a label such as ``mmpose:coco_wholebody``. ``(None, None)`` when there is no usable ``keypoint_id2name``."""
    if not isinstance(meta, dict):
        return None, None
    id2name = meta.get("keypoint_id2name")
    if not isinstance(id2name, dict) or not id2name:
        return None, None
    try:
        ids = sorted(int(k) for k in id2name)
    except (ValueError, TypeError):
        raise InvalidKeypointsError(f"{p}: meta_info.keypoint_id2name must map joint numbers to names") from None
    names = tuple(id2name.get(str(i), id2name.get(i)) for i in range(len(ids)))
    if ids != list(range(len(ids))) or not all(isinstance(n, str) for n in names):
        raise InvalidKeypointsError(f"{p}: meta_info.keypoint_id2name must map joint numbers 0..J-1 to names")
    dataset = meta.get("dataset_name")
    label = f"mmpose:{dataset[:40]}" if isinstance(dataset, str) and dataset else "mmpose"
    for name, layout_joints in LAYOUTS.items():
        if names == layout_joints and name != "ct17":
            return name, name
    found = sum(1 for j in JOINTS if j in names or j.replace("foot_index", "big_toe") in names)
    if found < 8:
        raise InvalidKeypointsError(
            f"{p}: meta_info names {len(names)} joints ({label}) of which only {found} are CT17 body joints; "
            f"pass --skeleton if the keypoints are in a known layout"
        )
    return names, label


def _mmpose_frames(entries: list, p: Path, limits: ReadLimits) -> list[list[np.ndarray]]:
    """MMPose ``[{"frame_id": 0, "instances": [...]}, ...]`` (integer frame ids give empty frames for gaps), or
    the demo's flat list of one image's instances ``[{"keypoints", "keypoint_scores", "bbox", ...}, ...]``."""
    if not all(isinstance(e, dict) for e in entries):
        raise InvalidKeypointsError(f"{p}: frame entries must be objects")
    if entries and all("keypoints" in e and "instances" not in e for e in entries):
        return [[_instance_array(e, p) for e in entries]]  # one image: a flat list of instances
    _check_frames(len(entries), p, limits)
    ids = [e.get("frame_id") for e in entries]
    use_ids = all(isinstance(i, int) and not isinstance(i, bool) for i in ids) and len(set(ids)) == len(ids)
    if use_ids and ids:
        _check_frames(max(ids) - min(ids) + 1, p, limits, "frames between the first and last frame_id")
    by_frame: dict[int, list[np.ndarray]] = {}
    for k, e in enumerate(entries):
        instances = e.get("instances") or []
        if not isinstance(instances, list):
            raise InvalidKeypointsError(f"{p}: 'instances' of frame entry {k} is not a list")
        by_frame[e["frame_id"] if use_ids else k] = [_instance_array(inst, p) for inst in instances]
    if not by_frame:
        raise InvalidKeypointsError(f"{p}: no frames")
    lo, hi = min(by_frame), max(by_frame)
    return [by_frame.get(i, []) for i in range(lo, hi + 1)]


def _coco_frames(entries: list, p: Path, limits: ReadLimits) -> list[list[np.ndarray]]:
    """COCO results/annotations: one entry per person, grouped by ``image_id`` (frames in sorted id order)."""
    groups: dict[Any, list[np.ndarray]] = {}
    for d in entries:
        if not isinstance(d, dict) or "keypoints" not in d:
            raise InvalidKeypointsError(f"{p}: COCO entry without 'keypoints'")
        key = d.get("image_id")
        if not isinstance(key, (str, int, float, type(None))):
            raise InvalidKeypointsError(f"{p}: COCO 'image_id' must be a number or a string")
        groups.setdefault(key, []).append(_instance_array(d, p))
        _check_frames(len(groups), p, limits, "images (or more)")
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
    frames: list[list[np.ndarray]], named: str | None, p: Path, fps: float, names: Layout | None = None
) -> tuple[np.ndarray, Layout]:
    """The main person's (T, J, 3) array and its layout: ``named`` (the user's), else ``names`` (the file's
    metadata), else inferred from J."""
    counts = {len(kp) for people in frames for kp in people}
    if not counts:
        raise InvalidKeypointsError(f"{p}: no person in any of {len(frames)} frames")
    if len(counts) > 1:
        raise InvalidKeypointsError(f"{p}: people have different joint counts {sorted(counts)[:5]}")
    nj = counts.pop()
    if named is None and names is not None:
        n = len(names) if isinstance(names, tuple) else len(LAYOUTS[names])
        if n != nj:
            raise InvalidKeypointsError(f"{p}: meta_info names {n} joints but the instances have {nj}")
        layout: Layout = names
    else:
        layout = infer_layout(nj, named, what=str(p))
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
    ``fps=pose.fps`` when loading, and no ``skeleton`` (a named ``mediapipe33`` reads a third value as z), or
    ``channels="xyc"``. ``.json``: ``{"format", "skeleton": "ct17", "fps", "times_s", "frames"}`` keeps
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
