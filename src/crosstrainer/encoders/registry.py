"""``build_encoder(name, **config)``: the frozen video encoders ``crosstrainer extract`` can run.

=============  ==========================================================================================
``pose``       MediaPipe pose (``crosstrainer.video.pose.PoseEstimator``) + kinematic features
               (``crosstrainer.encoders.kinematics.KinematicEncoder``); also reads keypoint files and the
               in-memory poses of the pose-CSV datasets. Options: ``sample_fps``, ``max_side``.
``clip``       CLIP image embeddings from a local checkpoint (``checkpoint=PATH``, ``samples_per_second``,
               ``batch_size``, ``device``); see :mod:`crosstrainer.encoders.clip`.
``precomputed``  Per-take feature files (``root=DIR``, ``key``, ``fps``, ``tag``); see
               :mod:`crosstrainer.encoders.precomputed`.
=============  ==========================================================================================

Heavy modules (mediapipe, transformers) are imported only when their encoder is built.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from crosstrainer.encoders.base import ClipFeatures, VideoEncoder
from crosstrainer.errors import InputNotFoundError, MissingResourceError, UsageError

if TYPE_CHECKING:
    from crosstrainer.keypoints.skeleton import PoseSequence

ENCODERS = ("pose", "clip", "precomputed")
Progress = Callable[[str, float], None]


def input_kind(path: str | Path, kind: str = "auto") -> Literal["video", "keypoints"]:
    """Decide how to read an existing input: keypoint files (.npy, .json, a folder of OpenPose JSON) or a video."""
    from crosstrainer.keypoints.io import KEYPOINT_SUFFIXES

    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"no such file: {p}")
    if kind in ("video", "keypoints"):
        return kind  # type: ignore[return-value]
    if kind != "auto":
        raise UsageError(f"--kind must be auto, video or keypoints, not {kind!r}")
    return "keypoints" if p.is_dir() or p.suffix.lower() in KEYPOINT_SUFFIXES else "video"


class PoseEncoder:
    """Video or keypoints -> ``PoseSequence`` -> per-second kinematic features (the embedded model's encoder).

    The one place where an input becomes a pose and a pose becomes features: ``crosstrainer assess``, ``extract``
    and training all go through it.
    """

    name = "pose"

    def __init__(self, sample_fps: float = 10.0, max_side: int = 640, **kinematics: Any) -> None:
        from crosstrainer.encoders.kinematics import KinematicEncoder

        self.kinematics = KinematicEncoder(**kinematics)
        self.sample_fps, self.max_side = sample_fps, max_side
        self.version = str(self.kinematics.version)
        self.dim = int(self.kinematics.dim)
        self._estimator: Any = None

    def config(self) -> dict[str, Any]:
        return {"kinematics": self.kinematics.config(), "sample_fps": self.sample_fps, "max_side": self.max_side}

    def info(self) -> dict[str, Any]:
        """What a model manifest records of its encoder (the kinematic features the projector reads)."""
        k = self.kinematics
        return {"name": k.name, "version": k.version, "config": k.config(), "dim": k.dim}

    @property
    def estimator(self) -> Any:
        """The MediaPipe pose estimator, built on first use (keypoint inputs never need it)."""
        if self._estimator is None:
            from crosstrainer.video.pose import PoseEstimator

            self._estimator = PoseEstimator(sample_fps=self.sample_fps, max_side=self.max_side)
        return self._estimator

    def read(
        self,
        path: str | Path,
        kind: str = "auto",
        skeleton: str | None = None,
        fps: float | None = None,
        progress: Progress | None = None,
    ) -> tuple[PoseSequence, Literal["video", "keypoints"], dict[str, float]]:
        """(pose, kind, ``{"duration_s", "fps"}`` of the input) for a video or a keypoint file."""
        k = input_kind(path, kind)
        if k == "keypoints":
            from crosstrainer.keypoints.io import load_keypoints

            pose = load_keypoints(path, skeleton=skeleton, fps=fps)
            return pose, k, {"duration_s": pose.duration_s, "fps": pose.fps}
        pose = self.estimator.estimate(path, progress=(lambda f: progress("pose", f)) if progress else None)
        video = pose.meta.get("video", {})
        info = {"duration_s": float(video.get("duration_s", pose.duration_s)), "fps": float(video.get("fps", pose.fps))}
        return pose, k, info

    def encode(self, source: Any) -> ClipFeatures:
        """Features of a ``PoseSequence``, a keypoint file or a video."""
        from crosstrainer.keypoints.skeleton import PoseSequence

        if not isinstance(source, PoseSequence):
            source = self.read(source)[0]
        return self.kinematics.encode(source)


def encoder_for_model(encoder: dict[str, Any], in_dim: int | None, where: str | Path = "") -> PoseEncoder:
    """The encoder a model manifest names (``{"name", "version", "config", "dim"}``), ready to read inputs.

    Assessing inputs needs the pose encoder that the model was trained with; anything else is a one-line
    ModelError saying what is missing.
    """
    from crosstrainer.errors import ModelError

    pose = PoseEncoder()
    name, version = encoder.get("name"), str(encoder.get("version"))
    if name != pose.kinematics.name or version != pose.version:
        raise ModelError(
            f"{where}: trained with encoder {name} v{version}, but assessing videos and keypoints needs "
            f"{pose.kinematics.name} v{pose.version}: retrain the model or install a matching version"
        )
    if in_dim != pose.dim:
        raise ModelError(f"{where}: the projector expects {in_dim}-d features, not {pose.dim}")
    return pose


def build_encoder(name: str, **config: Any) -> VideoEncoder:
    """An encoder by name with its options (unknown names or options are a one-line UsageError)."""
    name = name.lower()
    if name == "pose":
        factory: Any = PoseEncoder
    elif name == "clip":
        from crosstrainer.encoders.clip import ClipImageEncoder

        if not config.get("checkpoint"):
            raise MissingResourceError("the clip encoder needs a local checkpoint folder: --clip-checkpoint PATH")
        factory = ClipImageEncoder
    elif name == "precomputed":
        from crosstrainer.encoders.precomputed import PrecomputedEncoder

        factory = PrecomputedEncoder
    else:
        raise UsageError(f"unknown encoder {name!r} (choose from {', '.join(ENCODERS)})")
    config = {k: v for k, v in config.items() if v is not None}
    params = inspect.signature(factory.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = [k for k in config if k not in params]
        if unknown:
            accepted = ", ".join(k for k in params if k != "self")
            raise UsageError(f"encoder {name!r} has no option {unknown[0]!r} (options: {accepted})")
    return factory(**config)
