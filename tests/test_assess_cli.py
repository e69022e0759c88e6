"""``crosstrainer assess`` as a user runs it: the real sample clip, keypoint files, batches, and every bad input.

The error cases need no model (inputs are checked before it loads); the others use the shipped default model.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLE_CLIP
from crosstrainer.cli import main

SCHEMA_KEYS = {"schema", "input", "sport", "proficiency", "attributes", "feedback", "model"}


def run_cli(*args: str) -> int:
    return main([str(a) for a in args])


# ---- bad input: one line on stderr, documented exit code, no traceback -------------------------------------------
@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("notes.mp4", b"this is a text file, not a video\n" * 20, 4),
        ("empty.mp4", b"", 4),
        ("truncated.mp4", None, 4),
    ],
)
def test_bad_videos_exit_with_code_and_one_line(tmp_path: Path, capsys, name: str, content: bytes | None, code: int):
    path = tmp_path / name
    path.write_bytes(content if content is not None else SAMPLE_CLIP.read_bytes()[:3000])
    assert run_cli("assess", path) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0]
    assert name in err[0]


def test_missing_file_exit_3(tmp_path: Path, capsys):
    assert run_cli("assess", tmp_path / "nope.mp4") == 3
    assert capsys.readouterr().err.startswith("error: no such file")


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((10, 33, 5)), "expected"),
        (np.zeros((10, 33)), "expected"),
        (np.zeros((10, 33, 4)), "missing"),
        (np.zeros((0, 33, 3)), ""),
    ],
)
def test_bad_keypoint_arrays_exit_6(tmp_path: Path, capsys, array: np.ndarray, message: str):
    path = tmp_path / "kp.npy"
    np.save(path, array)
    assert run_cli("assess", path, "--fps", "30") == 6
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_malformed_keypoint_json_exit_6(tmp_path: Path, capsys):
    path = tmp_path / "kp.json"
    path.write_text('{"skeleton": "coco17", "fps": 30, "frames": [[[1, 2', encoding="utf-8")
    assert run_cli("assess", path) == 6


def test_model_from_another_version_exit_7(tmp_path: Path, capsys, model_dir: Path):
    other = tmp_path / "old-model"
    shutil.copytree(model_dir, other)
    manifest = json.loads((other / "model.json").read_text())
    manifest["format"] = "crosstrainer.model/v0"
    (other / "model.json").write_text(json.dumps(manifest))
    assert run_cli("assess", SAMPLE_CLIP, "--model", other) == 7
    assert "not supported" in capsys.readouterr().err
    manifest["format"] = "crosstrainer.model/v1"
    manifest["encoder"]["version"] = "999"
    (other / "model.json").write_text(json.dumps(manifest))
    assert run_cli("assess", SAMPLE_CLIP, "--model", other) == 7
    assert "encoder" in capsys.readouterr().err


def test_not_a_model_folder_exit_7(tmp_path: Path, capsys):
    assert run_cli("assess", SAMPLE_CLIP, "--model", tmp_path) == 7


def test_output_names_keep_inputs_with_the_same_stem_apart():
    from crosstrainer.commands.assess import output_names

    files = [Path("a/clip.mp4"), Path("a/clip.mov"), Path("a/other.webm")]
    assert output_names(files) == {files[0]: "clip.mp4", files[1]: "clip.mov", files[2]: "other"}


# ---- the real clip, end to end -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sample_clip_end_to_end(tmp_path: Path, model_dir: Path):
    """The README's main command, as a subprocess, on the real clip: JSON schema, report, sensible values."""
    out, report = tmp_path / "a.json", tmp_path / "r.html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "crosstrainer",
            "assess",
            str(SAMPLE_CLIP),
            "--sport",
            "bicep curl",
            "--json",
            str(out),
            "--report",
            str(report),
            "--model",
            str(model_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    data = json.loads(out.read_text())
    assert set(data) >= SCHEMA_KEYS and data["schema"] == "crosstrainer.assessment/v1"
    assert data["input"]["kind"] == "video" and 2.0 < data["input"]["duration_s"] < 2.5
    assert 25 < data["input"]["fps"] < 35
    prof = data["proficiency"]
    assert prof["level"] in prof["levels"] and abs(sum(prof["probabilities"]) - 1) < 1e-3
    assert 0.0 <= prof["score"] <= 1.0
    assert data["feedback"] and all(isinstance(f, str) and f for f in data["feedback"])
    for attr in data["attributes"]:
        assert 0.0 <= attr["confidence"] <= 1.0
        assert all(0.0 <= s < e <= data["input"]["duration_s"] + 1.0 for s, e in attr["windows"])
    assert len(data["timeline"]["times_s"]) == 3  # 2.23 s -> seconds 0, 1, 2 (the last one partial)
    assert data["model"]["name"] and data["model"]["version"]
    assert report.read_text().startswith("<!DOCTYPE html>")
    assert "bicep curl" in proc.stdout  # the terminal report


@pytest.mark.slow
def test_keypoints_of_the_clip_give_the_same_assessment(tmp_path: Path, model_dir: Path, capsys):
    """Keypoints saved from the video and assessed as a keypoint file give the video's probe probabilities."""
    from crosstrainer.keypoints.io import save_keypoints
    from crosstrainer.video.pose import PoseEstimator

    pose = PoseEstimator().estimate(SAMPLE_CLIP)
    kp = save_keypoints(pose, tmp_path / "curl.json")
    assert run_cli("assess", SAMPLE_CLIP, "--json", tmp_path / "v.json", "--model", model_dir, "-q") == 0
    assert run_cli("assess", kp, "--json", tmp_path / "k.json", "--model", model_dir, "-q") == 0
    video, keys = (json.loads((tmp_path / f).read_text()) for f in ("v.json", "k.json"))
    assert keys["input"]["kind"] == "keypoints"
    np.testing.assert_allclose(video["proficiency"]["probabilities"], keys["proficiency"]["probabilities"], atol=1e-3)


@pytest.mark.slow
def test_coco17_npy_and_json_stdout(tmp_path: Path, model_dir: Path, capsys):
    from crosstrainer.keypoints.formats import from_ct17
    from crosstrainer.video.pose import PoseEstimator

    pose = PoseEstimator().estimate(SAMPLE_CLIP)
    arr = from_ct17(pose.xy, pose.conf, "coco17")
    np.save(tmp_path / "coco.npy", arr)
    assert (
        run_cli(
            "assess",
            tmp_path / "coco.npy",
            "--skeleton",
            "coco17",
            "--fps",
            f"{pose.fps}",
            "--json",
            "-",
            "--model",
            model_dir,
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["input"]["kind"] == "keypoints" and data["proficiency"]["level"] in data["proficiency"]["levels"]


@pytest.mark.slow
def test_batch_folder_skips_bad_input_and_exits_8(tmp_path: Path, model_dir: Path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLE_CLIP, folder / "curl.mp4")
    (folder / "broken.mp4").write_bytes(b"garbage" * 100)
    out = tmp_path / "out"
    assert run_cli("assess", folder, "--out-dir", out, "--model", model_dir) == 8
    assert (out / "curl.json").is_file() and not (out / "broken.json").exists()
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "1 of 2 inputs failed" in err


@pytest.mark.slow
def test_no_person_exit_5(tmp_path: Path, model_dir: Path, capsys):
    from crosstrainer.video.decode import write_test_clip

    frames = np.full((30, 240, 320, 3), 128, np.uint8)
    frames[:, 100:140, 140:180] = 30  # a dark box, no person
    clip = write_test_clip(tmp_path / "empty_room.mp4", frames, fps=15)
    assert run_cli("assess", clip, "--model", model_dir) == 5
    err = capsys.readouterr().err
    assert err.startswith("error: no person detected") and "empty_room.mp4" in err


@pytest.mark.slow
def test_long_input_is_windowed_not_refused(tmp_path: Path, model_dir: Path):
    """A 130-second keypoint sequence (far more seconds than the model's 64 video tokens) is assessed in windows."""
    from crosstrainer.api import Assessor
    from crosstrainer.keypoints.io import save_keypoints
    from crosstrainer.keypoints.skeleton import PoseSequence
    from crosstrainer.video.pose import PoseEstimator

    pose = PoseEstimator().estimate(SAMPLE_CLIP)
    reps = int(np.ceil(130 / pose.duration_s))
    n = len(pose) * reps
    long_pose = PoseSequence(
        np.tile(pose.xy, (reps, 1, 1)), np.tile(pose.conf, (reps, 1)), np.arange(n) / pose.fps, pose.fps
    )
    path = save_keypoints(long_pose, tmp_path / "long.json")
    result = Assessor.load(model_dir).assess(path)
    a = result.assessment
    assert len(a.timeline.times_s) >= 130
    from crosstrainer.model.predict import MAX_STAGE1_WINDOWS

    # the 57 repetitions (more than the model's Stage-I budget) become the budget's windows, covering the whole clip
    assert len(a.stage1_windows) == MAX_STAGE1_WINDOWS
    assert a.stage1_windows[0]["window"][0] == 0.0 and a.stage1_windows[-1]["window"][1] >= 130
    assert a.repetitions["count"] >= 50 and a.feedback
    assert a.proficiency.level in a.proficiency.levels


@pytest.mark.slow
def test_same_clip_in_other_containers_gets_the_same_verdict(tmp_path: Path, model_dir: Path):
    """The real clip re-encoded (H.264 in MKV, MPEG-4 in AVI) is judged like the original: the pose detector missing
    a first frame on a re-encode must not flip the level (it did before encoder v2 held short edge gaps)."""
    import av

    from crosstrainer.api import Assessor
    from crosstrainer.video.decode import write_test_clip

    with av.open(str(SAMPLE_CLIP)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assessor = Assessor.load(model_dir)
    original = assessor.assess(SAMPLE_CLIP).assessment.proficiency
    for name, codec in (("clip.mkv", "libx264"), ("clip.avi", "mpeg4")):
        other = assessor.assess(write_test_clip(tmp_path / name, frames, fps=30, codec=codec)).assessment.proficiency
        assert other.level == original.level, name
        assert abs(other.score - original.score) < 0.2, name
