"""Per-second features for training samples, whatever carries them.

- keypoint samples (``sample.pose``, e.g. the landmark CSVs): encoded on the fly by the pose encoder, with
  augmentation when a random generator is given;
- ``sample.features``: a precomputed per-second array (``.npy``, ``.npz`` with ``features``, ``.pt``);
- otherwise the feature cache written by ``crosstrainer extract`` (``feature_cache`` folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.data.sample import Sample
from crosstrainer.errors import InputNotFoundError, UsageError
from crosstrainer.features.augment import augment, crop


def load_feature_file(path: str | Path, fps: float | None = None) -> np.ndarray:
    """(S, D) float32 per-second features from .npy / .npz / .pt, read exactly as ``crosstrainer extract`` reads them
    (the precomputed encoder: the same keys, per-token averaging and resampling to one row per second). ``fps``:
    the file's rows per second when the file does not say (default: its family's, see encoders/precomputed.py)."""
    from crosstrainer.encoders.precomputed import PrecomputedEncoder

    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"feature file not found: {path}")
    if path.suffix not in (".npy", ".npz", ".pt", ".pth"):
        raise UsageError(f"unsupported feature file {path} (use .npy, .npz or .pt)")
    return PrecomputedEncoder(fps=fps).encode(path).features


HEAD_VIEWS = ("front",)
"""Virtual cameras that 3-D training samples are seen from when the proficiency head is fitted. One front view:
seeing UI-PRMD from front, side and oblique cameras lowered the head's leave-one-movement-out AUROC in our
measurement (0.69-0.75 against 0.79 on the same splits), so the extra views are used for the language model only
(a random camera per training example)."""


def reproject(pose: Any, camera: Any) -> Any:
    """``pose`` (with 3-D joints in ``pose.meta["xyz"]``) as a 2-D sequence seen from ``camera``."""
    from crosstrainer.keypoints.projection import project

    meta = {k: v for k, v in pose.meta.items() if k not in ("xyz", "camera", "view")}
    return project(pose.meta["xyz"], camera, conf=pose.conf, times_s=pose.times_s, fps=pose.fps, meta=meta)


class FeatureProvider:
    def __init__(self, encoder: str = "pose", feature_cache: str | Path | None = None, augment: bool = False) -> None:
        self.encoder_name = encoder
        self.feature_cache = Path(feature_cache) if feature_cache else None
        self.augment = augment
        self._pose_encoder: Any = None
        self._loaded: dict[str, np.ndarray] = {}
        self._views: dict[tuple[str, tuple[str, ...]], list[np.ndarray]] = {}
        self._cache: Any = None

    @property
    def pose_encoder(self) -> Any:
        if self._pose_encoder is None:
            from crosstrainer.encoders.registry import PoseEncoder

            self._pose_encoder = PoseEncoder()
        return self._pose_encoder

    def encoder_info(self) -> dict[str, Any]:
        if self.encoder_name == "pose":
            return self.pose_encoder.info()
        if self.feature_cache is not None:
            from crosstrainer.features.cache import FeatureCache

            self._cache = self._cache or FeatureCache.open(self.feature_cache, self.encoder_name)
            return {
                "name": self._cache.name,
                "version": self._cache.version,
                "config": self._cache.config,
                "dim": self._cache.dim,
            }
        return {"name": self.encoder_name, "version": "external", "config": {}, "dim": None}

    def views(self, sample: Sample, cameras: tuple[str, ...] = HEAD_VIEWS) -> list[np.ndarray]:
        """Per-second features of ``sample`` seen from each virtual camera when it has 3-D joints
        (``pose.meta["xyz"]``, e.g. UI-PRMD), else its one set of features."""
        pose = sample.pose
        if pose is None or pose.meta.get("xyz") is None:
            return [self.clip(sample)]
        key = (sample.id, cameras)
        if key not in self._views:  # fitting a head per evaluation split sees the same clips again
            self._views[key] = [self.pose_encoder.encode(reproject(pose, camera)).features for camera in cameras]
        return self._views[key]

    def clip(
        self, sample: Sample, window: tuple[float, float] | None = None, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """(S, D) features of ``sample`` restricted to ``window`` seconds (None: whole clip). With ``rng`` and
        augmentation on, 3-D samples are first seen from a random virtual camera."""
        if sample.pose is not None:
            pose = sample.pose
            if rng is not None and self.augment and pose.meta.get("xyz") is not None:
                from crosstrainer.keypoints.projection import random_camera

                pose = reproject(pose, random_camera(rng))
            if window is not None:
                pose = crop(pose, pose.times_s[0] + window[0], pose.times_s[0] + window[1])
            if rng is not None and self.augment:
                pose = augment(pose, rng)
            return self.pose_encoder.encode(pose).features
        feats = self._full(sample)
        if window is None:
            return feats
        a = int(np.clip(np.floor(window[0]), 0, len(feats) - 1))
        b = int(np.clip(np.ceil(window[1]), a + 1, len(feats)))
        return feats[a:b]

    def _full(self, sample: Sample) -> np.ndarray:
        if sample.id not in self._loaded:
            if sample.features:
                self._loaded[sample.id] = load_feature_file(sample.features, sample.meta.get("features_fps"))
            elif self.feature_cache is not None:
                self._loaded[sample.id] = self._from_cache(sample)
            else:
                raise UsageError(
                    f"sample {sample.id} has no keypoints or features: run `crosstrainer extract` and pass --features"
                )
        return self._loaded[sample.id]

    def _from_cache(self, sample: Sample) -> np.ndarray:
        from crosstrainer.features.cache import FeatureCache

        if self._cache is None:
            self._cache = FeatureCache.open(self.feature_cache, self.encoder_name)
        feats = self._cache.load(sample.id)
        if feats is None:
            raise InputNotFoundError(f"no cached features for {sample.id} in {self._cache.dir}")
        return feats.features
