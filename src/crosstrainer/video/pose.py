"""2-D pose from video with MediaPipe Pose (the legacy ``mp.solutions.pose`` API of mediapipe 0.10.21).

Only ``model_complexity=1`` is usable offline: its two TFLite models ship inside the mediapipe 0.10.21 wheel, while
complexity 0 and 2 try to download theirs. The legacy API tracks ONE person (the most prominent one at the start; it
re-detects when tracking is lost). For videos with several people, extract keypoints with a multi-person estimator
and use ``crosstrainer.keypoints.io.load_keypoints``, which picks the main person.

>>> pose = PoseEstimator(sample_fps=10).estimate("examples/sample_bicep_curl.mp4")  # doctest: +SKIP
>>> pose.xy.shape, round(pose.fps, 2), pose.meta["detected_frames"], pose.meta["frames"]  # doctest: +SKIP
((23, 17, 2), 9.99, 23, 23)

The returned ``PoseSequence`` holds the raw MediaPipe output (pixels of the original frame, ``conf`` = landmark
visibility, NaN/0 on frames without a pose). Cleaning (gap filling, smoothing) is done by ``KinematicEncoder`` via
``keypoints.filtering.clean_pose``, the same for every source, so saved keypoints re-encode to identical features.

The pass also keeps small JPEG thumbnails of the frames it decodes (``meta["thumbnails"]``, see ``Thumbnails``): the
HTML report draws its key frames from them, so the video is decoded once per assessment.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from crosstrainer.errors import NoPersonError
from crosstrainer.keypoints.formats import to_ct17
from crosstrainer.keypoints.skeleton import PoseSequence
from crosstrainer.video.decode import iter_frames, probe_video, sampling_step

MIN_DETECTED_FRACTION = 0.10
"""Fewer sampled frames with a pose than this fraction raise ``NoPersonError``."""


class Thumbnails:
    """Small JPEG copies of decoded frames, one every ``every_s`` seconds, within ``max_bytes`` in total.

    ``add(t, rgb)`` keeps the frame when ``every_s`` has passed since the last one kept, downscaled so the longer
    side is at most ``side`` pixels. When the JPEGs outgrow ``max_bytes`` (a long video), every other one is dropped
    and the interval doubles, so a clip of any length keeps evenly spaced thumbnails in at most ``max_bytes`` (at the
    defaults a 320x180 thumbnail is about 10 kB: a 10-minute video keeps one every 1 or 2 s, under 8 MiB).

    >>> strip = Thumbnails(every_s=0.5)
    >>> for i in range(20):
    ...     strip.add(i / 10, np.zeros((360, 640, 3), np.uint8))
    >>> strip.to_meta((640, 360))["times_s"], strip.to_meta((640, 360))["frame_size"]
    ([0.0, 0.5, 1.0, 1.5], [640, 360])
    """

    def __init__(self, every_s: float = 0.5, side: int = 320, max_bytes: int = 8 * 2**20, quality: int = 75) -> None:
        self.every_s, self.side, self.max_bytes, self.quality = float(every_s), int(side), int(max_bytes), int(quality)
        self.times_s: list[float] = []
        self.jpeg: list[bytes] = []
        self.nbytes = 0

    def add(self, t: float, rgb: np.ndarray) -> None:
        """Keep a thumbnail of ``rgb`` (H, W, 3 uint8) at ``t`` seconds if one is due."""
        if self.times_s and t < self.times_s[-1] + self.every_s - 1e-3:
            return
        from PIL import Image

        image = Image.fromarray(np.ascontiguousarray(rgb))
        image.thumbnail((self.side, self.side), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=self.quality)
        self.times_s.append(round(float(t), 3))
        self.jpeg.append(buf.getvalue())
        self.nbytes += len(self.jpeg[-1])
        while self.nbytes > self.max_bytes and len(self.jpeg) > 1:
            self.times_s, self.jpeg = self.times_s[::2], self.jpeg[::2]
            self.nbytes = sum(map(len, self.jpeg))
            self.every_s *= 2

    def to_meta(self, frame_size: tuple[int, int]) -> dict:
        """``{"times_s", "jpeg", "frame_size"}``; ``frame_size`` (width, height) is the frame the pose pixels are in."""
        return {"times_s": list(self.times_s), "jpeg": list(self.jpeg), "frame_size": [int(v) for v in frame_size]}


@contextlib.contextmanager
def quiet_native_stderr(enabled: bool = True) -> Iterator[None]:
    """Silence C/C++ writes to file descriptor 2 (absl/glog/TFLite banners) while the block runs.

    Python's ``sys.stderr`` is pointed at a duplicate of the real stderr meanwhile, so Python warnings and progress
    bars drawn on stderr still show; only native code writing straight to fd 2 goes to /dev/null.
    """
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (e.g. some notebook kernels): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    old_stderr = sys.stderr
    py_stderr = open(saved, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115
    try:
        os.dup2(devnull, 2)
        sys.stderr = py_stderr
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            py_stderr.flush()
        sys.stderr = old_stderr
        _flush_c_stdio()  # C stdio may buffer the banners: flush them into /dev/null, not into the restored fd
        os.dup2(saved, 2)
        py_stderr.close()
        os.close(saved)
        os.close(devnull)


def _flush_c_stdio() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no libc symbol table (e.g. Windows): nothing buffered to worry about
        pass


def _silence_python_logs() -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # absl comes with mediapipe; nothing to do without it
        pass


class PoseEstimator:
    """MediaPipe Pose (full model) over frames sampled at ``sample_fps`` and downscaled to ``max_side``.

    ``estimate`` returns a CT17 ``PoseSequence`` in pixels of the ORIGINAL frame (x and y share units) with
    ``meta = {"video": VideoInfo dict, "timings": {"decode_s", "pose_s"}, "detected_frames", "frames",
    "layout": "mediapipe33", "estimator": ..., "thumbnails": Thumbnails.to_meta()}``. ``thumbnail_every_s=None``
    keeps no thumbnails.
    """

    def __init__(
        self,
        sample_fps: float = 10.0,
        max_side: int = 640,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        quiet: bool = True,
        thumbnail_every_s: float | None = 0.5,
    ) -> None:
        self.sample_fps = sample_fps
        self.max_side = max_side
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.quiet = quiet
        self.thumbnail_every_s = thumbnail_every_s

    def config(self) -> dict:
        return {
            "estimator": "mediapipe-pose-legacy",
            "model_complexity": 1,
            "sample_fps": self.sample_fps,
            "max_side": self.max_side,
            "min_detection_confidence": self.min_detection_confidence,
            "min_tracking_confidence": self.min_tracking_confidence,
        }

    def estimate(self, path: str | Path, progress: Callable[[float], None] | None = None) -> PoseSequence:
        """Run pose on the sampled frames of ``path``; ``progress`` gets the fraction done (0..1) after each frame.

        Raises ``InputNotFoundError``/``InvalidVideoError`` (from decoding) and ``NoPersonError`` when fewer than 10%
        of the sampled frames have a pose.
        """
        info = probe_video(path)
        step = sampling_step(info.fps, self.sample_fps)
        expected = max(1, -(-info.num_frames // step))
        _silence_python_logs()
        times: list[float] = []
        rows: list[np.ndarray] = []
        thumbs = Thumbnails(self.thumbnail_every_s) if self.thumbnail_every_s else None
        decode_s = pose_s = 0.0
        with quiet_native_stderr(self.quiet):
            import mediapipe as mp

            model = mp.solutions.pose.Pose(
                static_image_mode=False,
                model_complexity=1,
                smooth_landmarks=True,
                enable_segmentation=False,
                min_detection_confidence=self.min_detection_confidence,
                min_tracking_confidence=self.min_tracking_confidence,
            )
            try:
                frames = iter_frames(path, self.sample_fps, self.max_side)
                while True:
                    t0 = time.perf_counter()
                    item = next(frames, None)
                    decode_s += time.perf_counter() - t0
                    if item is None:
                        break
                    t, rgb = item
                    t0 = time.perf_counter()
                    result = model.process(rgb)
                    pose_s += time.perf_counter() - t0
                    rows.append(_landmarks_array(result, info.width, info.height))
                    times.append(t)
                    if thumbs is not None:
                        thumbs.add(t, rgb)
                    if progress is not None:
                        progress(min(1.0, len(rows) / expected))
            finally:
                model.close()
        if progress is not None:
            progress(1.0)
        array = np.stack(rows) if rows else np.zeros((0, 33, 3), np.float32)
        detected = int((array[:, :, 2] > 0).any(axis=1).sum()) if rows else 0
        name = Path(path).name
        if len(rows) == 0 or detected < MIN_DETECTED_FRACTION * len(rows):
            raise NoPersonError(f"no person detected in {name} ({detected} of {len(rows)} sampled frames)")
        xy, conf = to_ct17(array, "mediapipe33")
        fps = info.fps / step if info.fps > 0 else float(self.sample_fps or 30.0)
        meta = {
            "video": info.to_dict(),
            "timings": {"decode_s": decode_s, "pose_s": pose_s},
            "detected_frames": detected,
            "frames": len(rows),
            "layout": "mediapipe33",
            "estimator": self.config(),
        }
        if thumbs is not None:
            meta["thumbnails"] = thumbs.to_meta((info.width, info.height))
        return PoseSequence(xy=xy, conf=conf, times_s=np.asarray(times), fps=fps, source=str(path), meta=meta)


def _landmarks_array(result, width: int, height: int) -> np.ndarray:
    """(33, 3) of x, y in pixels and visibility; all NaN/0 when no pose was found."""
    out = np.full((33, 3), np.nan, np.float32)
    out[:, 2] = 0.0
    if result.pose_landmarks is None:
        return out
    lm = result.pose_landmarks.landmark
    out[:] = [(p.x * width, p.y * height, p.visibility) for p in lm]
    return out
