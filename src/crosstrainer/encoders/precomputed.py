"""Features someone already computed (Omnivore, EgoVLPv2, CLIP...): one ``.pt``/``.npy``/``.npz`` file per take
and camera.

A file holds a (rows, D) array, a (rows, K, D) array (K crops or views, averaged), or a dict/npz with a features
key and an optional rate::

    torch.save(torch.randn(120, 4096), "features/<take_uid>.pt")                  # 1 row per second
    torch.save({"features": feats, "fps": 2.0}, "features/<take_uid>.pt")          # 2 rows per second
    np.save("features/<take_uid>.npy", feats)

**Ego-Exo4D's own layout.** The release (``egoexo --parts features/omnivore_video``) writes one file per take,
camera and stream: ``features/<take_uid>_<cam_id>_<stream_id>.pt``, e.g. ``<take_uid>_aria01_rgb.pt`` (the Aria
RGB stream, the ego view) and ``<take_uid>_cam01_0.pt`` (GoPro ``cam01``, stream ``0``); see EGO4D/Ego-Exo4D-docs
``docs/data/features.md``. Which file belongs to a sample (``input_for``): ``sample.features`` when set (relative
paths resolve against ``root``); else, for the sample's view (``view`` option, else ``meta["view"]``, else
``ego``), ``<take_uid>_<cam_id>_<stream_id>`` with the camera from ``meta["cameras"]`` (or, without it, the
``aria*_rgb`` file for ``ego`` and the n-th other camera, sorted, for ``exo<n>``); then ``<take_uid>``, the last part
of ``sample.id``, the whole id with ``/`` as ``__``, and the video's file stem, each with ``.pt``, ``.pth``,
``.npy`` or ``.npz``.

**Rates.** Rows are resampled to one per second: rows that fall in the same second are averaged (rate > 1), and a
second without a row repeats the latest row (rate < 1). The files of a feature family store no rate, so the rate
comes from, in this order: the file's own ``fps`` entry; the ``fps`` option (``--features-fps``); the family's
rate (:data:`FAMILIES`, the family named by ``family`` or recognised in ``tag``/the folder name: ``omnivore_video``
is 30/16 = 1.875 rows per second, EgoVLPv2 and CLIP one per second). When none of these says, one row per second is
assumed and a warning says so (``meta["rate_source"] == "assumed"``); then, when the clip's length is known (a
sample's ``meta["duration_sec"]``, or ``duration_s`` given to :meth:`encode`) and the rows at one per second would
cover a clearly different length (more than 2 s and 10% off), the file is refused rather than stretched in time.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.encoders.base import ClipFeatures
from crosstrainer.errors import InputNotFoundError, InvalidKeypointsError, UsageError

SUFFIXES = (".pt", ".pth", ".npy", ".npz")
KEYS = ("features", "feats", "video_features", "embeddings", "x")
DURATION_SLACK_S = 2.0
"""Rows at the known rate may cover the clip's length give or take this many seconds (or 10%) before a file is
refused: window-based extractors back the last window up, so the row count never matches the length exactly."""


@dataclass(frozen=True)
class FeatureFamily:
    """A published feature set: how many rows per second its files hold (they store no rate themselves)."""

    name: str
    rate_hz: float
    window_s: float | None
    dim: int | None
    source: str


FAMILIES: dict[str, FeatureFamily] = {
    "omnivore_video": FeatureFamily(
        "omnivore_video",
        30.0 / 16.0,
        32.0 / 30.0,
        1536,
        "Ego-Exo4D release (egoexo --parts features/omnivore_video): Omnivore Swin-L video head, windows of 32 "
        "frames at 30 fps every 16 frames (EGO4D/Ego-Exo4D-docs docs/data/features.md)",
    ),
    "egovlpv2": FeatureFamily(
        "egovlpv2", 1.0, 1.0, None, "EgoVLPv2 video features at one per second, as the CrossTrainer paper uses them"
    ),
    "clip": FeatureFamily("clip", 1.0, None, None, "CLIP image embeddings, one per second (crosstrainer extract)"),
}
"""Known feature families and their rates. Add yours here (or pass ``--features-fps``) rather than letting a rate
be assumed."""


def family_of(name: str | None) -> FeatureFamily | None:
    """The family a tag or folder name names: ``omnivore_video``, ``features_omnivore`` -> omnivore_video;
    ``egovlpv2``/``egovlp_v2`` -> egovlpv2; ``clip-vit-b32`` -> clip; anything else -> None."""
    text = re.sub(r"[^a-z0-9]", "", (name or "").lower())
    if not text:
        return None
    if "omnivore" in text:
        return FAMILIES["omnivore_video"]
    if "egovlp" in text:
        return FAMILIES["egovlpv2"]
    if text.startswith("clip"):
        return FAMILIES["clip"]
    return FAMILIES.get(name or "")


def stream_of(cam_id: str) -> str:
    """Ego-Exo4D's stream id of a camera's video: ``rgb`` for Aria glasses (``aria01``), ``0`` for GoPros."""
    return "rgb" if cam_id.lower().startswith("aria") else "0"


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
        self,
        root: str | Path | None = None,
        key: str | None = None,
        fps: float | None = None,
        tag: str | None = None,
        family: str | None = None,
        view: str | None = None,
    ) -> None:
        """``root``: folder of feature files; ``key``: dict/npz entry (default: first of KEYS found);
        ``fps``: rows per second when the file does not say (default: the family's rate); ``tag``: names the
        feature set in the cache key (default: the folder name, e.g. ``egovlpv2``); ``family``: a key of
        :data:`FAMILIES` (default: recognised in ``tag``); ``view``: ``ego``, ``exo1``... (default: the sample's)."""
        self.root = Path(root).expanduser() if root else None
        if self.root is not None and not self.root.is_dir():
            raise InputNotFoundError(f"{self.root}: precomputed features folder not found")
        if fps is not None and fps <= 0:
            raise UsageError(f"the feature rate must be positive, not {fps}")
        if family is not None and family not in FAMILIES:
            raise UsageError(f"unknown feature family {family!r} (known: {', '.join(FAMILIES)}; or give the rate)")
        self.key = key
        self.fps = fps
        self.tag = tag or (self.root.name if self.root else "inline")
        self.family = FAMILIES[family] if family else family_of(self.tag)
        self.view = view
        self.dim = 0  # known after the first file
        self._warned = False

    def config(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tag": self.tag, "key": self.key, "fps": self.fps}
        if self.family is not None:  # only when known, so caches written before families existed keep their key
            out["family"] = self.family.name
        return out

    def describe(self) -> str:
        """``"egovlpv2 features (1 row/s)"``: what these files are, for messages."""
        rate = self.fps or (self.family.rate_hz if self.family else None)
        what = self.family.name if self.family else self.tag
        return f"{what} features" + (f" ({rate:g} rows/s)" if rate else "")

    # ---- which file -------------------------------------------------------------------------------------------
    def _camera_names(self, take_uid: str, view: str, cameras: dict[str, str]) -> list[str]:
        """``<take_uid>_<cam_id>_<stream_id>`` candidates for ``view`` (Ego-Exo4D's own file names)."""
        cam = cameras.get(view)
        if cam:
            return [f"{take_uid}_{cam}_{stream_of(cam)}"]
        if self.root is None:
            return []
        found: dict[str, str] = {}
        for path in sorted(self.root.glob(f"{glob_escape(take_uid)}_*_*")):
            if path.suffix in SUFFIXES:
                rest = path.stem[len(take_uid) + 1 :]
                cam_id, _, stream = rest.rpartition("_")
                if cam_id and stream == stream_of(cam_id):
                    found.setdefault(cam_id, path.stem)
        ego = [n for c, n in found.items() if c.lower().startswith("aria")]
        exo = [found[c] for c in sorted(found) if not c.lower().startswith("aria")]
        if view == "ego":
            return ego[:1]
        match = re.fullmatch(r"exo(\d+)", view)
        if match and 0 < int(match.group(1)) <= len(exo):
            return [exo[int(match.group(1)) - 1]]
        return []

    def names_for(self, sample: Any) -> list[str]:
        """File names (without suffix) tried for a sample, in order."""
        meta = getattr(sample, "meta", None) or {}
        take_uid = meta.get("take_uid")
        view = self.view or meta.get("view") or "ego"
        names = self._camera_names(str(take_uid), str(view), dict(meta.get("cameras") or {})) if take_uid else []
        names += [take_uid, sample.id.rsplit("/", 1)[-1], sample.id.replace("/", "__")]
        if getattr(sample, "video", None):
            names.append(Path(sample.video).stem)
        return list(dict.fromkeys(str(n) for n in names if n))

    def find(self, names: list[str]) -> Path | None:
        """The first ``root/<name><suffix>`` that exists."""
        if self.root is None:
            return None
        for name in names:
            for suffix in SUFFIXES:
                if (self.root / f"{name}{suffix}").is_file():
                    return self.root / f"{name}{suffix}"
        return None

    def input_for(self, sample: Any) -> Path:
        """The feature file of a sample (see the module docstring for the search order)."""
        if sample.features:
            p = Path(sample.features)
            p = p if p.is_absolute() or self.root is None else self.root / p
            if not p.is_file():
                raise InputNotFoundError(f"sample {sample.id}: features file {p} not found")
            return p
        if self.root is None:
            raise InputNotFoundError(f"sample {sample.id}: no features path and no features folder (--features)")
        names = self.names_for(sample)
        found = self.find(names)
        if found is None:
            tried = ", ".join(f"{n}.pt" for n in names[:3])
            raise InputNotFoundError(f"sample {sample.id}: no feature file for it in {self.root} (tried {tried}, ...)")
        return found

    # ---- reading ----------------------------------------------------------------------------------------------
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

    def rate_for(self, path: Path, file_fps: float | None) -> tuple[float, str]:
        """(rows per second, where that rate came from: ``file``, ``option``, ``family <name>`` or ``assumed``)."""
        if file_fps:
            return file_fps, "file"
        if self.fps:
            return self.fps, "option"
        family = self.family or family_of(path.parent.name)
        if family is not None:
            return family.rate_hz, f"family {family.name}"
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"{path.parent}: {self.tag!r} is not a known feature family and its files store no rate: assuming "
                "one row per second (give the rate with --features-fps, or add the family to "
                "crosstrainer.encoders.precomputed.FAMILIES)",
                stacklevel=2,
            )
        return 1.0, "assumed"

    def encode(self, source: Any, duration_s: float | None = None) -> ClipFeatures:
        """Features of one take: ``source`` is a feature file path (or a Sample, resolved by :meth:`input_for`).
        ``duration_s``: the clip's length when known (a Sample's ``meta["duration_sec"]`` is used otherwise)."""
        if hasattr(source, "id"):
            path = self.input_for(source)
            if duration_s is None and (source.meta or {}).get("duration_sec") is not None:
                duration_s = float(source.meta["duration_sec"])
        else:
            path = Path(source)
        if not path.is_file():
            raise InputNotFoundError(f"{path}: features file not found")
        arr, fps = self._read(path)
        if arr.ndim == 1:
            arr = arr[None, :]
        elif arr.ndim == 3:
            arr = arr.mean(axis=1)
        if arr.ndim != 2 or arr.shape[0] == 0 or not np.isfinite(arr).all():
            raise InvalidKeypointsError(f"{path}: expected a finite (seconds, dim) array, got shape {arr.shape}")
        rate, how = self.rate_for(path, fps)
        covered = len(arr) / rate
        length = float(duration_s or 0.0)
        mismatch = length > 0 and abs(covered - length) > max(DURATION_SLACK_S, 0.1 * length)
        if how == "assumed" and mismatch:
            raise InvalidKeypointsError(
                f"{path}: {len(arr)} rows at {rate:g} rows/s ({how}) cover {covered:.1f} s, but the clip lasts "
                f"{duration_s:.1f} s: give the files' rate with --features-fps (nothing is stretched to fit)"
            )
        feats = resample_per_second(arr, rate)
        self.dim = int(feats.shape[1])
        return ClipFeatures(
            features=feats,
            times_s=np.arange(len(feats), dtype=np.float64),
            visibility=np.ones(len(feats), np.float32),
            encoder=self.name,
            meta={"file": path.name, "source_fps": rate, "rate_source": how, "covers_s": round(covered, 3)},
        )


def glob_escape(text: str) -> str:
    """``text`` with glob metacharacters escaped (take uids are hex, but file names are the user's)."""
    return re.sub(r"([\[\]*?])", r"[\1]", text)
