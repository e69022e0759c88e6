"""Video decoding (synthetic clips made here with PyAV's encoders, plus the real example clip) and MediaPipe pose."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from crosstrainer.errors import InputNotFoundError, InvalidVideoError, NoPersonError
from crosstrainer.video.decode import (
    decode_only,
    iter_frames,
    iter_segment,
    plan_segments,
    probe_video,
    sampling_step,
    write_test_clip,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample_bicep_curl.mp4"


def ramp_frames(n: int = 30, w: int = 64, h: int = 48) -> np.ndarray:
    """Synthetic: frame i is a flat grey of level 8*i, so a decoded frame tells which frame it was."""
    return np.stack([np.full((h, w, 3), 8 * i, np.uint8) for i in range(n)])


@pytest.mark.parametrize(
    ("suffix", "codec", "pix_fmt"),
    [(".mp4", "libx264", "yuv420p"), (".mkv", "libx264", "yuv420p"), (".webm", "libvpx-vp9", "yuv420p"),
     (".avi", "mpeg4", "yuv420p"), (".mov", "libx264", "yuv420p")],
)  # fmt: skip
def test_containers_probe_and_sample(tmp_path: Path, suffix: str, codec: str, pix_fmt: str) -> None:
    """Synthetic 1 s clips at 30 fps in each container: probe, sample at 10 fps, keep every frame, downscale."""
    if codec not in av.codecs_available:
        pytest.skip(f"{codec} encoder not in this PyAV build")
    clip = write_test_clip(tmp_path / f"ramp{suffix}", ramp_frames(), fps=30, codec=codec, pix_fmt=pix_fmt)
    info = probe_video(clip)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == pytest.approx(30, abs=0.5)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)
    assert 29 <= info.num_frames <= 31
    sampled = list(iter_frames(clip, sample_fps=10, max_side=None))
    assert len(sampled) == 10
    times = [t for t, _ in sampled]
    assert times[0] == 0.0 and np.allclose(np.diff(times), 0.1, atol=0.01)
    assert all(img.shape == (48, 64, 3) and img.dtype == np.uint8 for _, img in sampled)
    # frame 3 (level 24) is the second sample
    assert abs(float(sampled[1][1].mean()) - 24) < 4
    assert len(list(iter_frames(clip, sample_fps=None, max_side=32))) == 30
    assert next(iter_frames(clip, max_side=32))[1].shape == (24, 32, 3)


def test_decode_only(tmp_path: Path) -> None:
    clip = write_test_clip(tmp_path / "ramp.mp4", ramp_frames(), fps=30)
    assert decode_only(clip) > 0


def test_variable_frame_rate(tmp_path: Path) -> None:
    """Synthetic VFR clip (uneven timestamps in ms): yielded times are the real presentation times."""
    path = tmp_path / "vfr.mkv"
    pts_ms = [0, 40, 120, 130, 300, 310, 500]
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for i, ms in enumerate(pts_ms):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 30 * i, np.uint8), format="rgb24")
            f.pts, f.time_base = ms, Fraction(1, 1000)
            for pkt in s.encode(f):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    times = [t for t, _ in iter_frames(path, sample_fps=None)]
    assert times == pytest.approx([ms / 1000 for ms in pts_ms], abs=0.002)


def test_sampling_step() -> None:
    assert sampling_step(29.97, 10) == 3
    assert sampling_step(30, None) == 1
    assert sampling_step(5, 10) == 1
    assert sampling_step(60, 10) == 6


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        probe_video(tmp_path / "missing.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InvalidVideoError, match="empty"):
        probe_video(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(InvalidVideoError) as e:
        list(iter_frames(text))
    assert "\n" not in str(e.value)
    truncated = tmp_path / "trunc.mp4"
    good = write_test_clip(tmp_path / "good.mp4", ramp_frames(), fps=30)
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(InvalidVideoError):
        probe_video(truncated)


def test_probe_is_cached_until_the_file_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Synthetic clip: a second probe (and the one inside iter_frames) opens nothing; a rewritten file is re-probed."""
    clip = write_test_clip(tmp_path / "ramp.mp4", ramp_frames(), fps=30)
    opened: list[str] = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k))
    first = probe_video(clip)
    n = len(opened)
    assert n >= 1
    again = probe_video(str(clip))
    assert again == first and again is not first and len(opened) == n
    list(iter_frames(clip, sample_fps=10))
    assert len(opened) == n + 1  # its own decoding pass only
    write_test_clip(clip, ramp_frames(n=15, w=32, h=24), fps=30)
    assert probe_video(clip).width == 32 and len(opened) > n + 1


def test_thumbnails_stay_evenly_spaced_within_their_budget() -> None:
    """Synthetic noise frames (JPEG-unfriendly): over the byte budget, every other thumbnail goes, the step doubles."""
    from PIL import Image

    from crosstrainer.video.pose import Thumbnails

    noise = np.random.default_rng(0).integers(0, 256, (4, 360, 640, 3), np.uint8)
    strip = Thumbnails(every_s=0.5, max_bytes=300_000)
    for i in range(600):  # 60 s sampled at 10 fps; 120 thumbnails of about 20 kB would not fit
        strip.add(i / 10, noise[i % 4])
    meta = strip.to_meta((640, 360))
    assert strip.nbytes <= 300_000 and strip.nbytes == sum(map(len, meta["jpeg"]))
    steps = np.diff(meta["times_s"])
    assert len(meta["times_s"]) >= 4 and np.allclose(steps, steps[0]) and steps[0] == strip.every_s > 0.5
    with Image.open(io.BytesIO(meta["jpeg"][0])) as image:
        assert image.format == "JPEG" and image.size == (320, 180)


def test_real_clip_probe() -> None:
    if not SAMPLE.exists():
        pytest.skip("examples/sample_bicep_curl.mp4 is absent")
    info = probe_video(SAMPLE)
    assert (info.width, info.height) == (522, 294)
    assert info.duration_s == pytest.approx(2.23, abs=0.05)
    assert info.codec == "h264"
    frames = list(iter_frames(SAMPLE, sample_fps=10))
    assert len(frames) == 23 and frames[0][1].shape == (294, 522, 3)


@pytest.mark.slow
def test_pose_on_real_clip() -> None:
    """MediaPipe finds the person on most sampled frames; coordinates are pixels of the original frame."""
    if not SAMPLE.exists():
        pytest.skip("examples/sample_bicep_curl.mp4 is absent")
    from crosstrainer.video.pose import PoseEstimator

    seen: list[float] = []
    pose = PoseEstimator(sample_fps=10).estimate(SAMPLE, progress=seen.append)
    assert pose.meta["frames"] == len(pose) == 23
    assert pose.meta["detected_frames"] >= 0.8 * len(pose)
    assert seen[-1] == 1.0
    assert set(pose.meta["timings"]) == {"decode_s", "pose_s", "wall_s"}
    assert pose.meta["parts"] == 1  # 2.2 s: one pass
    assert pose.meta["video"]["width"] == 522
    shoulders = pose.xy[:, 1:3][pose.conf[:, 1:3] > 0.5]
    assert shoulders.size and (shoulders[:, 0] > 0).all() and (shoulders[:, 0] < 522).all()
    assert (shoulders[:, 1] > 0).all() and (shoulders[:, 1] < 294).all()
    assert pose.fps == pytest.approx(10, abs=0.1)


@pytest.mark.slow
def test_grey_clip_has_no_person(tmp_path: Path) -> None:
    """Synthetic: a flat grey clip raises NoPersonError naming the file and the frame count."""
    from crosstrainer.video.pose import PoseEstimator

    clip = write_test_clip(tmp_path / "grey.mp4", np.full((20, 96, 128, 3), 128, np.uint8), fps=10)
    with pytest.raises(NoPersonError, match=r"no person detected in grey.mp4 \(0 of 20 sampled frames\)"):
        PoseEstimator(sample_fps=10).estimate(clip)


def test_segments_yield_exactly_the_frames_of_one_pass(tmp_path: Path) -> None:
    """Synthetic 10 s ramp with a keyframe every second: cut into 2 and 3 parts at keyframes, the parts together
    yield the same sampled frames (index, time, pixels) as one pass; a clip with one keyframe cannot be cut."""
    frames = np.stack([np.full((48, 64, 3), i % 250, np.uint8) for i in range(300)])
    clip = write_test_clip(tmp_path / "ramp.mp4", frames, fps=30, gop=30)
    one_pass = list(iter_frames(clip, sample_fps=10))
    for parts in (2, 3):
        segments = plan_segments(clip, 10, parts)
        assert segments is not None and len(segments) == parts
        assert segments[0].seek_pts is None and all(s.seek_pts is not None for s in segments[1:])
        got = [item for s in segments for item in iter_segment(clip, s)]
        assert [i for i, _, _ in got] == list(range(len(one_pass)))
        assert [t for _, t, _ in got] == [t for t, _ in one_pass]
        assert all(np.array_equal(a, b) for (_, _, a), (_, b) in zip(got, one_pass, strict=True))
    single_gop = write_test_clip(tmp_path / "one_gop.mp4", frames[:120], fps=30, gop=300)
    assert plan_segments(single_gop, 10, 2) is None
    assert plan_segments(clip, 10, 1) is None


@pytest.mark.slow
def test_pose_in_parts_agrees_with_one_pass(tmp_path: Path) -> None:
    """The real sample clip looped to 9 s (keyframe every second): pose in 2 parts, each with its own tracker,
    gives the same frames and times as one pass, the same landmarks on visible joints (PCK@0.05 of torso length),
    and one evenly spaced thumbnail strip."""
    if not SAMPLE.exists():
        pytest.skip("examples/sample_bicep_curl.mp4 is absent")
    from crosstrainer.keypoints.skeleton import J
    from crosstrainer.video.pose import PoseEstimator, parts_for

    with av.open(str(SAMPLE)) as c:
        real = [f.to_ndarray(format="rgb24")[:, :520] for f in c.decode(video=0)]
    loop = real + real[::-1]
    clip = write_test_clip(tmp_path / "loop.mp4", [loop[i % len(loop)] for i in range(270)], fps=30, gop=30)
    assert parts_for(probe_video(clip).duration_s) == 2
    one = PoseEstimator(parts=1).estimate(clip)
    seen: list[float] = []
    two = PoseEstimator(workers=2).estimate(clip, progress=seen.append)
    assert (one.meta["parts"], two.meta["parts"]) == (1, 2)
    assert np.array_equal(one.times_s, two.times_s) and seen[-1] == 1.0
    torso = np.linalg.norm(one.xy[:, J["left_shoulder"]] - one.xy[:, J["left_hip"]], axis=-1)
    visible = (one.conf >= 0.5) & (two.conf > 0)
    close = np.linalg.norm(one.xy - two.xy, axis=-1) < 0.05 * torso[:, None]
    assert visible.sum() > 100 and close[visible].mean() >= 0.95
    times = two.meta["thumbnails"]["times_s"]
    assert times == one.meta["thumbnails"]["times_s"] and np.allclose(np.diff(times), 0.5, atol=0.05)
