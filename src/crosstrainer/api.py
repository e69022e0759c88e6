"""Assess a video or keypoint file: pose -> per-second features -> Stage I attributes -> Stage II feedback + probe.

>>> from crosstrainer.api import Assessor
>>> assessor = Assessor.load()                     # the bundled default model; loads once  # doctest: +SKIP
>>> result = assessor.assess("examples/sample_bicep_curl.mp4", sport="bicep curl")  # doctest: +SKIP
>>> print(result.assessment.to_json())              # crosstrainer.assessment/v1  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from crosstrainer.encoders.base import ClipFeatures
from crosstrainer.encoders.registry import input_kind
from crosstrainer.errors import ModelError
from crosstrainer.keypoints.skeleton import PoseSequence
from crosstrainer.model.checkpoint import LoadedParts
from crosstrainer.model.predict import Prediction, predict
from crosstrainer.schema import Assessment, AttributeResult, InputInfo, ModelInfo, Proficiency, Timeline

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
    path: str | Path, kind: str = "auto", skeleton: str | None = None, fps: float | None = None
) -> Literal["video", "keypoints"]:
    """Cheap checks before a model is loaded: the input exists; a video opens and has frames; keypoints parse."""
    p = Path(path)
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


def build_assessment(
    pred: Prediction,
    clip: ClipFeatures,
    pose: PoseSequence,
    parts: LoadedParts,
    *,
    path: str,
    kind: Literal["video", "keypoints"],
    info: dict[str, Any],
    sport: str | None,
) -> Assessment:
    """The ``crosstrainer.assessment/v1`` record of one prediction (seconds come from ``clip.times_s``)."""
    vocab, m = parts.vocabulary, parts.manifest
    times = clip.times_s

    def seconds(span: tuple[int, int]) -> tuple[float, float]:
        return float(times[span[0]]), float(times[span[1] - 1] + 1.0)

    timeline_attrs = {n: _r(pred.attribute_timeline[:, j]) for j, n in enumerate(pred.attribute_names)}
    attributes = []
    for rec in pred.attributes:
        spans = [seconds(s) for s in rec.spans]
        if rec.name not in timeline_attrs:
            row = np.zeros(clip.num_seconds)
            for (a, b), c in zip(spans, rec.confidences):
                row[(times >= a - 1e-6) & (times < b - 1e-6)] = c
            timeline_attrs[rec.name] = _r(row)
        attr = vocab.get(rec.name)
        attributes.append(
            AttributeResult(
                name=rec.name,
                confidence=round(rec.confidence, 4),
                windows=_merge_windows(spans),
                definition=attr.definition if attr else None,
            )
        )
    warnings = _warnings(pose, clip, info)
    if pred.generated and not pred.feedback:
        warnings.append("the language model gave no feedback text for this clip")
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
        ),
        attributes=attributes,
        feedback=pred.feedback,
        timeline=Timeline(times_s=_r(times, 3), attributes=timeline_attrs, visibility=_r(clip.visibility, 3)),
        warnings=warnings,
        model=ModelInfo(name=m.name, version=m.version),
        stage1_windows=[{"window": list(seconds((w.start, w.end))), "text": w.text} for w in pred.windows],
        llm_text=pred.llm_text,
    )


def _warnings(pose: PoseSequence, clip: ClipFeatures, info: dict[str, Any]) -> list[str]:
    out = []
    vis = float(np.mean(clip.visibility)) if clip.num_seconds else 0.0
    if vis < LOW_VISIBILITY:
        out.append(f"only {vis:.0%} of the body's joints were visible: film the whole body, side-on, from 2-4 m away")
    detected, frames = pose.meta.get("detected_frames"), pose.meta.get("frames")
    if detected is not None and frames and detected / frames < 0.7:
        out.append(f"a person was found in only {detected} of {frames} sampled frames")
    if info["duration_s"] < 1.0:
        out.append("the clip is shorter than one second: the assessment rests on very little movement")
    return out


class Assessor:
    """A loaded model plus the encoder its manifest names; reuse one instance for many inputs."""

    def __init__(self, model: Any, parts: LoadedParts, sample_fps: float = 10.0, max_side: int = 640) -> None:
        from crosstrainer.encoders.registry import encoder_for_model

        self.model, self.parts = model, parts
        self.manifest = parts.manifest
        self.encoder = encoder_for_model(self.manifest.encoder, self.manifest.projector.get("in_dim"), parts.folder)
        self.encoder.sample_fps, self.encoder.max_side = sample_fps, max_side

    @classmethod
    def load(
        cls,
        model_dir: str | Path | None = None,
        *,
        sample_fps: float = 10.0,
        max_side: int = 640,
    ) -> Assessor:
        """Load a model folder (the bundled default when None), checking its encoder before the slow LLM load."""
        from crosstrainer.encoders.registry import encoder_for_model
        from crosstrainer.model.checkpoint import load_model, read_manifest

        folder = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
        if not folder.exists():
            raise ModelError(f"model folder not found: {folder}")
        m = read_manifest(folder)
        encoder_for_model(m.encoder, m.projector.get("in_dim"), folder)
        model, parts = load_model(folder)
        return cls(model, parts, sample_fps=sample_fps, max_side=max_side)

    def assess(
        self,
        path: str | Path,
        *,
        kind: str = "auto",
        skeleton: str | None = None,
        fps: float | None = None,
        sport: str | None = None,
        progress: Progress | None = None,
    ) -> AssessmentResult:
        t0 = time.perf_counter()
        pose, k, info = self.encoder.read(path, kind, skeleton, fps, progress)
        timings = {n: float(v) for n, v in pose.meta.get("timings", {}).items()}
        timings["read_s"] = time.perf_counter() - t0
        result = self.assess_pose(pose, path=str(path), kind=k, info=info, sport=sport, progress=progress)
        result.timings = {**{n: round(v, 4) for n, v in timings.items()}, **result.timings}
        result.timings["total_s"] = round(time.perf_counter() - t0, 4)
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
        clip = self.encoder.encode(pose)
        timings["features_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        pred = predict(self.model, self.parts, clip.features, sport=sport, generate=generate, progress=progress)
        timings["llm_s"] = time.perf_counter() - t1
        timings["assess_s"] = time.perf_counter() - t0
        assessment = build_assessment(pred, clip, pose, self.parts, path=path, kind=kind, info=info, sport=sport)
        report("done", 1.0)
        return AssessmentResult(assessment, pose, clip, {k2: round(v, 4) for k2, v in timings.items()}, path)


_DEFAULT: dict[str, Assessor] = {}


def assess(path: str | Path, *, model_dir: str | Path | None = None, **options: Any) -> Assessment:
    """Assess one input with a model loaded once per process (the bundled default unless ``model_dir``)."""
    key = str(model_dir or DEFAULT_MODEL_DIR)
    if key not in _DEFAULT:
        _DEFAULT[key] = Assessor.load(model_dir)
    return _DEFAULT[key].assess(path, **options).assessment
