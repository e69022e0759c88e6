"""QEVD FIT-COACH (Qualcomm Exercise Video Dataset) long-range workouts with timestamped live feedback.

Layout, as the dataset zips unpack (``split="train"`` reads QEVD-FIT-COACH, ``"test"`` the benchmark)::

    <root>/QEVD-FIT-COACH/feedbacks_long_range.json
    <root>/QEVD-FIT-COACH/long_range_videos/0000.mp4, 0000_timestamps.npy, ...
    <root>/QEVD-FIT-COACH-Benchmark/feedbacks_long_range.json, long_range_videos/...

(``root`` may also be one of those two folders, or the JSON file itself.) ``feedbacks_long_range.json`` is a list
with one record per workout video, field names as read by Qualcomm's own loader (``fit_coach`` in the QEVD code)::

    [{"long_range_video_file": "./long_range_videos/0000.mp4",
      "video_timestamps": "./long_range_videos/0000_timestamps.npy",
      "feedbacks": ["", "", "First up are squats!", "First up are squats!", "", "Lower your hips more.", ...],
      "feedback_timestamps": [1690000001.2, 1690000003.9, ...],
      "is_transition": [true, false, ...]}]

``feedbacks`` is dense, one string per video frame ("" = silent); a run of identical strings is one feedback
span. ``feedback_timestamps`` and ``is_transition`` have one entry per span. Transitions ("First up are squats!",
"Moving on to lunges!") name the exercise; the other spans are the coaching feedback kept as commentary. As in
Qualcomm's own preparation script (``get_feedback_span`` and ``load_fit_coach_dataset`` in the FitCoach code,
``src/fitness_datasets/fitcoach.py``), a run that lasts to the last frame is not a span (it is never closed), and
``armcrosschest`` is renamed ``deltoid stretch`` in every feedback before the spans are cut.

Timing (our choice, documented): a comment's ``time_s`` is the span's first frame, in seconds from the video's
first frame, read from the per-frame ``*_timestamps.npy`` (unit detected from the frame spacing: ns, us, ms
or s) when present, else frame index / ``fps`` (default 30). The raw ``feedback_timestamps`` clock is not the
video's (Qualcomm adds a time-zone offset), so it is kept as ``wall_time`` only. ``end_s`` is the span's end.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.data._io import read_json
from crosstrainer.data.sample import Commentary, Sample
from crosstrainer.errors import InputNotFoundError, InvalidAnnotationError

FILE_NAME = "feedbacks_long_range.json"
SPLIT_DIRS = {"train": "QEVD-FIT-COACH", "test": "QEVD-FIT-COACH-Benchmark"}
_TRANSITION = re.compile(r"^(first up (are|is)|moving on to|next up (are|is)|next,?)\s+", re.IGNORECASE)


def feedback_spans(feedbacks: list[str]) -> list[tuple[str, int, int]]:
    """``(text, first_frame, last_frame)`` for each run of one non-empty string in a dense per-frame list.

    As Qualcomm's ``get_feedback_span`` does, a run is closed by the next different frame: a run still going at
    the last frame is not returned (the files' ``feedback_timestamps`` and ``is_transition`` have no entry for it).

    >>> feedback_spans(["", "a", "a", "", "b", "b"])
    [('a', 1, 2)]
    """
    spans: list[tuple[str, int, int]] = []
    start = None
    for i, text in enumerate(feedbacks):
        if start is not None and text != feedbacks[start]:
            spans.append((feedbacks[start], start, i - 1))
            start = None
        if text and start is None:
            start = i
    return spans


def fix_exercise_names(feedbacks: list[str]) -> list[str]:
    """Qualcomm's loader renames ``armcrosschest`` to ``deltoid stretch`` in every feedback before anything else."""
    return [f.replace("armcrosschest", "deltoid stretch") for f in feedbacks]


def exercise_name(transition: str) -> str:
    """``"First up are squats!"`` -> ``"squats"``."""
    return _TRANSITION.sub("", transition.strip()).rstrip("!. ").strip().lower()


def frame_times(path: Path | None, n_frames: int, fps: float) -> np.ndarray:
    """Seconds since the first frame for each frame, from a ``*_timestamps.npy`` or from ``fps``."""
    if path is not None and path.is_file():
        try:
            raw = np.asarray(np.load(path), dtype=np.float64).ravel()
        except (OSError, ValueError) as exc:
            raise InvalidAnnotationError(f"{path}: cannot read frame timestamps ({exc})") from exc
        if len(raw) >= 2:
            step = float(np.median(np.diff(raw)))
            scale = 1.0
            for unit in (1e9, 1e6, 1e3):  # a ~30 fps frame step is ~3e7 ns, 3e4 us, 33 ms, 0.033 s
                if step > unit * 1e-3:
                    scale = unit
                    break
            times = (raw - raw[0]) / scale
            if len(times) >= n_frames:
                return times
            extra = times[-1] + (np.arange(1, n_frames - len(times) + 1) * step / scale)
            return np.concatenate([times, extra])
    return np.arange(n_frames, dtype=np.float64) / fps


def _candidates(root: Path, split: str | None) -> list[tuple[Path, str | None]]:
    if root.is_file():
        return [(root, split)]
    if (root / FILE_NAME).is_file():
        guess = next((s for s, d in SPLIT_DIRS.items() if root.name == d), split)
        return [(root / FILE_NAME, split or guess)]
    splits = [split] if split else list(SPLIT_DIRS)
    return [(root / SPLIT_DIRS[s] / FILE_NAME, s) for s in splits if (root / SPLIT_DIRS[s] / FILE_NAME).is_file()]


def _record_samples(path: Path, idx: int, rec: Any, split: str | None, fps: float) -> Sample:
    where = f"{path}: record {idx}"
    if not isinstance(rec, dict):
        raise InvalidAnnotationError(f"{where}: expected an object, got {type(rec).__name__}")
    for key in ("long_range_video_file", "feedbacks"):
        if key not in rec:
            raise InvalidAnnotationError(f"{where}: missing '{key}'")
    feedbacks = rec["feedbacks"]
    if not isinstance(feedbacks, list) or not all(isinstance(f, str) for f in feedbacks):
        raise InvalidAnnotationError(f"{where}: 'feedbacks' must be a list of strings (one per frame)")
    spans = feedback_spans(fix_exercise_names(feedbacks))
    stamps = rec.get("feedback_timestamps") or [None] * len(spans)
    transitions = rec.get("is_transition") or [bool(_TRANSITION.match(t)) for t, _, _ in spans]
    if len(stamps) != len(spans) or len(transitions) != len(spans):
        raise InvalidAnnotationError(
            f"{where}: {len(spans)} feedback spans but {len(stamps)} feedback_timestamps and "
            f"{len(transitions)} is_transition entries"
        )
    base = path.parent
    video = (base / rec["long_range_video_file"]).resolve()
    ts_rel = rec.get("video_timestamps")
    times = frame_times((base / ts_rel) if ts_rel else None, len(feedbacks), fps)

    commentary: list[Commentary] = []
    exercises: list[str] = []
    current = None
    for (text, first, last), stamp, is_transition in zip(spans, stamps, transitions, strict=True):
        if is_transition:
            current = exercise_name(text)
            exercises.append(current)
            continue
        extra: dict[str, Any] = {"end_s": round(float(times[last]), 3)}
        if current:
            extra["exercise"] = current
        if stamp is not None:
            extra["wall_time"] = float(stamp)
        commentary.append(Commentary(text=text, time_s=round(float(times[first]), 3), **extra))
    duration = round(float(times[-1]), 3) if len(times) else 0.0
    # the last transition marks the session end ("Great job, that's the workout!"), not an exercise
    exercises = exercises[:-1] if len(exercises) > 1 else exercises
    return Sample(
        id=f"qevd/{split or 'fitcoach'}/{video.stem}",
        source="qevd-fit-coach",
        sport="fitness",
        video=str(video),
        commentary=commentary,
        split=split,
        meta={"exercises": exercises, "num_frames": len(feedbacks), "duration_s": duration},
    )


def load_qevd(root: str | Path, split: str | None = None, fps: float = 30.0) -> list[Sample]:
    """One sample per FIT-COACH workout video, its coaching feedback as timed commentary (no proficiency label)."""
    root = Path(root)
    if not root.exists():
        raise InputNotFoundError(f"{root}: QEVD folder not found")
    if split is not None and split not in SPLIT_DIRS:
        raise InvalidAnnotationError(f"{root}: unknown QEVD split {split!r} (expected train or test)")
    files = _candidates(root, split)
    if not files:
        raise InputNotFoundError(f"{root}: no {FILE_NAME} here or in {' / '.join(SPLIT_DIRS.values())}")
    samples: list[Sample] = []
    for path, split_name in files:
        data = read_json(path)
        if not isinstance(data, list):
            raise InvalidAnnotationError(f"{path}: expected a list of workout records, got {type(data).__name__}")
        samples += [_record_samples(path, i, rec, split_name, fps) for i, rec in enumerate(data)]
    return samples
