"""Property-based fuzzing of the keypoint readers (issue 12): any bytes, any JSON, any array give a valid
``PoseSequence`` or a documented one-line ``CrossTrainerError`` (``InvalidKeypointsError``, exit 6), never another
exception.

Covered: ``.npy`` (random bytes, real headers over random data, real arrays of every dtype and shape), every JSON layout
(CrossTrainer, OpenPose, MMPose inferencer and demo, COCO results and annotations; random bytes and random JSON),
OpenPose folders, and the reader options (``skeleton``, ``fps``, ``channels``). A valid result is checked too: shapes,
confidences in [0, 1], missing points NaN, increasing finite times, and ``clean_pose`` runs on it.

Example counts come from a Hypothesis profile: ``ci`` (default, a few dozen per test, derandomised so CI is
reproducible) or ``fuzz`` (``HYPOTHESIS_PROFILE=fuzz``, thousands, random; ``make fuzz``). See docs/reliability.md.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from crosstrainer.errors import CrossTrainerError, InputNotFoundError, InvalidKeypointsError
from crosstrainer.keypoints.filtering import clean_pose
from crosstrainer.keypoints.io import ReadLimits, load_keypoints
from crosstrainer.keypoints.skeleton import NUM_JOINTS, PoseSequence

LIMITS = ReadLimits(max_frames=2000, max_duration_s=600.0)
"""Small limits, so that generated files can also cross them."""


# ------------------------------------------------------------------------------------------------------ the property
def check_pose(pose: PoseSequence) -> None:
    t = len(pose)
    assert 1 <= t <= LIMITS.max_frames
    assert pose.xy.shape == (t, NUM_JOINTS, 2) and pose.conf.shape == (t, NUM_JOINTS)
    assert np.all((pose.conf >= 0) & (pose.conf <= 1))
    seen = pose.conf > 0
    assert seen.any()
    assert np.isfinite(pose.xy[seen]).all() and np.isnan(pose.xy[~seen]).all()
    assert np.isfinite(pose.times_s).all() and np.all(np.diff(pose.times_s) > 0)
    assert math.isfinite(pose.fps) and pose.fps > 0
    assert pose.duration_s <= LIMITS.max_duration_s + 1e-6
    cleaned = clean_pose(pose)
    assert cleaned.xy.shape == pose.xy.shape


def read(path: Path, **options: Any) -> PoseSequence | None:
    """``load_keypoints``: a checked pose, or ``None`` after a documented one-line error. Anything else fails."""
    try:
        pose = load_keypoints(path, limits=LIMITS, **options)
    except (InvalidKeypointsError, InputNotFoundError) as e:
        msg = str(e)
        assert msg and "\n" not in msg and "Traceback" not in msg
        return None
    except CrossTrainerError as e:  # another documented class would be a surprise: show it
        raise AssertionError(f"unexpected {type(e).__name__}: {e}") from e
    check_pose(pose)
    return pose


def in_tmp(write, **options: Any) -> PoseSequence | None:
    """``read`` the file (or folder) ``write(folder)`` makes in a fresh temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="fuzz-kp-") as d:
        return read(write(Path(d)), **options)


# ------------------------------------------------------------------------------------------------------ strategies
options = st.fixed_dictionaries(
    {},
    optional={
        "skeleton": st.sampled_from(["coco17", "openpose18", "openpose25", "openpose25b", "mediapipe33", "ct17", "x"]),
        "fps": st.one_of(st.sampled_from([30.0, 0.5, 1e4]), st.floats(allow_nan=True, allow_infinity=True)),
        "channels": st.sampled_from(["xy", "xyc", "xyz", "xyzc"]),
    },
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=-2000, max_value=2000),
    st.integers(min_value=-(10**30), max_value=10**30),
)
junk = st.one_of(st.none(), st.booleans(), st.text(max_size=5), st.just([]), st.just({}), numbers)
joint_counts = st.sampled_from([1, 2, 17, 17, 18, 25, 26, 33, 33])


def joint_list(nj: int, width: int) -> st.SearchStrategy:
    value = st.one_of(st.floats(min_value=-500, max_value=2000), st.floats(min_value=0, max_value=1), junk)
    return st.lists(st.lists(value, min_size=width, max_size=width), min_size=nj, max_size=nj)


@st.composite
def frames_of_joints(draw, max_frames: int = 8) -> list:
    nj, width = draw(joint_counts), draw(st.sampled_from([2, 3, 3, 4]))
    frame = st.one_of(st.none(), st.just([]), joint_list(nj, width), joint_list(draw(joint_counts), width), junk)
    return draw(st.lists(frame, min_size=0, max_size=max_frames))


def flat(nj: int) -> st.SearchStrategy:
    return st.lists(st.one_of(st.floats(min_value=-10, max_value=2000), junk), min_size=3 * nj, max_size=3 * nj)


@st.composite
def crosstrainer_doc(draw) -> Any:
    doc: dict[str, Any] = {"frames": draw(st.one_of(frames_of_joints(), junk))}
    if draw(st.booleans()):
        doc["skeleton"] = draw(st.one_of(st.sampled_from(["coco17", "mediapipe33", "ct17", "openpose25b"]), junk))
    if draw(st.booleans()):
        doc["fps"] = draw(st.one_of(st.sampled_from([30, 25.0, 1e-3, 1e5]), junk))
    if draw(st.booleans()):
        n = len(doc["frames"]) if isinstance(doc["frames"], list) else 2
        doc["times_s"] = draw(st.one_of(st.lists(numbers, min_size=n, max_size=n), junk))
    return doc


@st.composite
def openpose_doc(draw) -> Any:
    nj = draw(joint_counts)
    person = st.fixed_dictionaries(
        {"person_id": st.just([-1]), "pose_keypoints_2d": st.one_of(flat(nj), flat(draw(joint_counts)), junk)},
        optional={"face_keypoints_2d": st.just([]), "hand_left_keypoints_2d": st.just([])},
    )
    return {"version": 1.3, "people": draw(st.one_of(st.lists(st.one_of(person, junk), max_size=3), junk))}


@st.composite
def mmpose_instance(draw, nj: int) -> Any:
    width = draw(st.sampled_from([2, 2, 3]))
    inst: dict[str, Any] = {"keypoints": draw(st.one_of(joint_list(nj, width), flat(nj), junk))}
    if draw(st.booleans()):
        inst["keypoint_scores"] = draw(st.one_of(st.lists(st.floats(0, 1) | junk, min_size=nj, max_size=nj), junk))
    if draw(st.booleans()):
        inst["bbox"] = [[0.0, 0.0, 10.0, 10.0]]
        inst["bbox_score"] = 0.9
    return inst


@st.composite
def mmpose_doc(draw) -> Any:
    nj = draw(joint_counts)
    inst = st.one_of(mmpose_instance(nj), junk)
    frame_id = st.one_of(st.integers(-3, 12), st.sampled_from([10**7, 10**15]), junk)
    entry = st.fixed_dictionaries({"frame_id": frame_id, "instances": st.one_of(st.lists(inst, max_size=3), junk)})
    kind = draw(st.sampled_from(["inferencer", "demo_video", "demo_image"]))
    if kind == "inferencer":
        return draw(st.lists(entry, max_size=6))
    info = draw(st.lists(entry, max_size=6)) if kind == "demo_video" else draw(st.lists(inst, max_size=4))
    names = draw(st.one_of(st.just(["nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_knee",
                                    "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel"]),
                           st.lists(st.text(max_size=12), max_size=nj + 1)))  # fmt: skip
    id2name = draw(st.one_of(st.just({str(i): n for i, n in enumerate(names)}), junk))
    meta_info = {"dataset_name": "x", "num_keypoints": len(names), "keypoint_id2name": id2name}
    meta = draw(st.one_of(st.just(meta_info), junk))
    return {"meta_info": meta, "instance_info": info}


@st.composite
def coco_doc(draw) -> Any:
    nj = draw(joint_counts)
    entry = st.fixed_dictionaries(
        {"keypoints": st.one_of(flat(nj), junk)},
        optional={"image_id": st.one_of(st.integers(0, 5), st.text(max_size=3), junk), "score": st.floats(0, 1)},
    )
    entries = draw(st.lists(st.one_of(entry, junk), max_size=6))
    return {"annotations": entries} if draw(st.booleans()) else entries


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)
any_doc = st.one_of(crosstrainer_doc(), openpose_doc(), mmpose_doc(), coco_doc(), json_values)


def dump(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


# ---------------------------------------------------------------------------------------------------- JSON readers
@given(doc=any_doc, opts=options)
def test_fuzz_json_layouts(doc: Any, opts: dict) -> None:
    in_tmp(lambda d: _write(d / "k.json", dump(doc)), **opts)


@given(doc=any_doc, cut=st.integers(0, 400), noise=st.binary(max_size=40))
def test_fuzz_json_bytes_mutated(doc: Any, cut: int, noise: bytes) -> None:
    """Structured documents cut short, with random bytes spliced in: the scanner and the parser meet broken JSON."""
    raw = dump(doc)
    raw = raw[:cut] + noise + raw[cut:] if noise else raw[: max(cut, 1)]
    in_tmp(lambda d: _write(d / "k.json", raw))


@given(raw=st.binary(max_size=600))
def test_fuzz_json_random_bytes(raw: bytes) -> None:
    in_tmp(lambda d: _write(d / "k.json", raw))


@given(depth=st.integers(1, 5000), opener=st.sampled_from(["[", '{"a":', '["\\\\",']))
def test_fuzz_json_nesting(depth: int, opener: str) -> None:
    closer = {"[": "]", '{"a":': "}", '["\\\\",': "]"}[opener]
    in_tmp(lambda d: _write(d / "k.json", (opener * depth + "1" + closer * depth).encode()))


# ----------------------------------------------------------------------------------------------------- OpenPose folder
@given(files=st.lists(st.one_of(openpose_doc().map(dump), st.binary(max_size=80)), min_size=0, max_size=4))
def test_fuzz_openpose_folder(files: list[bytes]) -> None:
    def write(d: Path) -> Path:
        folder = d / "op"
        folder.mkdir()
        for i, raw in enumerate(files):
            (folder / f"clip_{i:012d}_keypoints.json").write_bytes(raw)
        return folder

    in_tmp(write, skeleton="openpose25")
    in_tmp(write)


# ---------------------------------------------------------------------------------------------------------------- npy
real_dtypes = st.sampled_from(["<f4", ">f8", "<f2", "<i4", "|u1", "<i8", "<c8", "|b1", "<U3", "<M8[s]", "|V4"])


@given(
    array=hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.float16, np.int32, np.uint8, np.complex64, np.bool_]),
        shape=st.one_of(
            st.tuples(st.integers(0, 6), joint_counts, st.sampled_from([2, 3, 4])),
            hnp.array_shapes(min_dims=0, max_dims=4, max_side=5),
        ),
    ),
    opts=options,
)
def test_fuzz_npy_arrays(array: np.ndarray, opts: dict) -> None:
    in_tmp(lambda d: _save(d / "k.npy", array), **opts)


@given(
    shape=st.tuples(
        st.one_of(st.integers(0, 4), st.sampled_from([2**31, 9_999_999_999, 2**62])),
        st.one_of(joint_counts, st.sampled_from([0, 10**9])),
        st.sampled_from([0, 2, 3, 4, 5]),
    )
    | st.lists(st.integers(0, 40), max_size=4).map(tuple),
    descr=real_dtypes,
    fortran=st.booleans(),
    data=st.binary(max_size=2000),
    version=st.sampled_from([(1, 0), (2, 0), (3, 0)]),
    cut=st.one_of(st.none(), st.integers(0, 200)),
)
@example(shape=(), descr="<f4", fortran=False, data=b"\0" * 8 + b"[", version=(1, 0), cut=119)  # numpy: TokenError
def test_fuzz_npy_headers(
    shape: tuple, descr: str, fortran: bool, data: bytes, version: tuple, cut: int | None
) -> None:
    """A header that may lie about the shape (or be cut short), over random data: never a MemoryError or a crash."""
    buf = io.BytesIO()
    np.lib.format._write_array_header(buf, {"descr": descr, "fortran_order": fortran, "shape": shape}, version)
    header = buf.getvalue() if cut is None else buf.getvalue()[:cut]

    def write(d: Path) -> Path:
        path = d / "k.npy"
        path.write_bytes(header + data)
        return path

    in_tmp(write)


@given(raw=st.binary(max_size=300), prefix=st.sampled_from([b"", b"\x93NUMPY\x01\x00", b"\x93NUMPY\x03\x00"]))
def test_fuzz_npy_random_bytes(raw: bytes, prefix: bytes) -> None:
    in_tmp(lambda d: _write(d / "k.npy", prefix + raw))


@given(
    values=hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.just(17), st.just(3)), elements=st.floats()),
)
def test_fuzz_npy_values(values: np.ndarray) -> None:
    """Any float64 values (NaN, Inf, huge) in a well-shaped COCO-17 array."""
    pose = in_tmp(lambda d: _save(d / "k.npy", values))
    if pose is not None:
        assert np.isfinite(values[..., :2].astype(np.float32)).any()


def _write(path: Path, raw: bytes) -> Path:
    path.write_bytes(raw)
    return path


def _save(path: Path, array: np.ndarray) -> Path:
    np.save(path, array, allow_pickle=False)
    return path


@pytest.mark.parametrize("name", ["k.npy", "k.json", "k.txt", "missing"])
def test_fuzz_harness_sees_errors(tmp_path: Path, name: str) -> None:
    """The harness itself: a missing or unsupported file is a documented error, a valid file a checked pose."""
    if name != "missing":
        (tmp_path / name).write_bytes(b"")
    assert read(tmp_path / name) is None
    np.save(tmp_path / "ok.npy", np.full((3, 17, 3), 0.5, np.float32))
    assert read(tmp_path / "ok.npy") is not None
