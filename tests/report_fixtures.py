"""Hand-built assessment results for the report and server tests (synthetic: no model runs).

``fake_result(path)`` returns an object with the fields of ``crosstrainer.api.AssessmentResult``
(assessment, pose, features, timings, source_path), so the report can be tested without the model. For a video that
exists, the pose carries the thumbnails a pose pass keeps (``pose.meta["thumbnails"]``), one per frame sampled at
10 fps, made from the real frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.keypoints.skeleton import JOINTS, NUM_JOINTS, PoseSequence
from crosstrainer.schema import Assessment

# A standing person, facing the camera, in a 522x294 frame (pixels, y down).
STANDING = {
    "nose": (261, 50),
    "left_shoulder": (290, 85),
    "right_shoulder": (232, 85),
    "left_elbow": (300, 130),
    "right_elbow": (222, 130),
    "left_wrist": (296, 100),
    "right_wrist": (226, 172),
    "left_hip": (282, 170),
    "right_hip": (240, 170),
    "left_knee": (284, 220),
    "right_knee": (238, 220),
    "left_ankle": (285, 268),
    "right_ankle": (237, 268),
    "left_heel": (280, 275),
    "right_heel": (242, 275),
    "left_foot_index": (296, 280),
    "right_foot_index": (226, 280),
}


@dataclass
class FakeResult:
    assessment: Assessment
    pose: PoseSequence | None
    features: Any = None
    timings: dict[str, float] = field(default_factory=dict)
    source_path: str = ""


def fake_pose(duration_s: float = 2.23, fps: float = 30.0) -> PoseSequence:
    n = round(duration_s * fps)
    base = np.array([STANDING[j] for j in JOINTS], np.float32)
    xy = np.repeat(base[None], n, axis=0)
    swing = 25 * np.sin(np.linspace(0, 2 * np.pi, n))  # the left wrist curls up and down
    xy[:, JOINTS.index("left_wrist"), 1] += swing.astype(np.float32)
    return PoseSequence(xy=xy, conf=np.full((n, NUM_JOINTS), 0.9, np.float32), times_s=np.arange(n) / fps, fps=fps)


def fake_assessment(path: str = "examples/sample_bicep_curl.mp4", kind: str = "video", **extra: Any) -> Assessment:
    data = {
        "schema": "crosstrainer.assessment/v1",
        "input": {"path": path, "kind": kind, "duration_s": 2.23, "fps": 29.97},
        "sport": "bicep curl",
        "proficiency": {
            "level": "good form",
            "levels": ["needs improvement", "good form"],
            "probabilities": [0.31, 0.69],
            "score": 0.69,
            "llm_level": "good form",
        },
        "attributes": [
            {"name": "posture", "confidence": 0.64, "windows": [[0.0, 2.0]]},
            {"name": "elbow stability", "confidence": 0.52, "windows": [[1.0, 2.23]]},
            {"name": "range of motion", "confidence": 0.3, "windows": []},
        ],
        "feedback": [
            "Keep your torso upright; do not lean back to swing the weight.",
            "Pin your elbows to your sides <b>and</b> curl all the way up & down.",
        ],
        "timeline": {
            "times_s": [0.0, 1.0, 2.0],
            "attributes": {
                "posture": [0.7, 0.58, 0.4],
                "elbow stability": [0.2, 0.6, 0.55],
                "range of motion": [0.3, 0.3, 0.2],
            },
            "visibility": [0.98, 0.97, 0.9],
        },
        "warnings": ["the clip is short (2.2 s); results are less reliable"],
        "model": {"name": "crosstrainer-test", "version": "0.0.1"},
    }
    data.update(extra)
    return Assessment.model_validate(data)


def video_thumbnails(path: str, every_s: float = 0.1) -> dict[str, Any]:
    """What ``PoseEstimator.estimate`` keeps in ``pose.meta["thumbnails"]``, from the frames sampled at 10 fps."""
    from crosstrainer.video.decode import iter_frames, probe_video
    from crosstrainer.video.pose import Thumbnails

    strip = Thumbnails(every_s=every_s)
    for t, rgb in iter_frames(path, sample_fps=10):
        strip.add(t, rgb)
    info = probe_video(path)
    return strip.to_meta((info.width, info.height))


def fake_result(path: str = "examples/sample_bicep_curl.mp4", kind: str = "video", **extra: Any) -> FakeResult:
    pose = fake_pose()
    if kind == "video" and Path(path).is_file():
        pose.meta["thumbnails"] = video_thumbnails(path)
    return FakeResult(
        assessment=fake_assessment(path, kind, **extra),
        pose=pose,
        timings={"decode_s": 0.05, "pose_s": 1.2, "llm_s": 3.4, "total_s": 4.7},
        source_path=path,
    )
