"""The self-contained HTML report and the skeleton drawing, on synthetic assessment results (no model runs);
key frames come from thumbnails of the real sample clip in examples/ (as the pose pass keeps them)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from crosstrainer.keypoints.skeleton import NUM_JOINTS, J
from crosstrainer.report.drawing import blank_canvas_for, draw_skeleton, to_data_uri
from crosstrainer.report.html import key_moments, load_assessment_json, render_report, write_report
from report_fixtures import FakeResult, fake_assessment, fake_pose, fake_result

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = str(ROOT / "examples" / "sample_bicep_curl.mp4")


def test_report_has_verdict_feedback_timeline_and_key_frames(tmp_path):
    result = fake_result(SAMPLE)
    out = write_report(result, tmp_path / "sub" / "report.html")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    verdict = text[text.index('id="verdict"') : text.index('id="feedback"')]
    assert 'data-level="good form"' in verdict and "69%" in verdict and "31%" in verdict and "score 0.69" in verdict
    assert "Keep your torso upright; do not lean back to swing the weight." in text
    svg = text[text.index("<svg") : text.index("</svg>")]
    assert svg.count('class="row"') == 4  # three attributes + body visibility
    assert svg.count('class="window"') == 2  # posture [0, 2], elbow stability [1, 2.23]
    assert "posture: window 0.0-2.0 s" in svg
    frames = re.findall(r'<img src="data:image/jpeg;base64,[A-Za-z0-9+/=]+"', text)
    assert len(frames) == 2  # range of motion has no window, so no key frame
    assert "the clip is short" in text  # warnings are shown
    assert "crosstrainer-test 0.0.1" in text and "NeurIPS 2025" in text
    assert "pose 1.20 s, llm 3.40 s (total 4.70 s)" in text
    assert load_assessment_json(text) == fake_assessment(SAMPLE).model_dump(mode="json", by_alias=True)


def test_report_is_self_contained():
    text = render_report(fake_result(SAMPLE))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    assert "@import" not in text and "url(" not in text
    assert "<link" not in text and "<script src" not in text


def test_every_text_is_escaped():
    evil = "<script>alert(1)</script>"
    result = fake_result(
        SAMPLE,
        feedback=[f"bad {evil} & more"],
        warnings=[evil],
        sport=evil,
        attributes=[{"name": evil, "confidence": 0.9, "windows": [[0.0, 1.0]]}],
        timeline={"times_s": [0.0, 1.0], "attributes": {evil: [0.9, 0.1]}, "visibility": []},
    )
    text = render_report(result)
    assert evil not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.count("<script") == 1  # only the JSON data block, which cannot be closed early
    assert load_assessment_json(text)["feedback"] == [f"bad {evil} & more"]


def test_keypoint_input_draws_on_a_blank_canvas():
    result = fake_result("somewhere/pose.npy", kind="keypoints")
    text = render_report(result)
    assert text.count("data:image/jpeg;base64,") == 2
    assert "keypoints at" in text


def test_missing_video_falls_back_to_the_pose_and_empty_parts_say_so():
    result = fake_result("gone/clip.mp4")  # the video is not on disk any more
    assert render_report(result).count("data:image/jpeg;base64,") == 2
    empty = {"attributes": [], "feedback": [], "timeline": None, "warnings": []}
    bare = fake_result("pose.npy", kind="keypoints", **empty)
    bare.pose = None
    text = render_report(bare)
    assert "No feedback for this clip." in text and "No per-second timeline" in text
    assert "no key frame to show" in text and 'id="warnings"' not in text
    assert "No skill-attribute to improve was found." in text
    plain = fake_result(SAMPLE, **empty)  # no attribute window: the middle of the clip is shown for reference
    text = render_report(plain)
    assert text.count("data:image/jpeg;base64,") == 1 and "For reference" in text and "pose at 1.1 s" in text


def _no_video_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    import av

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the report opened a video again: av.open{args}")

    monkeypatch.setattr(av, "open", refuse)


def test_key_frames_come_from_the_thumbnails_not_the_video(monkeypatch):
    result = fake_result(SAMPLE)  # the fixture's pose carries the thumbnails of the pose pass
    _no_video_decoding(monkeypatch)
    text = render_report(result)
    assert text.count("data:image/jpeg;base64,") == 2 and "frame at 1.0 s, pose at 1.0 s" in text
    result.pose.meta.pop("thumbnails")  # no thumbnails: the skeleton alone, as for a video that is gone
    text = render_report(result)
    assert text.count("data:image/jpeg;base64,") == 2 and "video frame unavailable; keypoints at" in text


@pytest.mark.slow
def test_report_of_a_video_assessment_does_not_open_the_video_again(monkeypatch):
    """Real MediaPipe pass over the sample clip, then the report with PyAV refusing to open anything."""
    from crosstrainer.video.pose import PoseEstimator

    pose = PoseEstimator(sample_fps=10).estimate(SAMPLE)
    thumbs = pose.meta["thumbnails"]
    assert thumbs["times_s"] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0], abs=0.02)
    assert thumbs["frame_size"] == [522, 294]
    _no_video_decoding(monkeypatch)
    text = render_report(FakeResult(assessment=fake_assessment(SAMPLE), pose=pose, source_path=SAMPLE))
    assert text.count("data:image/jpeg;base64,") == 2
    assert "frame at 1.0 s, pose at 1.0 s" in text and "frame at 1.5 s" in text  # moments at 1.0 s and 1.6 s


def test_key_moment_is_the_middle_of_the_strongest_window():
    a = fake_assessment(
        attributes=[{"name": "balance", "confidence": 0.8, "windows": [[0.0, 1.0], [2.0, 3.0]]}],
        timeline={"times_s": [0.0, 1.0, 2.0], "attributes": {"balance": [0.3, 0.5, 0.9]}, "visibility": []},
    )
    (m,) = key_moments(a)
    assert m.attribute == "balance" and m.window == (2.0, 3.0) and m.time_s == 2.5 and m.strength == 0.9


def test_draw_skeleton_marks_joints_and_keeps_the_input():
    frame = np.zeros((100, 100, 3), np.uint8)
    xy = np.full((NUM_JOINTS, 2), np.nan, np.float32)
    conf = np.zeros(NUM_JOINTS, np.float32)
    xy[J["left_shoulder"]], xy[J["left_elbow"]] = (20, 20), (80, 80)
    conf[[J["left_shoulder"], J["left_elbow"]]] = 1.0
    out = draw_skeleton(frame, xy, conf)
    assert frame.max() == 0 and out.shape == frame.shape
    assert out[50, 50].any() and out[20, 20].any()  # on the bone and on the joint
    assert not out[20, 80].any()  # far from the skeleton
    half = draw_skeleton(frame, xy * 2, conf, scale=(0.5, 0.5))
    assert np.array_equal(half, out)
    assert to_data_uri(out, fmt="PNG").startswith("data:image/png;base64,")


def test_blank_canvas_fits_the_whole_sequence():
    pose = fake_pose()
    canvas, scale, offset = blank_canvas_for(pose.xy / 500.0, pose.conf)  # normalised units
    mapped = pose.xy / 500.0 * np.array(scale) + np.array(offset)
    h, w = canvas.shape[:2]
    assert mapped[..., 0].min() >= 0 and mapped[..., 0].max() <= w
    assert mapped[..., 1].min() >= 0 and mapped[..., 1].max() <= h
