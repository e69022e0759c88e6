"""Features someone already computed (EgoVLPv2, InternVideo, CLIP...): one ``.pt``/``.npy``/``.npz`` file per take.

A file holds a (S, D) array, or a dict/npz with a features key and an optional rate::

    torch.save(torch.randn(120, 4096), "features/<take_uid>.pt")                  # 1 row per second
    torch.save({"features": feats, "fps": 2.0}, "features/<take_uid>.pt")          # 2 rows per second
    np.save("features/<take_uid>.npy", feats)

Which file belongs to a sample: ``sample.features`` when set (relative paths resolve against ``root``), else
``root/<name>.<pt|pth|npy|npz>`` trying ``meta["take_uid"]``, the last part of ``sample.id``, the whole id with
``/`` as ``__``, and the video's file stem. Rows are resampled to one per second: rows that fall in the same
second are averaged (rate > 1), and a second without a row repeats the latest row (rate < 1). A (S, K, D) array
(K crops or views) is averaged over K.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.encoders.base import ClipFeatures
from crosstrainer.errors import InputNotFoundError, InvalidKeypointsError

SUFFIXES = (".pt", ".pth", ".npy", ".npz")
KEYS = ("features", "feats", "video_features", "embeddings", "x")


def resample_per_second(rows: np.ndarray, fps: float) -> np.ndarray:
    """(T, D) rows at ``fps`` rows/s -> (S, D) one row per second, S = ceil(T / fps).

    >>> resample_per_second(np.arange(4.0)[:, None], fps=2.0).ravel().tolist()
    [0.5, 2.5]
    >>> resample_per_second(np.arange(2.0)[:, None], fps=0.5).ravel().tolist()
    [0.0, 0.0, 1.0, 1.0]
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if fps == 1.0:
        return rows
    n_rows = len(rows)
    seconds = max(1, math.ceil(n_rows / fps - 1e-9))
    which = np.floor(np.arange(n_rows) / fps + 1e-9).astype(int)
    out = np.empty((seconds, rows.shape[1]), np.float32)
    for s in range(seconds):
        mask = which == s
        out[s] = rows[mask].mean(axis=0) if mask.any() else rows[min(n_rows - 1, int(s * fps))]
    return out


class PrecomputedEncoder:
    """Reads per-take feature files instead of computing anything."""

    name = "precomputed"
    version = "1"

    def __init__(
        self, root: str | Path | None = None, key: str | None = None, fps: float | None = None, tag: str | None = None
    ) -> None:
        """``root``: folder of feature files; ``key``: dict/npz entry (default: first of KEYS found);
        ``fps``: rows per second when the file does not say (default 1); ``tag``: names the feature set
        in the cache key (default: the folder name, e.g. ``egovlpv2``)."""
        self.root = Path(root).expanduser() if root else None
        if self.root is not None and not self.root.is_dir():
            raise InputNotFoundError(f"{self.root}: precomputed features folder not found")
        self.key = key
        self.fps = fps
        self.tag = tag or (self.root.name if self.root else "inline")
        self.dim = 0  # known after the first file

    def config(self) -> dict[str, Any]:
        return {"tag": self.tag, "key": self.key, "fps": self.fps}

    def input_for(self, sample: Any) -> Path:
        """The feature file of a sample (see the module docstring for the search order)."""
        if sample.features:
            p = Path(sample.features)
            p = p if p.is_absolute() or self.root is None else self.root / p
            if not p.is_file():
                raise InputNotFoundError(f"sample {sample.id}: features file {p} not found")
            return p
        if self.root is None:
            raise InputNotFoundError(f"sample {sample.id}: no features path and no features folder (--features-root)")
        names = [sample.meta.get("take_uid"), sample.id.rsplit("/", 1)[-1], sample.id.replace("/", "__")]
        if sample.video:
            names.append(Path(sample.video).stem)
        for name in dict.fromkeys(n for n in names if n):
            for suffix in SUFFIXES:
                if (self.root / f"{name}{suffix}").is_file():
                    return self.root / f"{name}{suffix}"
        raise InputNotFoundError(f"sample {sample.id}: no {'/'.join(SUFFIXES)} file for it in {self.root}")

    def _read(self, path: Path) -> tuple[np.ndarray, float | None]:
        try:
            if path.suffix in (".pt", ".pth"):
                import torch

                data: Any = torch.load(path, map_location="cpu", weights_only=True)
            elif path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    data = {k: z[k] for k in z.files}
            else:
                data = np.load(path, allow_pickle=False)
        except Exception as exc:  # torch/numpy raise many types for truncated or foreign files
            raise InvalidKeypointsError(f"{path}: cannot read features ({exc.__class__.__name__})") from exc
        fps = None
        if isinstance(data, dict):
            key = self.key or next((k for k in KEYS if k in data), None)
            if key is None or key not in data:
                raise InvalidKeypointsError(f"{path}: no features key (looked for {self.key or ', '.join(KEYS)})")
            if "fps" in data:
                fps = float(np.asarray(data["fps"]).reshape(-1)[0])
            data = data[key]
        arr = np.asarray(data.float().numpy() if hasattr(data, "float") and hasattr(data, "numpy") else data)
        return arr.astype(np.float32, copy=False), fps

    def encode(self, source: Any) -> ClipFeatures:
        """Features of one take: ``source`` is a feature file path (or a Sample, resolved by :meth:`input_for`)."""
        path = self.input_for(source) if hasattr(source, "id") else Path(source)
        if not path.is_file():
            raise InputNotFoundError(f"{path}: features file not found")
        arr, fps = self._read(path)
        if arr.ndim == 1:
            arr = arr[None, :]
        elif arr.ndim == 3:
            arr = arr.mean(axis=1)
        if arr.ndim != 2 or arr.shape[0] == 0 or not np.isfinite(arr).all():
            raise InvalidKeypointsError(f"{path}: expected a finite (seconds, dim) array, got shape {arr.shape}")
        rate = fps or self.fps or 1.0
        feats = resample_per_second(arr, rate)
        self.dim = int(feats.shape[1])
        return ClipFeatures(
            features=feats,
            times_s=np.arange(len(feats), dtype=np.float64),
            visibility=np.ones(len(feats), np.float32),
            encoder=self.name,
            meta={"file": path.name, "source_fps": rate},
        )
