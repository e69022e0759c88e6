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
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crosstrainer.errors import InvalidVideoError, NoPersonError
from crosstrainer.keypoints.formats import to_ct17
from crosstrainer.keypoints.skeleton import PoseSequence
from crosstrainer.video.decode import Segment, iter_frames, iter_segment, plan_segments, probe_video, sampling_step

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

    def due(self, t: float) -> bool:
        return not self.times_s or t >= self.times_s[-1] + self.every_s - 1e-3

    def add(self, t: float, rgb: np.ndarray) -> None:
        """Keep a thumbnail of ``rgb`` (H, W, 3 uint8) at ``t`` seconds if one is due."""
        if not self.due(t):
            return
        from PIL import Image

        image = Image.fromarray(np.ascontiguousarray(rgb))
        image.thumbnail((self.side, self.side), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=self.quality)
        self.add_jpeg(t, buf.getvalue())

    def add_jpeg(self, t: float, jpeg: bytes) -> None:
        """Keep an already encoded thumbnail at ``t`` seconds if one is due (merging the strips of several workers)."""
        if not self.due(t):
            return
        self.times_s.append(round(float(t), 3))
        self.jpeg.append(jpeg)
        self.nbytes += len(jpeg)
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


@dataclass
class _Run:
    """What one pose worker found: sampled-frame times, (33, 3) landmark rows, thumbnails, and its stage times."""

    times: list[float] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)
    thumbs: Thumbnails | None = None
    decode_s: float = 0.0
    pose_s: float = 0.0


class _Counter:
    """Frames done across workers, reported to a ``progress(fraction)`` callback (thread-safe)."""

    def __init__(self, progress: Callable[[float], None] | None, expected: int) -> None:
        self.progress, self.expected, self.done = progress, expected, 0
        self.lock = threading.Lock()

    def step(self) -> None:
        if self.progress is None:
            return
        with self.lock:
            self.done += 1
            self.progress(min(1.0, self.done / self.expected))


def parts_for(duration_s: float) -> int:
    """How many parts :class:`PoseEstimator` cuts a video of ``duration_s`` into: ``parts_for(30) == 2``.

    A function of the video alone (not of the machine's cores), so results are the same everywhere; powers of 2 so
    2, 4 or 8 cores share the parts evenly."""
    return 1 if duration_s < 8 else 2 if duration_s < 60 else 4 if duration_s < 240 else 8


class PoseEstimator:
    """MediaPipe Pose (full model) over frames sampled at ``sample_fps`` and downscaled to ``max_side``.

    ``estimate`` returns a CT17 ``PoseSequence`` in pixels of the ORIGINAL frame (x and y share units) with
    ``meta = {"video": VideoInfo dict, "timings": {"decode_s", "pose_s", "wall_s"}, "detected_frames", "frames",
    "parts", "layout": "mediapipe33", "estimator": ..., "thumbnails": Thumbnails.to_meta()}``.
    ``thumbnail_every_s=None`` keeps no thumbnails.

    MediaPipe runs a graph on one core. A video is cut at keyframes into :func:`parts_for` its duration parts
    (:func:`~crosstrainer.video.decode.plan_segments`: 2 from 8 s, 4 from 1 min, 8 from 4 min), each decoded and
    tracked by its own MediaPipe graph, ``workers`` at a time in threads, so decoding and pose use every core. The
    parts yield exactly the frames one pass would; each part's tracker starts with a detection, so landmarks can
    differ slightly from one pass (``benchmarks/bench_assess.py`` reports the agreement). The cut depends on the
    video only, never on the machine: every machine computes the same landmarks. Videos that cannot be cut
    exactly (one keyframe, no timestamps) run in one pass. ``workers=None``: one per core; ``parts=1``: one pass.
    """

    def __init__(
        self,
        sample_fps: float = 10.0,
        max_side: int = 640,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        quiet: bool = True,
        thumbnail_every_s: float | None = 0.5,
        workers: int | None = None,
        parts: int | None = None,
    ) -> None:
        self.sample_fps = sample_fps
        self.max_side = max_side
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.quiet = quiet
        self.thumbnail_every_s = thumbnail_every_s
        self.workers = max(1, workers if workers is not None else os.cpu_count() or 1)
        self.parts = parts

    def config(self) -> dict:
        return {
            "estimator": "mediapipe-pose-legacy",
            "model_complexity": 1,
            "sample_fps": self.sample_fps,
            "max_side": self.max_side,
            "min_detection_confidence": self.min_detection_confidence,
            "min_tracking_confidence": self.min_tracking_confidence,
            "parts": self.parts if self.parts is not None else "by duration (parts_for)",
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
        t_start = time.perf_counter()
        with quiet_native_stderr(self.quiet):
            import mediapipe  # noqa: F401  (imported once here: threads importing it at once would race)

            runs = None
            parts = self.parts if self.parts is not None else parts_for(info.duration_s)
            segments = plan_segments(path, self.sample_fps, parts) if parts > 1 else None
            if segments:
                try:
                    runs = self._parallel(path, info, segments, _Counter(progress, expected))
                except InvalidVideoError:  # a part did not decode as planned: one pass decides what is readable
                    runs = None
            if runs is None:
                frames = iter_frames(path, self.sample_fps, self.max_side)
                runs = [self._track(frames, info, _Counter(progress, expected), threading.Event())]
        if progress is not None:
            progress(1.0)
        rows = [r for run in runs for r in run.rows]
        times = [t for run in runs for t in run.times]
        array = np.stack(rows) if rows else np.zeros((0, 33, 3), np.float32)
        detected = int((array[:, :, 2] > 0).any(axis=1).sum()) if rows else 0
        name = Path(path).name
        if len(rows) == 0 or detected < MIN_DETECTED_FRACTION * len(rows):
            raise NoPersonError(f"no person detected in {name} ({detected} of {len(rows)} sampled frames)")
        xy, conf = to_ct17(array, "mediapipe33")
        fps = info.fps / step if info.fps > 0 else float(self.sample_fps or 30.0)
        meta = {
            "video": info.to_dict(),
            "timings": {
                "decode_s": sum(r.decode_s for r in runs),
                "pose_s": sum(r.pose_s for r in runs),
                "wall_s": time.perf_counter() - t_start,
            },
            "detected_frames": detected,
            "frames": len(rows),
            "parts": len(runs),
            "layout": "mediapipe33",
            "estimator": self.config(),
        }
        if self.thumbnail_every_s:
            strip = Thumbnails(self.thumbnail_every_s)
            for run in runs:
                for t, jpeg in zip(run.thumbs.times_s, run.thumbs.jpeg, strict=True) if run.thumbs else ():
                    strip.add_jpeg(t, jpeg)
            meta["thumbnails"] = strip.to_meta((info.width, info.height))
        return PoseSequence(xy=xy, conf=conf, times_s=np.asarray(times), fps=fps, source=str(path), meta=meta)

    def _parallel(self, path: str | Path, info, segments: list[Segment], counter: _Counter) -> list[_Run]:
        """One thread and MediaPipe graph per segment; the first error stops the others and is raised."""
        stop = threading.Event()

        def work(segment: Segment) -> _Run:
            frames = ((t, rgb) for _, t, rgb in iter_segment(path, segment, self.max_side))
            return self._track(frames, info, counter, stop)

        with ThreadPoolExecutor(min(self.workers, len(segments)), thread_name_prefix="pose") as pool:
            futures = [pool.submit(work, seg) for seg in segments]
            try:
                return [f.result() for f in futures]
            except BaseException:  # an error in a part, or Ctrl-C in the main thread: stop every worker first
                stop.set()
                raise

    def _track(
        self, frames: Iterator[tuple[float, np.ndarray]], info, counter: _Counter, stop: threading.Event
    ) -> _Run:
        """Track the pose through ``frames`` ((time_s, rgb) in order) with a fresh MediaPipe graph."""
        import mediapipe as mp

        run = _Run(thumbs=Thumbnails(self.thumbnail_every_s) if self.thumbnail_every_s else None)
        model = mp.solutions.pose.Pose(
            static_image_mode=False,
            model_complexity=1,
            smooth_landmarks=True,
            enable_segmentation=False,
            min_detection_confidence=self.min_detection_confidence,
            min_tracking_confidence=self.min_tracking_confidence,
        )
        try:
            while not stop.is_set():
                t0 = time.perf_counter()
                item = next(frames, None)
                run.decode_s += time.perf_counter() - t0
                if item is None:
                    break
                t, rgb = item
                t0 = time.perf_counter()
                result = model.process(rgb)
                run.pose_s += time.perf_counter() - t0
                run.rows.append(_landmarks_array(result, info.width, info.height))
                run.times.append(t)
                if run.thumbs is not None:
                    run.thumbs.add(t, rgb)
                counter.step()
        finally:
            model.close()
            close = getattr(frames, "close", None)
            if close is not None:
                close()
        return run


def _landmarks_array(result, width: int, height: int) -> np.ndarray:
    """(33, 3) of x, y in pixels and visibility; all NaN/0 when no pose was found."""
    out = np.full((33, 3), np.nan, np.float32)
    out[:, 2] = 0.0
    if result.pose_landmarks is None:
        return out
    lm = result.pose_landmarks.landmark
    out[:] = [(p.x * width, p.y * height, p.visibility) for p in lm]
    return out
