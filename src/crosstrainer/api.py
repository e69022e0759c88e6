"""Assess a video or keypoint file: pose -> per-second features -> Stage I attributes -> Stage II feedback + probe.

>>> from crosstrainer.api import Assessor
>>> assessor = Assessor.load()                     # the bundled default model; loads once  # doctest: +SKIP
>>> result = assessor.assess("examples/sample_bicep_curl.mp4", sport="bicep curl")  # doctest: +SKIP
>>> print(result.assessment.to_json())              # crosstrainer.assessment/v1  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import pickle
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from crosstrainer.encoders.base import ClipFeatures
from crosstrainer.encoders.registry import input_kind
from crosstrainer.errors import CrossTrainerError, ModelError
from crosstrainer.keypoints.skeleton import PoseSequence
from crosstrainer.model.checkpoint import LoadedParts
from crosstrainer.model.predict import MAX_STAGE1_WINDOWS, STAGE2_BATCH, Prediction, predict
from crosstrainer.schema import Assessment, AttributeResult, InputInfo, ModelInfo, Proficiency, Timeline
from crosstrainer.text.validate import clean_sport

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "models" / "default"
LOW_VISIBILITY = 0.6

Progress = Callable[[str, float], None]


@dataclass
class AssessmentResult:
    assessment: Assessment
    pose: PoseSequence | None
    features: ClipFeatures | None
    timings: dict[str, float] = field(default_factory=dict)
    source_path: str = ""


def preflight(
    path: str | Path,
    kind: str = "auto",
    skeleton: str | None = None,
    fps: float | None = None,
    features: str | Path | None = None,
    model_dir: str | Path | None = None,
) -> Literal["video", "keypoints", "features"]:
    """Cheap checks before a model is loaded: the input exists; a video opens and has frames; keypoints parse.

    For a model that reads precomputed features (``model_dir``'s manifest says so, or ``features`` is given), the
    input is a feature file or names a take whose file is in the ``features`` folder: it must be found there, and
    a missing ``--features`` is named as such. The model's manifest is read, never its weights."""
    p = Path(path)
    if model_dir is not None or features is not None:
        from crosstrainer.encoders.registry import FileFeatureReader, PoseEncoder
        from crosstrainer.model.checkpoint import read_manifest

        folder = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
        try:
            m = read_manifest(folder)
        except ModelError:  # reported when the model loads; the input's own checks come first
            m = None
        name = m.encoder.get("name") if m is not None else None
        if m is not None and (features is not None or name not in (PoseEncoder().kinematics.name, "clip")):
            reader = _model_encoder(m, folder, features, None)
            assert isinstance(reader, FileFeatureReader)
            reader.lookup(p)
            return "features"
    k = input_kind(p, kind)
    if k == "video":
        from crosstrainer.video.decode import probe_video

        probe_video(p)
    else:
        from crosstrainer.keypoints.io import load_keypoints

        load_keypoints(p, skeleton=skeleton, fps=fps)
    return k


def _merge_windows(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + 1e-6:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return [(round(a, 2), round(b, 2)) for a, b in out]


def _r(values: Any, digits: int = 4) -> list[float]:
    return [round(float(v), digits) for v in values]


@dataclass
class Movement:
    """What the pose says without the model: repetitions and the backbone attributes' measurements."""

    repetitions: Any = None  # movement.repetitions.RepetitionReport
    measurements: dict[str, Any] = field(default_factory=dict)  # name -> movement.measures.Measurement


def analyse_movement(pose: PoseSequence) -> Movement:
    """Repetitions and measurements of ``pose``; a pose too short or too sparse to analyse gives an empty result."""
    from crosstrainer.movement.measures import measure
    from crosstrainer.movement.repetitions import find_repetitions

    try:
        reps = find_repetitions(pose)
    except (ValueError, IndexError, FloatingPointError):
        reps = None
    try:
        measurements = measure(pose, reps)
    except (ValueError, IndexError, FloatingPointError):
        measurements = {}
    return Movement(reps, measurements)


def repetition_windows(
    movement: Movement, times_s: np.ndarray, max_windows: int = MAX_STAGE1_WINDOWS
) -> list[tuple[int, int]] | None:
    """Feature-row spans of the repetitions (each at least one second), or None to use fixed windows."""
    reps = movement.repetitions
    if reps is None or not reps.repetitions or len(reps.repetitions) > max_windows or not len(times_s):
        return None
    t0, n = float(times_s[0]), len(times_s)
    spans = []
    for r in reps.repetitions:
        a = int(np.clip(np.floor(r.start_s - t0), 0, n - 1))
        b = int(np.clip(np.ceil(r.end_s - t0), a + 1, n))
        spans.append((a, b))
    return spans


def build_assessment(
    pred: Prediction,
    clip: ClipFeatures,
    pose: PoseSequence | None,
    parts: LoadedParts,
    *,
    path: str,
    kind: Literal["video", "keypoints", "features"],
    info: dict[str, Any],
    sport: str | None,
    movement: Movement | None = None,
) -> Assessment:
    """The ``crosstrainer.assessment/v1`` record of one prediction (seconds come from ``clip.times_s``)."""
    from crosstrainer.model.calibration import assess_confidence
    from crosstrainer.model.feedback import compose_feedback

    vocab, m = parts.vocabulary, parts.manifest
    movement = movement or Movement()
    times = clip.times_s
    reps = movement.repetitions
    rep_rows = repetition_windows(movement, times)

    def seconds(span: tuple[int, int]) -> tuple[float, float]:
        return float(times[span[0]]), float(times[span[1] - 1] + 1.0)

    timeline_attrs = {n: _r(pred.attribute_timeline[:, j]) for j, n in enumerate(pred.attribute_names)}
    attributes = []
    for rec in pred.attributes:
        attr = vocab.get(rec.name)
        extra: dict[str, Any] = {}
        if rep_rows is not None:
            extra["repetitions"] = sorted({i + 1 for i, span in enumerate(rep_rows) if span in rec.spans})
        if rec.name in movement.measurements:
            extra["measured"] = movement.measurements[rec.name].to_dict()
        attributes.append(
            AttributeResult(
                name=rec.name,
                confidence=round(rec.confidence, 4),
                windows=_merge_windows([seconds(s) for s in rec.spans]),
                definition=attr.definition if attr else None,
                **extra,
            )
        )
    warnings = _warnings(pose, clip, info)
    visibility = float(np.mean(clip.visibility)) if clip.num_seconds else 0.0
    confidence, reasons = assess_confidence(
        pred.familiarity, pred.familiarity_threshold, visibility, float(info["duration_s"])
    )
    positive = pred.level == pred.levels[-1]
    lines, rejected = (
        compose_feedback(
            pred.feedback,
            [a.name for a in pred.attributes],
            movement.measurements,
            reps,
            vocab,
            positive=positive,
            contributions=pred.contributions,
            sure=confidence == "high",
        )
        if pred.generated
        else ([], [])
    )
    proficiency_extra: dict[str, Any] = {"confidence": confidence, "confidence_reasons": reasons}
    if pred.familiarity is not None:
        proficiency_extra["familiarity"] = {
            "distance": round(pred.familiarity, 3),
            "threshold": round(float(pred.familiarity_threshold or 0.0), 3),
        }
    if pred.contributions:
        proficiency_extra["attribute_contributions"] = pred.contributions
    if parts.head is not None and pred.probe_probs is not None:
        best = int(np.argmax(pred.probe_probs))
        proficiency_extra["probe"] = {"level": pred.levels[best], "probabilities": _r(pred.probe_probs)}
    extra_fields: dict[str, Any] = {}
    if reps is not None:
        extra_fields["repetitions"] = reps.to_dict()
    if rejected:
        extra_fields["feedback_rejected"] = rejected
    return Assessment(
        input=InputInfo(
            path=path, kind=kind, duration_s=round(float(info["duration_s"]), 3), fps=round(float(info["fps"]), 3)
        ),
        sport=sport,
        proficiency=Proficiency(
            level=pred.level,
            levels=pred.levels,
            probabilities=_r(pred.probs),
            score=round(pred.score, 4),
            llm_level=pred.llm_level,
            **proficiency_extra,
        ),
        attributes=attributes,
        feedback=[line.text for line in lines],
        feedback_source=[line.source for line in lines],
        timeline=Timeline(times_s=_r(times, 3), attributes=timeline_attrs, visibility=_r(clip.visibility, 3)),
        warnings=warnings,
        model=ModelInfo(name=m.name, version=m.version),
        stage1_windows=[{"window": list(seconds((w.start, w.end))), "text": w.text} for w in pred.windows],
        llm_text=pred.llm_text,
        **extra_fields,
    )


def _warnings(pose: PoseSequence | None, clip: ClipFeatures, info: dict[str, Any]) -> list[str]:
    out = []
    vis = float(np.mean(clip.visibility)) if clip.num_seconds else 0.0
    if vis < LOW_VISIBILITY:
        out.append(f"only {vis:.0%} of the body's joints were visible: film the whole body, side-on, from 2-4 m away")
    if clip.meta.get("rate_source") == "assumed":
        out.append("the feature files store no rate and their family is unknown: one row per second was assumed")
    meta = pose.meta if pose is not None else {}
    detected, frames = meta.get("detected_frames"), meta.get("frames")
    if detected is not None and frames and detected / frames < 0.7:
        out.append(f"a person was found in only {detected} of {frames} sampled frames")
    if info["duration_s"] < 1.0:
        out.append("the clip is shorter than one second: the assessment rests on very little movement")
    return out


@dataclass
class PoseRead:
    """An input's pose read before the model loads: ``result`` = (pose, kind, info) of ``PoseEncoder.read``."""

    result: tuple[PoseSequence, Literal["video", "keypoints"], dict[str, Any]]
    seconds: float


def _pose_encoder(model_dir: str | Path | None) -> Any:
    """The pose encoder of a pose model's folder (the bundled default unless ``model_dir``); None for a model that
    reads no pose, or a folder that cannot be read (its load reports that). Reads the manifest only."""
    from crosstrainer.encoders.registry import PoseEncoder
    from crosstrainer.model.checkpoint import read_manifest

    folder = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
    try:
        m = read_manifest(folder)
    except ModelError:
        return None
    if m.encoder.get("name") != PoseEncoder().kinematics.name:
        return None
    return _model_encoder(m, folder, None, None)


def read_pose_early(
    path: str | Path,
    model_dir: str | Path | None = None,
    kind: str = "auto",
    skeleton: str | None = None,
    fps: float | None = None,
    sample_fps: float = 10.0,
    max_side: int = 640,
) -> PoseRead | None:
    """For a pose model (the bundled default unless ``model_dir``): read the input's pose *before* the language
    model loads, so a video with nobody in it fails at once (``NoPersonError``) instead of after the load. None for
    a model that reads no pose, or a model folder that cannot be read (its load reports that)."""
    encoder = _pose_encoder(model_dir)
    if encoder is None:
        return None
    encoder.sample_fps, encoder.max_side = sample_fps, max_side
    t0 = time.perf_counter()
    result = encoder.read(path, kind, skeleton, fps, None)
    return PoseRead(result, time.perf_counter() - t0)


def _read_pose_in_child(conn: Any, args: tuple) -> None:
    """The child process of :class:`PoseReadJob` (module level: the spawn start method finds it by name).

    Sends ``(True, PoseRead | None)`` or ``(False, CrossTrainerError)``; ``(False, None)`` for anything unexpected,
    which the parent then meets itself by reading the input in-process."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent decides
    try:
        message: tuple[bool, Any] = (True, read_pose_early(*args))
    except CrossTrainerError as exc:
        message = (False, exc)
    except BaseException:  # reported by the parent's own read of the input, with its usual message
        message = (False, None)
    with contextlib.suppress(Exception):  # the parent may be gone (interrupted): then there is nobody to tell
        try:
            conn.send(message)
        except (pickle.PicklingError, TypeError, AttributeError):
            conn.send((False, None))
    conn.close()


class PoseReadJob:
    """:func:`read_pose_early` of a video in a child process, so that this process loads the model meanwhile::

        job = PoseReadJob("clip.mp4")        # the pose starts now, in another process
        assessor = Assessor.load()           # imports and weights, at the same time
        result = assessor.assess("clip.mp4", read=job.result())

    A process, not a thread: the imports of a model load hold the GIL that the pose threads need between frames (a
    thread gained nothing; a process took ``crosstrainer assess`` of a 30 s video from 15.5-15.6 s to 12.9-13.1 s on
    2 cores, docs/benchmarks.md). :meth:`result` returns what :func:`read_pose_early` would and raises its errors
    (``NoPersonError``...). If the child cannot start or dies (killed, out of memory), the input is read here
    instead: slower, never lost. The child ignores Ctrl-C and is a daemon: it ends with this process.

    Only for videos of :attr:`MIN_DURATION_S` or more (:meth:`worth_it`): a shorter one is read before the load,
    so that one with nobody in it fails without loading the model (its pose takes a second or two); on a longer one
    the pose costs more than the load, and running both at once saves more than a failed video wastes.
    """

    MIN_DURATION_S = 8.0

    @classmethod
    def worth_it(cls, path: str | Path, model_dir: str | Path | None = None) -> bool:
        """True for a video of at least :attr:`MIN_DURATION_S` seconds (its header says so) and a pose model."""
        from crosstrainer.video.decode import probe_video

        return probe_video(path).duration_s >= cls.MIN_DURATION_S and _pose_encoder(model_dir) is not None

    def __init__(
        self,
        path: str | Path,
        model_dir: str | Path | None = None,
        kind: str = "auto",
        skeleton: str | None = None,
        fps: float | None = None,
        sample_fps: float = 10.0,
    ) -> None:
        import multiprocessing

        self.args = (str(path), None if model_dir is None else str(model_dir), kind, skeleton, fps, sample_fps)
        self.process: Any = None
        try:
            ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited threads or locks
            self._conn, child_end = ctx.Pipe(duplex=False)
            self.process = ctx.Process(
                target=_read_pose_in_child, args=(child_end, self.args), name="crosstrainer-pose", daemon=True
            )
            self.process.start()
            child_end.close()
        except (OSError, RuntimeError, ValueError):  # no process could start here: :meth:`result` reads in-process
            self.process = None

    def result(self) -> PoseRead | None:
        """Wait for the child's pose (the input's errors are raised here)."""
        if self.process is not None:
            try:
                ok, value = self._conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError):  # the child died before it could answer
                ok, value = False, None
            finally:
                self._conn.close()
                self.process.join(timeout=10)
                if self.process.is_alive():
                    self.process.terminate()
                self.process = None
            if ok:
                return value
            if value is not None:
                raise value
        return read_pose_early(*self.args)


def _model_encoder(manifest: Any, folder: Path, features: Any, clip_checkpoint: Any) -> Any:
    from crosstrainer.encoders.registry import encoder_for_model

    return encoder_for_model(
        manifest.encoder,
        manifest.projector.get("in_dim"),
        folder,
        features=features,
        clip_checkpoint=clip_checkpoint,
        features_info=(manifest.train or {}).get("features"),
    )


class Assessor:
    """A loaded model plus the encoder its manifest names; reuse one instance for many inputs.

    Pose models read videos and keypoint files; CLIP models read videos (``clip_checkpoint``: the local CLIP
    folder); models trained on precomputed features read feature files (``features``: the folder of
    ``<take_uid>_<cam>_<stream>.pt`` files, or give a feature file as the input).
    """

    def __init__(
        self,
        model: Any,
        parts: LoadedParts,
        sample_fps: float = 10.0,
        max_side: int = 640,
        *,
        features: str | Path | None = None,
        clip_checkpoint: str | Path | None = None,
    ) -> None:
        from crosstrainer.encoders.registry import PoseEncoder

        self.model, self.parts = model, parts
        self.manifest = parts.manifest
        self.encoder = _model_encoder(self.manifest, parts.folder, features, clip_checkpoint)
        if isinstance(self.encoder, PoseEncoder):
            self.encoder.sample_fps, self.encoder.max_side = sample_fps, max_side

    @classmethod
    def load(
        cls,
        model_dir: str | Path | None = None,
        *,
        sample_fps: float = 10.0,
        max_side: int = 640,
        features: str | Path | None = None,
        clip_checkpoint: str | Path | None = None,
    ) -> Assessor:
        """Load a model folder (the bundled default when None), checking its encoder before the slow LLM load."""
        from crosstrainer.model.checkpoint import load_model, read_manifest

        folder = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
        if not folder.exists():
            raise ModelError(f"model folder not found: {folder}")
        m = read_manifest(folder)
        _model_encoder(m, folder, features, clip_checkpoint)
        model, parts = load_model(folder)
        return cls(model, parts, sample_fps=sample_fps, max_side=max_side, features=features,
                   clip_checkpoint=clip_checkpoint)  # fmt: skip

    def assess(
        self,
        path: str | Path,
        *,
        kind: str = "auto",
        skeleton: str | None = None,
        fps: float | None = None,
        sport: str | None = None,
        progress: Progress | None = None,
        source_name: str | None = None,
        read: PoseRead | None = None,
    ) -> AssessmentResult:
        """Assess one input. ``source_name``: the input's original file name when ``path`` is a renamed copy (an
        upload); a model that reads precomputed features finds the take's file by it. ``read``: the input's pose
        already read by :func:`read_pose_early` (so it is not read twice)."""
        from crosstrainer.encoders.registry import PoseEncoder

        t0 = time.perf_counter()
        if not isinstance(self.encoder, PoseEncoder):
            return self.assess_features(path, sport=sport, progress=progress, source_name=source_name)
        if read is not None:
            (pose, k, info), read_s = read.result, read.seconds
        else:
            pose, k, info = self.encoder.read(path, kind, skeleton, fps, progress)
            read_s = time.perf_counter() - t0
        timings = {n: float(v) for n, v in pose.meta.get("timings", {}).items()}
        timings["read_s"] = read_s
        result = self.assess_pose(pose, path=str(path), kind=k, info=info, sport=sport, progress=progress)
        result.timings = {**{n: round(v, 4) for n, v in timings.items()}, **result.timings}
        early = read.seconds if read is not None else 0.0  # a pose read before this call (or while the model loaded)
        result.timings["total_s"] = round(early + time.perf_counter() - t0, 4)
        return result

    def assess_pose(
        self,
        pose: PoseSequence,
        *,
        path: str = "",
        kind: Literal["video", "keypoints"] = "keypoints",
        info: dict[str, Any] | None = None,
        sport: str | None = None,
        progress: Progress | None = None,
        generate: bool = True,
    ) -> AssessmentResult:
        """Assess an in-memory pose sequence. ``generate=False`` skips the LLM (probe-only, for fast evaluation)."""
        info = info or {"duration_s": pose.duration_s, "fps": pose.fps}
        report = progress or (lambda stage, frac: None)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        report("features", 0.0)
        sport = clean_sport(sport)
        clip = self.encoder.encode(pose)
        movement = analyse_movement(pose)
        timings["features_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        windows = repetition_windows(movement, clip.times_s)
        pred = predict(
            self.model, self.parts, clip.features, sport=sport, generate=generate, windows=windows, progress=progress
        )
        timings["llm_s"] = time.perf_counter() - t1
        timings["assess_s"] = time.perf_counter() - t0
        assessment = build_assessment(
            pred, clip, pose, self.parts, path=path, kind=kind, info=info, sport=sport, movement=movement
        )
        report("done", 1.0)
        return AssessmentResult(assessment, pose, clip, {k2: round(v, 4) for k2, v in timings.items()}, path)

    def assess_many(
        self,
        paths: list[str | Path],
        *,
        kind: str = "auto",
        skeleton: str | None = None,
        fps: float | None = None,
        sport: str | None = None,
        batch: int = STAGE2_BATCH,
    ) -> Iterator[tuple[Path, AssessmentResult | CrossTrainerError]]:
        """Assess many inputs, ``batch`` at a time through one language-model pass (:func:`predict_many`); yields
        ``(path, result or the input's error)`` in input order. The assessments equal :meth:`assess`'s one by one
        (timings aside: ``llm_s`` is the batch's time shared out)."""
        from crosstrainer.encoders.registry import PoseEncoder
        from crosstrainer.model.predict import ClipInput, predict_many

        if not isinstance(self.encoder, PoseEncoder):  # feature models: no pose analysis to share; one by one
            for path in paths:
                try:
                    yield Path(path), self.assess(path, kind=kind, skeleton=skeleton, fps=fps, sport=sport)
                except CrossTrainerError as exc:
                    yield Path(path), exc
            return
        sport = clean_sport(sport)
        for i in range(0, len(paths), max(1, batch)):
            ready: list[tuple[Path, dict[str, Any]]] = []
            out: dict[int, tuple[Path, AssessmentResult | CrossTrainerError]] = {}
            for j, path in enumerate(paths[i : i + max(1, batch)]):
                t0 = time.perf_counter()
                try:
                    pose, k, info = self.encoder.read(path, kind, skeleton, fps, None)
                    t1 = time.perf_counter()
                    clip = self.encoder.encode(pose)
                    movement = analyse_movement(pose)
                except CrossTrainerError as exc:
                    out[j] = (Path(path), exc)
                    continue
                timings = {n: float(v) for n, v in pose.meta.get("timings", {}).items()}
                timings.update(read_s=t1 - t0, features_s=time.perf_counter() - t1)
                item = {"j": j, "pose": pose, "kind": k, "info": info, "clip": clip, "movement": movement}
                ready.append((Path(path), {**item, "timings": timings}))
            t2 = time.perf_counter()
            clips = [ClipInput(r["clip"].features, sport, repetition_windows(r["movement"], r["clip"].times_s))
                     for _, r in ready]  # fmt: skip
            preds = predict_many(self.model, self.parts, clips) if clips else []
            shared = (time.perf_counter() - t2) / max(1, len(ready))
            for (path, r), pred in zip(ready, preds, strict=True):
                assessment = build_assessment(
                    pred, r["clip"], r["pose"], self.parts, path=str(path), kind=r["kind"], info=r["info"],
                    sport=sport, movement=r["movement"],
                )  # fmt: skip
                timings = {**r["timings"], "llm_s": shared, "batched_with": len(ready)}
                timings["total_s"] = timings["read_s"] + timings["features_s"] + shared
                rounded = {n: round(v, 4) for n, v in timings.items()}
                out[r["j"]] = (path, AssessmentResult(assessment, r["pose"], r["clip"], rounded, str(path)))
            for j in sorted(out):
                yield out[j]

    def assess_features(
        self,
        path: str | Path,
        *,
        sport: str | None = None,
        progress: Progress | None = None,
        generate: bool = True,
        source_name: str | None = None,
    ) -> AssessmentResult:
        """Assess with a model that reads no pose (precomputed features, CLIP): no repetitions, measurements or
        key frames, since there is no skeleton; the rest of the assessment is the same."""
        report = progress or (lambda stage, frac: None)
        t0 = time.perf_counter()
        report("features", 0.0)
        sport = clean_sport(sport)
        clip, kind, info = self.encoder.read(path, progress, source_name=source_name)
        timings = {"features_s": time.perf_counter() - t0}
        t1 = time.perf_counter()
        pred = predict(self.model, self.parts, clip.features, sport=sport, generate=generate, progress=progress)
        timings["llm_s"] = time.perf_counter() - t1
        assessment = build_assessment(
            pred, clip, None, self.parts, path=str(path), kind=kind, info=info, sport=sport, movement=None
        )
        report("done", 1.0)
        timings["total_s"] = time.perf_counter() - t0
        return AssessmentResult(assessment, None, clip, {k2: round(v, 4) for k2, v in timings.items()}, str(path))


_DEFAULT: dict[str, Assessor] = {}


def assess(
    path: str | Path,
    *,
    model_dir: str | Path | None = None,
    features: str | Path | None = None,
    clip_checkpoint: str | Path | None = None,
    **options: Any,
) -> Assessment:
    """Assess one input with a model loaded once per process (the bundled default unless ``model_dir``).
    ``features``/``clip_checkpoint``: what a model that reads no pose needs (see :class:`Assessor`)."""
    key = "|".join(str(x or "") for x in (model_dir or DEFAULT_MODEL_DIR, features, clip_checkpoint))
    if key not in _DEFAULT:
        _DEFAULT[key] = Assessor.load(model_dir, features=features, clip_checkpoint=clip_checkpoint)
    return _DEFAULT[key].assess(path, **options).assessment
