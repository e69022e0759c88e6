"""Video decoding with PyAV: probe (cached per file), sampled RGB frames, and a decode-only benchmark floor.

Every frame is decoded (codecs need it), but only the sampled ones are converted to RGB and downscaled, in one
swscale pass (``VideoFrame.reformat``): that is the hot path of ``crosstrainer assess``.

>>> info = probe_video("examples/sample_bicep_curl.mp4")  # doctest: +SKIP
>>> info.width, info.height, round(info.fps, 2)            # doctest: +SKIP
(522, 294, 29.97)
>>> for t, rgb in iter_frames("examples/sample_bicep_curl.mp4", sample_fps=10):  # doctest: +SKIP
...     print(round(t, 3), rgb.shape, rgb.dtype)   # 0.0 (294, 522, 3) uint8, then 0.1 ...
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from crosstrainer.errors import InputNotFoundError, InvalidVideoError

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".webm", ".mkv", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp")


@dataclass
class VideoInfo:
    """What ``probe_video`` learns from the container without decoding the whole video.

    ``num_frames`` is the stream's frame count when the container stores one, else ``round(duration_s * fps)``.
    ``rotation`` is the display rotation in degrees from the stream's metadata (phones write 90/-90/180);
    ``iter_frames`` applies it, and ``width``/``height`` are the size after rotation.
    """

    path: str
    duration_s: float
    fps: float
    width: int
    height: int
    num_frames: int
    codec: str
    rotation: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _open(path: str | Path) -> av.container.InputContainer:
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"video not found: {p}")
    if p.is_dir():
        raise InvalidVideoError(f"{p} is a folder, not a video file")
    if p.stat().st_size == 0:
        raise InvalidVideoError(f"{p} is empty (0 bytes)")
    try:
        return av.open(str(p))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise InvalidVideoError(f"{p} is not a readable video ({type(e).__name__}: {_short(e)})") from None


# FFmpeg demuxers that read a bare elementary stream (or a single image) with no container around it. FFmpeg picks
# them by *guessing* from the first bytes, so random bytes with a few start codes can pass as "H.263" or "MJPEG" and
# even decode into a garbage frame. Such a file is accepted only when its own name says what it is (``.h264``,
# ``.mjpeg``: the demuxer's extensions); named ``.mp4`` or anything else, it is not a video.
RAW_STREAM_FORMATS = frozenset(
    {
        "h261",
        "h263",
        "h264",
        "hevc",
        "vvc",
        "m4v",
        "mpegvideo",
        "cavsvideo",
        "avs2",
        "avs3",
        "vc1",
        "dirac",
        "dnxhd",
        "mjpeg",
        "mjpeg_2000",
        "rawvideo",
        "obu",
        "ingenient",
        "image2",
        "image2pipe",
        "tty",
        "bin",
        "xbin",
        "idf",
        "adf",
    }
)


def _check_container(container: av.container.InputContainer, path: str | Path) -> None:
    """Refuse a guessed raw elementary stream or image (see ``RAW_STREAM_FORMATS``) unless the file name says so."""
    fmt = container.format
    names = set(fmt.name.split(","))
    if not (names & RAW_STREAM_FORMATS or any(n.endswith("_pipe") for n in names)):
        return
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix and (suffix in names or suffix in {e.lower() for e in (fmt.extensions or ())}):
        return
    container.close()
    image = any(n.endswith("_pipe") or n.startswith("image2") for n in names)
    raise InvalidVideoError(
        f"{path} is not a video{' (an image?)' if image else ''}: no video container was found "
        f"(FFmpeg could only guess a raw {fmt.name} stream from its bytes)"
    )


def _short(e: BaseException) -> str:
    return str(e).splitlines()[0][:160] if str(e) else type(e).__name__


def _video_stream(container: av.container.InputContainer, path: str | Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        container.close()
        raise InvalidVideoError(f"{path} has no video stream")
    return container.streams.video[0]


def _rotation(frame: av.VideoFrame) -> int:
    try:
        return round(float(frame.rotation)) % 360
    except (AttributeError, TypeError, ValueError):
        return 0


def _first_frame(container: av.container.InputContainer, stream, path: str | Path) -> av.VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError as e:
        raise InvalidVideoError(f"{path} could not be decoded ({_short(e)})") from None
    raise InvalidVideoError(f"{path} has no video frames")


_PROBE_CACHE: OrderedDict[tuple, VideoInfo] = OrderedDict()
_PROBE_CACHE_SIZE = 64
_PROBE_LOCK = threading.Lock()


def _probe_key(path: str | Path) -> tuple | None:
    """(resolved path, size, mtime, inode) of a regular file, or None (missing, a folder...: not cached)."""
    try:
        p = Path(path).resolve()
        st = p.stat()
    except (OSError, RuntimeError):
        return None
    if not p.is_file():
        return None
    return str(p), st.st_size, st.st_mtime_ns, st.st_ino


def probe_video(path: str | Path) -> VideoInfo:
    """Read the container header and decode the first frame (to prove the video is readable).

    The stream must come from a real container: a raw elementary stream or image that FFmpeg only guessed from the
    bytes is refused unless the file's name says what it is (``RAW_STREAM_FORMATS``).

    Raises ``InputNotFoundError`` (missing file) or ``InvalidVideoError`` (not a video, corrupt, no frames).
    When the container stores no duration, the packets are counted (demux only, no decoding).
    Results are cached per (resolved path, size, mtime): the preflight check, the pose pass and ``iter_frames``
    share one probe; a changed file is probed again. Failures are not cached.
    """
    key = _probe_key(path)
    if key is not None:
        with _PROBE_LOCK:
            hit = _PROBE_CACHE.get(key)
            if hit is not None:
                _PROBE_CACHE.move_to_end(key)
                return replace(hit, path=str(path))
    info = _probe(path)
    if key is not None:
        with _PROBE_LOCK:
            _PROBE_CACHE[key] = info
            while len(_PROBE_CACHE) > _PROBE_CACHE_SIZE:
                _PROBE_CACHE.popitem(last=False)
    return replace(info)


def _probe(path: str | Path) -> VideoInfo:
    container = _open(path)
    _check_container(container, path)
    try:
        stream = _video_stream(container, path)
        codec = stream.codec_context.name
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        first = _first_frame(container, stream, path)
        rot = _rotation(first)
        w, h = first.width, first.height
        if rot in (90, 270):
            w, h = h, w
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        num_frames = int(stream.frames or 0)
        if duration <= 0 or num_frames <= 0 or fps <= 0:
            n, span = _count_packets(path)
            num_frames = num_frames or n
            if fps <= 0 and span > 0 and n > 1:
                fps = (n - 1) / span
            if duration <= 0 and fps > 0:
                duration = num_frames / fps
        if num_frames <= 0 and fps > 0:
            num_frames = round(duration * fps)
        if fps <= 0:
            fps = 30.0  # a single-frame "video" (or no timing at all): assume 30 fps, the common default
        if duration <= 0:
            duration = max(num_frames, 1) / fps
        return VideoInfo(str(path), duration, fps, w, h, max(num_frames, 1), codec, rot)
    finally:
        container.close()


def _count_packets(path: str | Path) -> tuple[int, float]:
    """Count video packets and their pts span in seconds (demux only)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n, lo, hi = 0, None, None
        for pkt in c.demux(s):
            if pkt.size == 0:
                continue
            n += 1
            if pkt.pts is not None:
                t = float(pkt.pts * s.time_base)
                lo = t if lo is None else min(lo, t)
                hi = t if hi is None else max(hi, t)
        return n, (hi - lo) if lo is not None and hi is not None else 0.0


def _target_size(w: int, h: int, max_side: int | None) -> tuple[int, int]:
    """Keep the aspect ratio; the long side <= max_side; even sizes (swscale and encoders like them)."""
    if not max_side or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(2, round(w * s / 2) * 2), max(2, round(h * s / 2) * 2)


def _to_rgb(frame: av.VideoFrame, max_side: int | None) -> np.ndarray:
    rot = _rotation(frame)
    w, h = frame.width, frame.height
    tw, th = _target_size(w, h, max_side)
    rgb = frame.reformat(width=tw, height=th, format="rgb24").to_ndarray()
    if rot:
        # PyAV reports the counter-clockwise display rotation; np.rot90 rotates counter-clockwise for k > 0.
        rgb = np.ascontiguousarray(np.rot90(rgb, k=rot // 90))
    return rgb


def _frame_time(frame: av.VideoFrame, index: int, fps: float) -> float | None:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    return index / fps if fps > 0 else None


def iter_frames(
    path: str | Path, sample_fps: float | None = 10.0, max_side: int | None = 640
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(time_s, rgb)`` with ``rgb`` an (H, W, 3) uint8 array, for frames sampled at about ``sample_fps``.

    Sampling takes every ``k``-th decoded frame with ``k = max(1, round(fps / sample_fps))`` (so a 29.97 fps video at
    ``sample_fps=10`` gives exactly 9.99 fps, evenly spaced); ``sample_fps=None`` keeps every frame. ``time_s`` is the
    frame's presentation time minus the first frame's, so the first yielded frame is at 0.0 (for variable frame rate
    videos the times are the real, uneven ones). ``max_side`` downscales (aspect kept) so the long side fits.
    Raises ``InvalidVideoError`` if nothing can be decoded; a corrupt tail after good frames ends the iteration.
    """
    step = sampling_step(probe_video(path).fps, sample_fps)
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 30.0
        t0: float | None = None
        index = 0
        yielded = 0
        try:
            for frame in container.decode(stream):
                t = _frame_time(frame, index, fps)
                if t is None:
                    t = index / fps
                if t0 is None:
                    t0 = t
                if index % step == 0:
                    yielded += 1
                    yield max(0.0, t - t0), _to_rgb(frame, max_side)
                index += 1
        except av.FFmpegError as e:
            if yielded == 0:
                raise InvalidVideoError(f"{path} could not be decoded ({_short(e)})") from None
        if index == 0:
            raise InvalidVideoError(f"{path} has no video frames")
    finally:
        container.close()


@dataclass
class Segment:
    """One decoding worker's share of a video: where to seek (a keyframe's pts; ``None``: from the start) and the
    sampled frames it yields, ``{pts: index among all sampled frames}``; ``t0_pts`` is the first frame's pts
    (times are counted from it, as in :func:`iter_frames`)."""

    seek_pts: int | None
    wanted: dict[int, int]
    t0_pts: int


def plan_segments(path: str | Path, sample_fps: float | None, parts: int) -> list[Segment] | None:
    """Split the frames :func:`iter_frames` would yield into ``parts`` runs that start at keyframes (demux only).

    Frames are numbered in presentation order (sorted pts), exactly as :func:`iter_frames` counts decoded frames, so
    the segments together yield the same frames at the same times. ``None`` when no split is possible or safe:
    packets without pts, duplicate pts, fewer than two keyframes, or too few sampled frames per part.

    >>> [len(s.wanted) for s in plan_segments("long_720p.mp4", 10, 2)]  # doctest: +SKIP
    [150, 150]
    """
    if parts < 2:
        return None
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        pts: list[int] = []
        keys: list[int] = []
        try:
            for pkt in container.demux(stream):
                if pkt.size == 0:
                    continue
                if pkt.pts is None:
                    return None
                pts.append(int(pkt.pts))
                if pkt.is_keyframe:
                    keys.append(int(pkt.pts))
        except av.FFmpegError:
            return None
    finally:
        container.close()
    order = sorted(pts)
    if len(set(order)) != len(order) or len(keys) < 2:
        return None
    step = sampling_step(probe_video(path).fps, sample_fps)
    sampled = order[::step]
    if len(sampled) < 8 * parts:
        return None
    cuts: list[int] = []  # sampled-frame positions where a part starts (at a keyframe)
    for k in range(1, parts):
        target = sampled[len(sampled) * k // parts]
        key = min(keys, key=lambda q: abs(q - target))
        at = next((i for i, q in enumerate(sampled) if q >= key), len(sampled))
        if (cuts[-1] if cuts else 0) < at < len(sampled) and key > order[0]:
            cuts.append(at)
    if not cuts:
        return None
    bounds = [0, *cuts, len(sampled)]
    segments = []
    for a, b in itertools.pairwise(bounds):
        seek = None if a == 0 else max(q for q in keys if q <= sampled[a])
        segments.append(Segment(seek, {sampled[i]: i for i in range(a, b)}, order[0]))
    return segments


def iter_segment(
    path: str | Path, segment: Segment, max_side: int | None = 640
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(index, time_s, rgb)`` for the frames of ``segment`` (see :func:`plan_segments`), in order.

    Raises ``InvalidVideoError`` when a wanted frame never comes out of the decoder (the caller then decodes the
    video in one pass instead)."""
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        base = stream.time_base
        if segment.seek_pts is not None:
            container.seek(segment.seek_pts, stream=stream, backward=True, any_frame=False)
        left = len(segment.wanted)
        try:
            for frame in container.decode(stream):
                index = segment.wanted.get(frame.pts) if frame.pts is not None else None
                if index is None:
                    continue
                yield index, max(0.0, float(frame.pts * base) - float(segment.t0_pts * base)), _to_rgb(frame, max_side)
                left -= 1
                if left == 0:
                    return
        except av.FFmpegError as e:
            raise InvalidVideoError(f"{path} could not be decoded ({_short(e)})") from None
        raise InvalidVideoError(f"{path}: {left} sampled frames did not come out of the decoder after a seek")
    finally:
        container.close()


def sampling_step(fps: float, sample_fps: float | None) -> int:
    """Frame stride that ``iter_frames`` uses: ``sampling_step(29.97, 10) == 3``; ``None`` gives 1 (every frame)."""
    if not sample_fps or sample_fps <= 0 or fps <= 0:
        return 1
    return max(1, round(fps / sample_fps))


def decode_only(path: str | Path) -> float:
    """Decode every frame without any conversion and return the wall time in seconds (the benchmark's floor)."""
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        t = time.perf_counter()
        n = 0
        try:
            for _ in container.decode(stream):
                n += 1
        except av.FFmpegError as e:
            raise InvalidVideoError(f"{path} could not be decoded ({_short(e)})") from None
        if n == 0:
            raise InvalidVideoError(f"{path} has no video frames")
        return time.perf_counter() - t
    finally:
        container.close()


def write_test_clip(
    path: str | Path,
    frames: list[np.ndarray] | np.ndarray,
    fps: float = 30.0,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    gop: int | None = None,
) -> Path:
    """Encode RGB uint8 frames (N, H, W, 3) into a video (used by tests and examples; even sizes are safest);
    ``gop``: a keyframe every ``gop`` frames (default: the encoder's)."""
    path = Path(path)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=rate)
        s.width, s.height = int(frames[0].shape[1]), int(frames[0].shape[0])
        s.pix_fmt = pix_fmt
        if gop:
            s.codec_context.gop_size = int(gop)
            if codec == "libx264":
                s.codec_context.options = {"keyint_min": str(gop), "sc_threshold": "0"}
        for img in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img, dtype=np.uint8), format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return path
