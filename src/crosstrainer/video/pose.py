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
"""

from __future__ import annotations

import contextlib
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
    "layout": "mediapipe33", "estimator": ...}``.
    """

    def __init__(
        self,
        sample_fps: float = 10.0,
        max_side: int = 640,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        quiet: bool = True,
    ) -> None:
        self.sample_fps = sample_fps
        self.max_side = max_side
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.quiet = quiet

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
