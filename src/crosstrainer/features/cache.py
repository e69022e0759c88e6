"""The feature cache: one ``.npz`` per clip, in a folder keyed by encoder name, version and config.

Layout::

    <cache>/
      clip/                                   # encoder name
        clip-vit-b32-3f9a1c2e4b5d-c0ffee123456/   # <version>-<hash of the encoder config>
          encoder.json                        # {"name", "version", "config", "dim"}: what made these files
          egoexo__0a1b2c.npz                  # one clip: features (S, D) float32, times_s (S,), visibility (S,),
          qevd__train__0000-7d1e0f.npz        #   clip_id and meta (JSON string); ids with odd characters get a hash
          failures.jsonl, extract-summary.json   # written by ``crosstrainer extract``

Files are written atomically (``crosstrainer.fileio``: a hidden ``.<name>.<random>.tmp`` file renamed into place),
so a kill leaves either the old state or the complete new file; leftover temporary files are ignored. A file that
cannot be read back (truncated, foreign) counts as missing and is extracted again.

>>> cache = FeatureCache("/tmp/cache", "clip", "v1", {"samples_per_second": 1})  # doctest: +SKIP
>>> cache.save("egoexo/0a1b2c", feats); cache.load("egoexo/0a1b2c").features.shape  # doctest: +SKIP
(120, 512)
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.encoders.base import ClipFeatures, VideoEncoder
from crosstrainer.errors import InputNotFoundError, UsageError
from crosstrainer.fileio import atomic_write, atomic_write_json

_ARRAYS = ("features", "times_s", "visibility")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def config_hash(config: dict[str, Any]) -> str:
    """12 hex digits of the SHA-256 of the config as canonical JSON (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def cache_key(name: str, version: str, config: dict[str, Any]) -> str:
    """``<name>/<version>-<config hash>``: the sub-folder of the cache that holds one encoder setup's files."""
    return f"{_SAFE.sub('_', name)}/{_SAFE.sub('_', str(version))}-{config_hash(config)}"


def clip_filename(clip_id: str) -> str:
    """A file name for a clip id: ``egoexo/0a1b`` -> ``egoexo__0a1b.npz``; lossy names get a short hash."""
    safe = _SAFE.sub("_", clip_id.replace("/", "__")).strip("._") or "clip"
    if safe != clip_id.replace("/", "__") or len(safe) > 150:
        safe = f"{safe[:150]}-{hashlib.sha1(clip_id.encode()).hexdigest()[:8]}"
    return f"{safe}.npz"


class FeatureCache:
    """Per-clip features of one encoder setup (name + version + config) under ``root``."""

    def __init__(self, root: str | Path, name: str, version: str, config: dict[str, Any], dim: int | None = None):
        self.root = Path(root)
        self.name, self.version, self.config = name, str(version), dict(config)
        self.key = cache_key(name, self.version, self.config)
        self.dir = self.root / self.key
        self.dim = dim

    @classmethod
    def for_encoder(cls, root: str | Path, encoder: VideoEncoder) -> FeatureCache:
        return cls(root, encoder.name, encoder.version, encoder.config(), dim=getattr(encoder, "dim", None) or None)

    @classmethod
    def open(cls, root: str | Path, name: str, key: str | None = None) -> FeatureCache:
        """An existing cache of encoder ``name`` (for training): the only setup under ``root/name``, or ``key``."""
        base = Path(root) / _SAFE.sub("_", name)
        setups = sorted(p.parent for p in base.glob("*/encoder.json"))
        if key is not None:
            setups = [p for p in setups if p.name == key or f"{p.parent.name}/{p.name}" == key]
        if not setups:
            raise InputNotFoundError(f"{base}: no extracted features for encoder {name!r} (run crosstrainer extract)")
        if len(setups) > 1:
            names = ", ".join(p.name for p in setups)
            raise UsageError(f"{base}: several feature sets ({names}); choose one with its key")
        manifest = json.loads((setups[0] / "encoder.json").read_text(encoding="utf-8"))
        cache = cls(root, manifest["name"], manifest["version"], manifest["config"], dim=manifest.get("dim"))
        if cache.dir != setups[0]:
            raise UsageError(f"{setups[0]}: encoder.json does not match its folder name (edited by hand?)")
        return cache

    def path(self, clip_id: str) -> Path:
        return self.dir / clip_filename(clip_id)

    def has(self, clip_id: str) -> bool:
        """True if a complete file for the clip is there (checks the zip directory, not the whole file)."""
        path = self.path(clip_id)
        if not path.is_file():
            return False
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, OSError):
            return False
        return all(f"{a}.npy" in names for a in _ARRAYS)

    __contains__ = has

    def load(self, clip_id: str) -> ClipFeatures | None:
        """The clip's features, or None when missing or unreadable (a partial or corrupt file)."""
        path = self.path(clip_id)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
                return ClipFeatures(
                    features=z["features"],
                    times_s=z["times_s"],
                    visibility=z["visibility"],
                    encoder=self.name,
                    meta=meta,
                )
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None

    def save(self, clip_id: str, feats: ClipFeatures) -> Path:
        """Write one clip atomically (temporary file + rename)."""
        self.write_manifest(dim=int(feats.features.shape[1]))
        path = self.path(clip_id)
        meta = json.dumps({**feats.meta, "clip_id": clip_id}, default=str)
        with atomic_write(path, "wb") as fh:
            np.savez(
                fh,
                features=feats.features.astype(np.float32),
                times_s=feats.times_s,
                visibility=feats.visibility,
                meta=np.array(meta),
            )
        return path

    def write_manifest(self, dim: int | None = None) -> None:
        """``encoder.json`` describing the setup (written once, atomically)."""
        manifest = self.dir / "encoder.json"
        if manifest.is_file():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dim = dim or self.dim
        body = {"name": self.name, "version": self.version, "config": self.config, "dim": self.dim}
        atomic_write_json(manifest, body, indent=2, sort_keys=True, default=str)

    def clip_files(self) -> list[Path]:
        """Every finished clip file (temporary files excluded)."""
        return sorted(self.dir.glob("*.npz")) if self.dir.is_dir() else []
