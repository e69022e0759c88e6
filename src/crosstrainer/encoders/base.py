"""The video-encoder contract (f_v in the paper): one feature vector per second of video.

An encoder is frozen. It is identified by ``name``, ``version`` and ``config()`` so that cached
features can be keyed by all three (see ``crosstrainer extract``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass
class ClipFeatures:
    """Per-second features of one clip.

    ``features``: (S, D) float32, row s summarises seconds [times_s[s], times_s[s] + 1).
    ``visibility``: (S,) float32 in [0, 1], how much of the body the encoder saw in that second
    (1.0 for encoders that do not know).
    """

    features: np.ndarray
    times_s: np.ndarray
    visibility: np.ndarray
    encoder: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features, dtype=np.float32)
        self.times_s = np.asarray(self.times_s, dtype=np.float64)
        self.visibility = np.asarray(self.visibility, dtype=np.float32)
        if (
            self.features.ndim != 2
            or len(self.times_s) != len(self.features)
            or len(self.visibility) != len(self.features)
        ):
            raise ValueError(
                f"ClipFeatures expects features (S,D), times (S,), visibility (S,); got "
                f"{self.features.shape}, {self.times_s.shape}, {self.visibility.shape}"
            )

    @property
    def num_seconds(self) -> int:
        return int(self.features.shape[0])


@runtime_checkable
class VideoEncoder(Protocol):
    """Anything that turns an input (video path, pose sequence, precomputed file) into ``ClipFeatures``."""

    name: str
    version: str
    dim: int

    def config(self) -> dict[str, Any]: ...

    def encode(self, source: Any) -> ClipFeatures: ...
