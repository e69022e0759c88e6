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
from crosstrainer.errors import InputNotFoundError, ModelError, UsageError
from crosstrainer.keypoints.skeleton import PoseSequence
from crosstrainer.schema import Assessment, AttributeResult, InputInfo, ModelInfo, Proficiency, Timeline

KEYPOINT_SUFFIXES = {".npy", ".json"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".webm", ".mkv", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"}
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


def input_kind(path: str | Path, kind: str = "auto") -> Literal["video", "keypoints"]:
    """Decide how to read an existing input: keypoint files (.npy, .json, a folder of OpenPose JSON) or a video."""
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"no such file: {p}")
    if kind in ("video", "keypoints"):
        return kind  # type: ignore[return-value]
    if kind != "auto":
        raise UsageError(f"--kind must be auto, video or keypoints, not {kind!r}")
    return "keypoints" if p.is_dir() or p.suffix.lower() in KEYPOINT_SUFFIXES else "video"


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


def span_confidence(tokenizer: Any, text_ids: list[int], probs: list[float], phrase: str) -> float:
    """Geometric-mean probability of the generated tokens that spell ``phrase`` in the answer (0 if absent)."""
    pieces = [tokenizer.decode(text_ids[: i + 1], skip_special_tokens=True) for i in range(len(text_ids))]
    full = pieces[-1].lower() if pieces else ""
    start = full.find(phrase.lower())
    if start < 0 or not probs:
        return 0.0
    end = start + len(phrase)
    chosen = [p for i, p in enumerate(probs) if len(pieces[i]) > start and (i == 0 or len(pieces[i - 1]) < end)]
    return float(np.exp(np.mean(np.log(np.clip(chosen or probs, 1e-9, 1.0)))))


class Assessor:
    """A loaded model plus the pose pipeline; reuse one instance for many inputs."""

    def __init__(self, model: Any, parts: Any, sample_fps: float = 10.0, max_side: int = 640) -> None:
        from crosstrainer.encoders.kinematics import KinematicEncoder

        self.model, self.parts = model, parts
        self.manifest = parts.manifest
        self.encoder = KinematicEncoder()
        self.sample_fps, self.max_side = sample_fps, max_side
        self._estimator: Any = None

    @classmethod
    def load(
        cls,
        model_dir: str | Path | None = None,
        *,
        sample_fps: float = 10.0,
        max_side: int = 640,
        num_threads: int | None = None,
    ) -> Assessor:
        import torch

        from crosstrainer.encoders.kinematics import KinematicEncoder
        from crosstrainer.model.checkpoint import load_model, read_manifest

        if num_threads:
            torch.set_num_threads(num_threads)
        folder = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
        if not folder.exists():
            raise ModelError(f"model folder not found: {folder}")
        m, enc = read_manifest(folder), KinematicEncoder()  # check compatibility before the slow load
        if m.encoder.get("name") != enc.name or str(m.encoder.get("version")) != str(enc.version):
            raise ModelError(
                f"{folder}: trained with encoder {m.encoder.get('name')} v{m.encoder.get('version')}, but assessing "
                f"videos and keypoints needs {enc.name} v{enc.version}: retrain the model or install a matching version"
            )
        if m.projector.get("in_dim") != enc.dim:
            raise ModelError(f"{folder}: the projector expects {m.projector.get('in_dim')}-d features, not {enc.dim}")
        model, parts = load_model(folder)
        return cls(model, parts, sample_fps=sample_fps, max_side=max_side)

    @property
    def estimator(self) -> Any:
        if self._estimator is None:
            from crosstrainer.video.pose import PoseEstimator

            self._estimator = PoseEstimator(sample_fps=self.sample_fps, max_side=self.max_side)
        return self._estimator

    def read_pose(
        self,
        path: str | Path,
        kind: str = "auto",
        skeleton: str | None = None,
        fps: float | None = None,
        progress: Progress | None = None,
    ) -> tuple[PoseSequence, str, dict[str, Any]]:
        k = input_kind(path, kind)
        if k == "keypoints":
            from crosstrainer.keypoints.io import load_keypoints

            pose = load_keypoints(path, skeleton=skeleton, fps=fps)
            return pose, k, {"duration_s": pose.duration_s, "fps": pose.fps}
        pose = self.estimator.estimate(path, progress=(lambda f: progress("pose", f)) if progress else None)
        video = pose.meta.get("video", {})
        return (
            pose,
            k,
            {"duration_s": float(video.get("duration_s", pose.duration_s)), "fps": float(video.get("fps", pose.fps))},
        )

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
        pose, k, info = self.read_pose(path, kind, skeleton, fps, progress)
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
        import torch

        from crosstrainer.model import prompts
        from crosstrainer.model.crosstrainer import Turn

        info = info or {"duration_s": pose.duration_s, "fps": pose.fps}
        report = progress or (lambda stage, frac: None)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        report("features", 0.0)
        t1 = time.perf_counter()
        clip = self.encoder.encode(pose)
        timings["features_s"] = time.perf_counter() - t1

        m, vocab = self.manifest, self.parts.vocabulary
        feats = clip.features
        seconds = clip.num_seconds
        t2 = time.perf_counter()
        with torch.inference_mode():
            projected = self.model.project(feats).float().cpu().numpy()
            prof_p = self.parts.proficiency_probe.predict_proba(projected.mean(0, keepdims=True))[0]
            attr_sec = self.parts.attribute_probe.predict_proba(projected)  # (S, A)
            # Stage I: attributes of each window
            width = max(1, round(m.stage1_window_s))
            spans = [(a, min(a + width, seconds)) for a in range(0, seconds, width)]
            report("attributes", 0.0)
            answers: list[tuple[str, list[float]]] = []
            for i in range(0, len(spans) if generate else 0, 16):
                batch = [Turn(feats[a:b], prompts.stage1_user(sport)) for a, b in spans[i : i + 16]]
                answers += self.model.generate(batch, max_new_tokens=24)
                report("attributes", min(1.0, (i + 16) / len(spans)))
            per_attr: dict[str, dict[str, Any]] = {}
            for (a, b), (text, probs) in zip(spans, answers):
                ids = self.model.tokenizer(text, add_special_tokens=False)["input_ids"]
                for name in prompts.parse_attributes(text):
                    canon = vocab.get(name)
                    key = canon.name if canon else name
                    conf = span_confidence(self.model.tokenizer, ids, probs[: len(ids)], name)
                    rec = per_attr.setdefault(key, {"spans": [], "conf": [], "in_vocab": canon is not None})
                    rec["spans"].append((float(clip.times_s[a]), float(clip.times_s[b - 1] + 1.0)))
                    rec["conf"].append(conf)
            attr_names = list(per_attr)
            # Stage II: level + feedback, with the attributes in the prompt
            report("feedback", 0.0)
            fb_text = ""
            if generate:
                turn = Turn(feats, prompts.stage2_user(sport, attr_names))
                ((fb_text, _),) = self.model.generate([turn], max_new_tokens=80)
            llm_level, feedback = prompts.parse_stage2(fb_text, list(m.levels))
        timings["llm_s"] = time.perf_counter() - t2
        timings["assess_s"] = time.perf_counter() - t0

        levels = list(m.levels)
        best = int(np.argmax(prof_p))
        score = float(np.dot(prof_p, np.linspace(0.0, 1.0, len(levels)))) if len(levels) > 1 else float(prof_p[0])
        timeline_attrs: dict[str, list[float]] = {
            n: [round(float(v), 4) for v in attr_sec[:, j]] for j, n in enumerate(vocab.names)
        }
        attributes = []
        for name, rec in sorted(per_attr.items(), key=lambda kv: -max(kv[1]["conf"])):
            attr = vocab.get(name)
            if name not in timeline_attrs:
                row = np.zeros(seconds)
                for (a, b), c in zip(rec["spans"], rec["conf"]):
                    row[(clip.times_s >= a - 1e-6) & (clip.times_s < b - 1e-6)] = c
                timeline_attrs[name] = [round(float(v), 4) for v in row]
            attributes.append(
                AttributeResult(
                    name=name,
                    confidence=round(float(max(rec["conf"])), 4),
                    windows=_merge_windows(rec["spans"]),
                    definition=attr.definition if attr else None,
                )
            )
        warnings = self._warnings(pose, clip, info)
        if generate and not feedback:
            warnings.append("the language model gave no feedback text for this clip")
        assessment = Assessment(
            input=InputInfo(
                path=path, kind=kind, duration_s=round(float(info["duration_s"]), 3), fps=round(float(info["fps"]), 3)
            ),
            sport=sport,
            proficiency=Proficiency(
                level=levels[best],
                levels=levels,
                probabilities=[round(float(p), 4) for p in prof_p],
                score=round(min(1.0, max(0.0, score)), 4),
                llm_level=llm_level,
            ),
            attributes=attributes,
            feedback=feedback,
            timeline=Timeline(
                times_s=[round(float(t), 3) for t in clip.times_s],
                attributes=timeline_attrs,
                visibility=[round(float(v), 3) for v in clip.visibility],
            ),
            warnings=warnings,
            model=ModelInfo(name=m.name, version=m.version),
            stage1_windows=[
                {"window": [float(clip.times_s[a]), float(clip.times_s[b - 1] + 1.0)], "text": t}
                for (a, b), (t, _) in zip(spans, answers)
            ],
            llm_text=fb_text,
        )
        report("done", 1.0)
        return AssessmentResult(assessment, pose, clip, {k2: round(v, 4) for k2, v in timings.items()}, path)

    @staticmethod
    def _warnings(pose: PoseSequence, clip: ClipFeatures, info: dict[str, Any]) -> list[str]:
        out = []
        vis = float(np.mean(clip.visibility)) if clip.num_seconds else 0.0
        if vis < LOW_VISIBILITY:
            out.append(
                f"only {vis:.0%} of the body's joints were visible: film the whole body, side-on, from 2-4 m away"
            )
        detected, frames = pose.meta.get("detected_frames"), pose.meta.get("frames")
        if detected is not None and frames and detected / frames < 0.7:
            out.append(f"a person was found in only {detected} of {frames} sampled frames")
        if info["duration_s"] < 1.0:
            out.append("the clip is shorter than one second: the assessment rests on very little movement")
        return out


_DEFAULT: dict[str, Assessor] = {}


def assess(path: str | Path, *, model_dir: str | Path | None = None, **options: Any) -> Assessment:
    """Assess one input with a model loaded once per process (the bundled default unless ``model_dir``)."""
    key = str(model_dir or DEFAULT_MODEL_DIR)
    if key not in _DEFAULT:
        _DEFAULT[key] = Assessor.load(model_dir)
    return _DEFAULT[key].assess(path, **options).assessment
