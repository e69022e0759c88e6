"""Keypoint layouts, file loading (npy, CrossTrainer/OpenPose/MMPose/COCO JSON), main-person choice, filtering.

All data here are synthetic arrays built in the tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crosstrainer.errors import InputNotFoundError, InvalidKeypointsError
from crosstrainer.keypoints.filtering import clean_pose, fill_gaps, smooth
from crosstrainer.keypoints.formats import COCO17, LAYOUTS, OPENPOSE18, OPENPOSE25, ct17_indices, from_ct17, to_ct17
from crosstrainer.keypoints.io import load_keypoints, pick_main_person, save_keypoints
from crosstrainer.keypoints.skeleton import JOINTS, J, PoseSequence


def layout_array(layout: str, t: int = 5, offset: float = 0.0, conf: float = 0.9) -> np.ndarray:
    """(T, J, 3) where joint j of frame i sits at (100 + 10 j + offset, 50 + 5 j + i), confidence ``conf``."""
    n = len(LAYOUTS[layout])
    a = np.zeros((t, n, 3), np.float32)
    a[..., 0] = 100 + 10 * np.arange(n)[None, :] + offset
    a[..., 1] = 50 + 5 * np.arange(n)[None, :] + np.arange(t)[:, None]
    a[..., 2] = conf
    return a


@pytest.mark.parametrize("layout", ["mediapipe33", "coco17", "openpose18", "openpose25", "openpose25b", "ct17"])
def test_to_ct17_maps_by_name(layout: str) -> None:
    a = layout_array(layout)
    xy, conf = to_ct17(a, layout)
    names = LAYOUTS[layout]
    for ct_name in ("left_shoulder", "right_wrist", "left_ankle", "nose"):
        assert xy[0, J[ct_name], 0] == 100 + 10 * names.index(ct_name)
    lacks_feet = layout in ("coco17", "openpose18")
    assert (conf[:, J["left_heel"]] == 0).all() == lacks_feet
    assert np.isnan(xy[:, J["right_foot_index"]]).all() == lacks_feet


def test_openpose25_toes_and_missing_points() -> None:
    a = layout_array("openpose25")
    a[0, OPENPOSE25.index("left_wrist")] = [0, 0, 0]  # OpenPose writes 0, 0, 0 for "not found"
    a[1, OPENPOSE25.index("right_elbow"), 2] = np.nan
    xy, conf = to_ct17(a, "openpose25")
    assert xy[0, J["left_foot_index"], 0] == 100 + 10 * OPENPOSE25.index("left_big_toe")
    assert conf[0, J["left_wrist"]] == 0 and np.isnan(xy[0, J["left_wrist"]]).all()
    assert conf[1, J["right_elbow"]] == 0
    assert OPENPOSE18[1] == "neck" and COCO17[5] == "left_shoulder"


def test_two_channel_and_roundtrip_layout() -> None:
    xy, conf = to_ct17(layout_array("coco17")[..., :2], "coco17")
    assert (conf[:, J["nose"]] == 1).all()
    back = from_ct17(xy, conf, "coco17")
    have = ct17_indices("coco17")
    have = have[have >= 0]
    assert np.allclose(back[:, have, :2], layout_array("coco17")[:, have, :2])
    assert (back[:, COCO17.index("left_eye"), 2] == 0).all()  # CT17 has no eyes


# ---------------------------------------------------------------------------------------------------------- npy
def test_npy_layout_inference_and_fps(tmp_path: Path) -> None:
    for layout, n in (("mediapipe33", 33), ("coco17", 17), ("openpose18", 18), ("openpose25", 25)):
        np.save(tmp_path / f"{layout}.npy", layout_array(layout, t=8))
        pose = load_keypoints(tmp_path / f"{layout}.npy", fps=20, skeleton=layout if n == 25 else None)
        assert pose.meta["layout"] == layout and len(LAYOUTS[layout]) == n
        assert pose.fps == 20 and pose.times_s[-1] == pytest.approx(7 / 20)
    pose = load_keypoints(tmp_path / "coco17.npy")
    assert pose.fps == 30 and "assumed 30 fps" in pose.meta["warnings"][0]
    pose = load_keypoints(tmp_path / "coco17.npy", skeleton="ct17")  # J=17 named as CT17: identity mapping
    assert pose.xy[0, J["left_heel"], 0] == 100 + 10 * JOINTS.index("left_heel")


@pytest.mark.parametrize(
    ("shape", "message"),
    [((4, 33, 5), r"\(4, 33, 5\): expected \(T, J, 2\), \(T, J, 3\) or \(T, J, 4\)"),
     ((4, 33), r"\(4, 33\): expected \(T, J, 2\), \(T, J, 3\) or \(T, J, 4\)"),
     ((0, 17, 3), "no frames"),
     ((4, 20, 3), "20 joints per frame is not a known layout"),],
)  # fmt: skip
def test_npy_bad_shapes(tmp_path: Path, shape: tuple, message: str) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, np.ones(shape, np.float32))
    with pytest.raises(InvalidKeypointsError, match=message) as e:
        load_keypoints(path)
    assert "\n" not in str(e.value)


def test_npy_other_errors(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        load_keypoints(tmp_path / "nope.npy")
    np.save(tmp_path / "c.npy", layout_array("coco17"))
    with pytest.raises(InvalidKeypointsError, match="skeleton mediapipe33 has 33 joints but the data have 17"):
        load_keypoints(tmp_path / "c.npy", skeleton="mediapipe33")
    with pytest.raises(InvalidKeypointsError, match="unknown skeleton 'body99'"):
        load_keypoints(tmp_path / "c.npy", skeleton="body99")
    np.save(tmp_path / "missing.npy", layout_array("coco17", conf=0.0))
    with pytest.raises(InvalidKeypointsError, match="every keypoint is missing"):
        load_keypoints(tmp_path / "missing.npy")
    np.save(tmp_path / "nan.npy", np.full((3, 17, 2), np.nan, np.float32))
    with pytest.raises(InvalidKeypointsError, match="every keypoint is missing"):
        load_keypoints(tmp_path / "nan.npy")
    (tmp_path / "garbage.npy").write_bytes(b"not numpy")
    with pytest.raises(InvalidKeypointsError, match=r"not a readable \.npy"):
        load_keypoints(tmp_path / "garbage.npy")
    (tmp_path / "k.txt").write_text("1 2 3")
    with pytest.raises(InvalidKeypointsError, match=r"unsupported keypoints file type '\.txt'"):
        load_keypoints(tmp_path / "k.txt")
    with pytest.raises(InvalidKeypointsError, match="fps must be a positive number"):
        load_keypoints(tmp_path / "c.npy", fps=0)


# ---------------------------------------------------------------------------------------------------------- JSON
def test_crosstrainer_json(tmp_path: Path) -> None:
    frames = layout_array("coco17", t=3).tolist()
    frames[1] = None  # nobody detected in frame 1
    path = tmp_path / "k.json"
    path.write_text(json.dumps({"skeleton": "coco17", "fps": 25, "frames": frames}))
    pose = load_keypoints(path)
    assert pose.fps == 25 and len(pose) == 3 and pose.meta["warnings"] == []
    assert (pose.conf[1] == 0).all() and (pose.conf[0, J["nose"]] > 0)
    path.write_text(json.dumps({"frames": [[[1, 2], [3, 4]]]}))
    with pytest.raises(InvalidKeypointsError, match="2 joints per frame"):
        load_keypoints(path)
    path.write_text(json.dumps({"frames": []}))
    with pytest.raises(InvalidKeypointsError, match="non-empty list"):
        load_keypoints(path)
    path.write_text('{"frames": [[[1, 2, 3]]')
    with pytest.raises(InvalidKeypointsError, match="malformed JSON"):
        load_keypoints(path)
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(InvalidKeypointsError, match="unrecognised keypoints JSON"):
        load_keypoints(path)


def openpose_frame(people: list[np.ndarray]) -> dict:
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": p.ravel().tolist()} for p in people]}


def test_openpose_folder_main_person_is_tracked(tmp_path: Path) -> None:
    """Synthetic: a big main person and a small bystander; the bystander grows larger than the main person
    later (walking to the camera) but the main person is kept by nearest-centre tracking."""
    big = layout_array("openpose25", t=6)
    big[..., :2] = (big[..., :2] - 100) * 2 + 100
    small = layout_array("openpose25", t=6, offset=800.0)
    folder = tmp_path / "op"
    folder.mkdir()
    for i in range(6):
        b, s = big[i].copy(), small[i].copy()
        if i >= 3:
            s[:, :2] = (s[:, :2] - s[:, :2].mean(0)) * 3 + s[:, :2].mean(0)
        people = [b, s] if i % 2 else [s, b]  # order in the file changes
        (folder / f"clip_{i:012d}_keypoints.json").write_text(json.dumps(openpose_frame(people)))
    pose = load_keypoints(folder, fps=30, skeleton="openpose25")
    assert pose.meta["layout"] == "openpose25" and len(pose) == 6
    expected, _ = to_ct17(big, "openpose25")
    assert np.allclose(pose.xy, expected, equal_nan=True)


def test_openpose_single_file_and_empty(tmp_path: Path) -> None:
    path = tmp_path / "one_keypoints.json"
    path.write_text(json.dumps(openpose_frame([layout_array("openpose18", t=1)[0]])))
    pose = load_keypoints(path)
    assert len(pose) == 1 and pose.meta["layout"] == "openpose18"
    path.write_text(json.dumps({"people": []}))
    with pytest.raises(InvalidKeypointsError, match="no person"):
        load_keypoints(path)
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(InvalidKeypointsError, match=r"no \.json"):
        load_keypoints(empty_dir)


def test_mmpose_and_coco_predictions(tmp_path: Path) -> None:
    """Synthetic MMPose inferencer output (frame ids with a gap) and COCO results with two people per image."""
    main = layout_array("coco17", t=4)
    main[..., :2] *= 3
    other = layout_array("coco17", t=4, offset=2000.0)

    def inst(a: np.ndarray) -> dict:
        return {"keypoints": a[:, :2].tolist(), "keypoint_scores": a[:, 2].tolist(), "bbox": [[0, 0, 1, 1]]}

    entries = [{"frame_id": i, "instances": [inst(other[i]), inst(main[i])]} for i in (0, 1, 3)]
    path = tmp_path / "mm.json"
    path.write_text(json.dumps(entries))
    pose = load_keypoints(path, fps=10)
    assert len(pose) == 4 and (pose.conf[2] == 0).all()  # frame 2 absent from the file
    assert pose.xy[0, J["nose"], 0] == main[0, 0, 0]
    path.write_text(json.dumps({"meta_info": {}, "instance_info": entries}))
    assert len(load_keypoints(path, fps=10)) == 4
    coco = [
        {"image_id": i, "category_id": 1, "keypoints": a[i].ravel().tolist(), "score": 0.9}
        for i in range(4)
        for a in (other, main)
    ]
    path.write_text(json.dumps(coco))
    pose = load_keypoints(path, fps=10)
    assert len(pose) == 4 and pose.xy[3, J["left_hip"], 0] == main[3, COCO17.index("left_hip"), 0]


def test_pick_main_person_relocks_after_loss() -> None:
    a = layout_array("coco17", t=1)[0]
    b = layout_array("coco17", t=1, offset=5000.0)[0]
    frames = [[a], [], [], [b]]
    out = pick_main_person(frames, fps=1.0, relock_s=1.0)
    assert out[0, 0, 0] == a[0, 0] and out[3, 0, 0] == b[0, 0]
    out = pick_main_person([[a], [b]], fps=30.0)
    assert out[1, 0, 2] == 0  # b is far away and a is gone only briefly: frame left empty


# ---------------------------------------------------------------------------------------------------------- save
@pytest.mark.parametrize("suffix", [".npy", ".json"])
def test_save_and_reload(tmp_path: Path, suffix: str) -> None:
    xy, conf = to_ct17(layout_array("mediapipe33", t=7), "mediapipe33")
    conf[2, 3] = 0
    xy[2, 3] = np.nan
    pose = PoseSequence(xy=xy, conf=conf, times_s=np.arange(7) / 10, fps=10.0)
    path = save_keypoints(pose, tmp_path / f"k{suffix}")
    back = load_keypoints(path, fps=10 if suffix == ".npy" else None)
    assert np.array_equal(back.xy, pose.xy, equal_nan=True) and np.array_equal(back.conf, pose.conf)
    assert np.allclose(back.times_s, pose.times_s) and back.fps == 10
    with pytest.raises(InvalidKeypointsError):
        save_keypoints(pose, tmp_path / "k.csv")


# ---------------------------------------------------------------------------------------------------------- filtering
def test_fill_gaps_short_and_long() -> None:
    """Synthetic: at 10 fps a 3-frame hole (0.4 s between seen frames) is filled, a 7-frame hole is not."""
    t = np.arange(20) / 10
    xy = np.stack([t, t], -1)[:, None, :].repeat(2, 1).astype(np.float32)
    conf = np.ones((20, 2), np.float32)
    conf[3:6, 0] = 0
    conf[10:17, 1] = 0
    xy[conf == 0] = np.nan
    fx, fc = fill_gaps(xy, conf, t, max_gap_s=0.5)
    assert np.allclose(fx[3:6, 0, 0], t[3:6]) and (fc[3:6, 0] == 1).all()
    assert np.isnan(fx[10:17, 1]).all() and (fc[10:17, 1] == 0).all()
    # at the ends a short gap holds the nearest seen position (no linear extrapolation)
    conf2 = conf.copy()
    conf2[:2, 0] = 0
    xy2 = xy.copy()
    xy2[:2, 0] = np.nan
    fx2, _ = fill_gaps(xy2, conf2, t)
    assert np.allclose(fx2[:2, 0], xy2[2, 0])


def test_smooth_and_clean() -> None:
    """Synthetic noisy line at 30 fps: smoothing lowers the noise and keeps missing points missing."""
    rng = np.random.default_rng(0)
    t = np.arange(90) / 30
    clean_line = np.stack([100 * t, 50 + 0 * t], -1)
    noisy = (clean_line + rng.normal(0, 2, clean_line.shape))[:, None, :].astype(np.float32)
    noisy[40:60] = np.nan
    sm = smooth(noisy, fps=30, sigma_s=0.05)
    ok = np.isfinite(sm[:, 0, 0])
    assert np.isnan(sm[40:60]).all() and ok.sum() == 70
    err_before = np.abs(noisy[ok, 0] - clean_line[ok]).mean()
    err_after = np.abs(sm[ok, 0] - clean_line[ok]).mean()
    assert err_after < 0.8 * err_before
    pose = PoseSequence.empty(fps=30, n=90)
    pose.xy[:, 0] = noisy[:, 0]
    pose.conf[:, 0] = np.where(np.isfinite(noisy[:, 0, 0]), 0.9, 0.0)
    pose.conf[10, 0] = 0.2  # unsure: masked, then filled from its neighbours
    out = clean_pose(pose, min_conf=0.5)
    assert out.conf[10, 0] == pytest.approx(0.9) and np.isfinite(out.xy[10, 0]).all()
    assert (out.conf[40:60, 0] == 0).all() and out.meta["cleaned"]["min_conf"] == 0.5


def test_short_edge_gaps_hold_the_nearest_seen_position():
    """Synthetic: a joint missed on the first two and last frame (detector lock-on) is held; a long edge gap is not."""
    from crosstrainer.keypoints.filtering import fill_gaps

    t = np.arange(10) / 10.0
    xy = np.stack([np.stack([t, t], -1)] * 2, 1).astype(np.float32)  # (10, 2 joints, 2)
    conf = np.ones((10, 2), np.float32)
    conf[:2, 0] = 0
    conf[9, 0] = 0
    conf[:8, 1] = 0  # joint 1 missing for 0.8 s at the start: longer than max_gap_s, stays missing
    xy[conf == 0] = np.nan
    out_xy, out_conf = fill_gaps(xy, conf, t, max_gap_s=0.5)
    np.testing.assert_allclose(out_xy[:2, 0], np.repeat(xy[2:3, 0], 2, 0))
    np.testing.assert_allclose(out_xy[9, 0], xy[8, 0])
    assert (out_conf[:, 0] > 0).all()
    assert (out_conf[:8, 1] == 0).all() and np.isnan(out_xy[:8, 1]).all()


# ------------------------------------------------------------------------------------------------ upstream layouts
# OpenPose body-part orders, transcribed from CMU-Perceptual-Computing-Lab/openpose
# src/openpose/pose/poseParameters.cpp (POSE_COCO_BODY_PARTS, POSE_BODY_25B_BODY_PARTS).
UPSTREAM_COCO18 = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "RHip", "RKnee",
                   "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar")  # fmt: skip
UPSTREAM_BODY25B = ("Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist",
                    "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle", "UpperNeck", "HeadTop", "LBigToe",
                    "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")  # fmt: skip


def _openpose_name(name: str) -> str:
    """OpenPose's CamelCase part name for one of our snake_case names (left_big_toe -> LBigToe)."""
    side, _, rest = name.partition("_")
    if side in ("left", "right"):
        return side[0].upper() + "".join(w.capitalize() for w in rest.split("_"))
    return "".join(w.capitalize() for w in name.split("_"))


def test_openpose_orders_match_upstream() -> None:
    from crosstrainer.keypoints import formats

    assert tuple(_openpose_name(n) for n in OPENPOSE18) == UPSTREAM_COCO18
    assert tuple(_openpose_name(n) for n in formats.OPENPOSE25B) == UPSTREAM_BODY25B
    assert "COCO order plus a neck" not in (formats.__doc__ or "")  # COCO-18 is not COCO-17 order plus a neck
    assert formats.resolve_layout("BODY_25B") == "openpose25b" and formats.resolve_layout("body_25") == "openpose25"


def openpose_people_json(people: list[np.ndarray]) -> dict:
    """One frame exactly as OpenPose --write_json writes it: CMU-Perceptual-Computing-Lab/openpose doc/02_output.md
    ("JSON Output Format") and src/openpose/filestream/peopleJsonSaver.cpp (version 1.3, person_id, empty 3-D lists)."""
    return {
        "version": 1.3,
        "people": [
            {
                "person_id": [-1],
                "pose_keypoints_2d": [round(float(v), 3) for v in p.ravel()],
                "face_keypoints_2d": [],
                "hand_left_keypoints_2d": [],
                "hand_right_keypoints_2d": [],
                "pose_keypoints_3d": [],
                "face_keypoints_3d": [],
                "hand_left_keypoints_3d": [],
                "hand_right_keypoints_3d": [],
            }
            for p in people
        ],
    }


def test_body25b_is_named_and_25_joints_are_never_guessed(tmp_path: Path) -> None:
    a = layout_array("openpose25b", t=1)[0]
    path = tmp_path / "clip_000000000000_keypoints.json"
    path.write_text(json.dumps(openpose_people_json([a])))
    with pytest.raises(InvalidKeypointsError, match="BODY_25 or BODY_25B") as e:
        load_keypoints(path)
    assert "--skeleton openpose25b" in str(e.value) and "--skeleton openpose25 " in str(e.value)
    pose = load_keypoints(path, skeleton="BODY_25B")
    assert pose.meta["layout"] == "openpose25b"
    # BODY_25B: left hip at 11 (BODY_25 has it at 12), left heel at 21, big toe at 19 -> foot_index
    for ct_name, idx in (("left_hip", 11), ("left_heel", 21), ("left_foot_index", 19), ("right_ankle", 16)):
        assert pose.xy[0, J[ct_name], 0] == pytest.approx(a[idx, 0], abs=1e-3), ct_name
    as_body25 = load_keypoints(path, skeleton="openpose25")
    assert as_body25.xy[0, J["left_hip"], 0] == pytest.approx(a[12, 0], abs=1e-3)  # the other order, when named
    np.save(tmp_path / "b.npy", layout_array("openpose25b", t=3))
    with pytest.raises(InvalidKeypointsError, match="openpose25b"):
        load_keypoints(tmp_path / "b.npy")


# MMPose's dataset_meta for COCO as json_tricks writes it: open-mmlab/mmpose mmpose/datasets/datasets/utils.py
# (parse_pose_metainfo: keypoint_id2name with int keys, numpy arrays for colours, weights and sigmas).
def mmpose_meta(names: tuple[str, ...], dataset: str) -> dict:
    n = len(names)
    return {
        "dataset_name": dataset,
        "num_keypoints": n,
        "keypoint_id2name": {str(i): name for i, name in enumerate(names)},
        "keypoint_name2id": {name: i for i, name in enumerate(names)},
        "upper_body_ids": [0, 1, 2],
        "lower_body_ids": [11, 12],
        "flip_indices": list(range(n)),
        "flip_pairs": [[1, 2]],
        "keypoint_colors": {"__ndarray__": [[51, 153, 255]] * n, "dtype": "uint8", "shape": [n, 3], "Corder": True},
        "num_skeleton_links": 1,
        "skeleton_links": [[15, 13]],
        "skeleton_link_colors": {"__ndarray__": [[0, 255, 0]], "dtype": "uint8", "shape": [1, 3], "Corder": True},
        "dataset_keypoint_weights": {"__ndarray__": [1.0] * n, "dtype": "float32", "shape": [n]},
        "sigmas": {"__ndarray__": [0.026] * n, "dtype": "float32", "shape": [n]},
    }


def mmpose_instance(a: np.ndarray) -> dict:
    """One instance as mmpose.structures.split_instances writes it (open-mmlab/mmpose mmpose/structures/utils.py):
    keypoints (J, 2), keypoint_scores (J,), bbox a 1-tuple of xyxy (hence [[...]]), bbox_score a float."""
    xy = a[:, :2]
    return {
        "keypoints": xy.tolist(),
        "keypoint_scores": a[:, 2].tolist(),
        "bbox": [[float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())]],
        "bbox_score": 0.97,
    }


def test_mmpose_demo_single_image_flat_instance_list(tmp_path: Path) -> None:
    """open-mmlab/mmpose demo/topdown_demo_with_mmdet.py on an image: instance_info = split_instances(...), a flat
    list of instances (no frame_id), saved with meta_info = pose_estimator.dataset_meta."""
    main = layout_array("coco17", t=1)[0]
    main[:, :2] *= 3
    other = layout_array("coco17", t=1, offset=1500.0)[0]
    doc = {"meta_info": mmpose_meta(COCO17, "coco"), "instance_info": [mmpose_instance(other), mmpose_instance(main)]}
    path = tmp_path / "results_photo.json"
    path.write_text(json.dumps(doc, indent="\t"))
    pose = load_keypoints(path)
    assert len(pose) == 1 and pose.meta["format"] == "mmpose" and pose.meta["layout"] == "coco17"
    assert pose.xy[0, J["left_knee"], 0] == pytest.approx(main[COCO17.index("left_knee"), 0])


def test_mmpose_meta_info_picks_the_layout(tmp_path: Path) -> None:
    """Halpe-26 (open-mmlab/mmpose configs/_base_/datasets/halpe26.py) has 26 joints, no count alone names it: the
    demo's meta_info.keypoint_id2name does, and brings the heels and big toes CT17 uses. Video output: frame_id from 1
    (the demo increments frame_idx before the first frame)."""
    halpe26 = (*COCO17, "head", "neck", "hip", "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe",
               "left_heel", "right_heel")  # fmt: skip
    t = 3
    arr = np.zeros((t, 26, 3), np.float32)
    arr[..., 0] = 100 + 10 * np.arange(26)
    arr[..., 1] = 50 + 5 * np.arange(26) + np.arange(t)[:, None]
    arr[..., 2] = 0.8
    frames = [{"frame_id": i + 1, "instances": [mmpose_instance(arr[i])]} for i in range(t)]
    path = tmp_path / "results_clip.json"
    path.write_text(json.dumps({"meta_info": mmpose_meta(halpe26, "halpe26"), "instance_info": frames}))
    pose = load_keypoints(path, fps=25)
    assert pose.meta["layout"] == "mmpose:halpe26" and len(pose) == t
    assert pose.xy[0, J["right_heel"], 0] == 100 + 10 * halpe26.index("right_heel")
    assert pose.xy[0, J["left_foot_index"], 0] == 100 + 10 * halpe26.index("left_big_toe")
    assert pose.xy[0, J["left_hip"], 0] == 100 + 10 * 11
    doc = json.loads(path.read_text())
    del doc["meta_info"]
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidKeypointsError, match="26 joints per frame is not a known layout"):
        load_keypoints(path)
    doc["meta_info"] = mmpose_meta(tuple(f"face-{i}" for i in range(26)), "face")
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidKeypointsError, match="only 0 are CT17 body joints"):
        load_keypoints(path)


def test_mediapipe_npy_third_value_is_z_when_named(tmp_path: Path) -> None:
    """MediaPipe Pose landmarks are x, y, z (+ visibility): google-ai-edge/mediapipe docs/solutions/pose.md. A
    (T, 33, 3) array of [lm.x, lm.y, lm.z] has a z around 0, often negative: not a confidence."""
    arr = layout_array("mediapipe33", t=4) / 1000.0  # normalised x, y
    arr[..., 2] = np.linspace(-0.4, 0.3, 33)  # z (depth), not a confidence
    path = tmp_path / "landmarks.npy"
    np.save(path, arr)
    pose = load_keypoints(path, skeleton="mediapipe33", fps=30)
    assert pose.meta["channels"] == "xyz" and (pose.conf == 1).all()
    pose = load_keypoints(path, skeleton="mediapipe33", fps=30, channels="xyc")
    assert pose.meta["channels"] == "xyc" and (pose.conf[:, J["nose"]] == 0).all()  # z=-0.4 read as confidence
    pose = load_keypoints(path, fps=30)  # no --skeleton: 33 joints, x, y, confidence (what save_keypoints writes)
    assert pose.meta["channels"] == "xyc"
    four = np.concatenate([arr, np.full((4, 33, 1), 0.6, np.float32)], axis=2)  # x, y, z, visibility
    np.save(path, four)
    pose = load_keypoints(path, fps=30)
    assert pose.meta["channels"] == "xyzc" and np.allclose(pose.conf, 0.6)
    with pytest.raises(InvalidKeypointsError, match="channels xyc means 3 values per joint, the data have 4"):
        load_keypoints(path, fps=30, channels="xyc")
    with pytest.raises(InvalidKeypointsError, match="unknown channels"):
        load_keypoints(path, channels="xyq")
