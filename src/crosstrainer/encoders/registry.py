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
from pathlib import Path
from typing import Any

from crosstrainer.encoders.base import ClipFeatures, VideoEncoder
from crosstrainer.errors import MissingResourceError, UsageError

ENCODERS = ("pose", "clip", "precomputed")
_KEYPOINT_SUFFIXES = (".npy", ".json")


class PoseEncoder:
    """Video or keypoints -> ``PoseSequence`` -> per-second kinematic features (the embedded model's encoder)."""

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

    def encode(self, source: Any) -> ClipFeatures:
        from crosstrainer.keypoints.skeleton import PoseSequence

        if not isinstance(source, PoseSequence):
            path = Path(str(source))
            if path.suffix.lower() in _KEYPOINT_SUFFIXES:
                from crosstrainer.keypoints.io import load_keypoints

                source = load_keypoints(path)
            else:
                if self._estimator is None:
                    from crosstrainer.video.pose import PoseEstimator

                    self._estimator = PoseEstimator(sample_fps=self.sample_fps, max_side=self.max_side)
                source = self._estimator.estimate(path)
        return self.kinematics.encode(source)


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
