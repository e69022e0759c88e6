"""CLIP image features, one per second of video, from a LOCAL checkpoint (nothing is downloaded).

The checkpoint is a Hugging Face folder (``config.json`` + weights, ideally ``preprocessor_config.json``) of a full
CLIP (``CLIPModel``, e.g. openai/clip-vit-base-patch32 saved with ``save_pretrained``) or of its vision tower with
projection (``CLIPVisionModelWithProjection``). Both load as the vision tower plus projection::

    enc = ClipImageEncoder("/models/clip-vit-base-patch32", samples_per_second=1)
    feats = enc.encode("serve.mp4")      # ClipFeatures: features (S, 512), times_s [0, 1, 2, ...]

Second ``s`` is summarised by the frame nearest its middle (``s + 0.5``); with ``samples_per_second=n`` by the
mean of the embeddings of the frames nearest ``s + (k + 0.5) / n``. Embeddings are L2-normalised like CLIP's.
``version`` is derived from the checkpoint's ``config.json`` (and weight file sizes), so retrained or swapped
weights give a new cache key.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.encoders.base import ClipFeatures
from crosstrainer.errors import InputNotFoundError, MissingResourceError, ModelError

_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json")


def checkpoint_version(path: Path) -> str:
    """``<folder name>-<12 hex>``: a hash of config.json plus the weight files' sizes."""
    digest = hashlib.sha256((path / "config.json").read_bytes())
    for name in _WEIGHTS:
        if (path / name).is_file():
            digest.update(f"{name}:{(path / name).stat().st_size}".encode())
    return f"{path.name}-{digest.hexdigest()[:12]}"


def _load_vision_tower(path: Path, model_class: Any) -> Any:
    """The vision tower + projection of a full CLIP or vision-only checkpoint, with every weight accounted for."""
    from transformers import CLIPVisionConfig
    from transformers.utils import logging as hf_logging

    try:
        raw = json.loads((path / "config.json").read_text(encoding="utf-8"))
        config = None
        if raw.get("model_type") == "clip":  # a full CLIP: its vision part plus the shared projection size
            config = CLIPVisionConfig(**raw.get("vision_config", {}))
            config.projection_dim = int(raw.get("projection_dim", config.projection_dim))
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            model, info = model_class.from_pretrained(
                str(path), config=config, local_files_only=True, output_loading_info=True
            )
        finally:
            hf_logging.set_verbosity(verbosity)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ModelError(f"{path}: not a loadable CLIP checkpoint ({str(exc).strip().splitlines()[0]})") from exc
    broken = [*info.get("missing_keys", []), *[str(k[0]) if isinstance(k, tuple) else str(k)
                                               for k in info.get("mismatched_keys", [])]]  # fmt: skip
    if broken:
        raise ModelError(f"{path}: CLIP checkpoint lacks or mismatches {len(broken)} vision weights (e.g. {broken[0]})")
    return model


class ClipImageEncoder:
    """Frozen CLIP vision tower + projection: ``encode(video_path) -> ClipFeatures`` at 1 feature/s."""

    name = "clip"

    def __init__(
        self,
        checkpoint: str | Path,
        samples_per_second: int = 1,
        batch_size: int = 32,
        device: str | None = None,
        max_side: int = 448,
    ) -> None:
        path = Path(checkpoint).expanduser()
        if not (path / "config.json").is_file():
            raise MissingResourceError(
                f"CLIP checkpoint not found at {path} (expected a Hugging Face folder with config.json; "
                "nothing is downloaded: pass --clip-checkpoint PATH)"
            )
        import torch
        from transformers import CLIPVisionModelWithProjection

        try:  # the PIL processor needs no torchvision (which does not import beside the CPU torch wheel)
            from transformers import CLIPImageProcessorPil as CLIPImageProcessor
        except ImportError:
            from transformers import CLIPImageProcessor

        self.checkpoint = path
        self.samples_per_second = max(1, int(samples_per_second))
        self.batch_size = max(1, int(batch_size))
        self.max_side = max_side
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = _load_vision_tower(path, CLIPVisionModelWithProjection)
        self.model.eval().to(self.device)
        if (path / "preprocessor_config.json").is_file():
            self.processor = CLIPImageProcessor.from_pretrained(str(path), local_files_only=True)
        else:  # CLIP's standard preprocessing at the model's input size
            size = int(self.model.config.image_size)
            self.processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
        self.dim = int(self.model.config.projection_dim)
        self.version = checkpoint_version(path)

    def config(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint.name,
            "samples_per_second": self.samples_per_second,
            "image_size": int(self.model.config.image_size),
            "dim": self.dim,
        }

    def _embed(self, frames: list[np.ndarray]) -> np.ndarray:
        import torch

        inputs = self.processor(images=frames, return_tensors="pt")
        with torch.inference_mode():
            out = self.model(pixel_values=inputs["pixel_values"].to(self.device, self.model.dtype))
        emb = out.image_embeds.float()
        return torch.nn.functional.normalize(emb, dim=-1).cpu().numpy()

    def encode(self, source: Any) -> ClipFeatures:
        """Per-second embeddings of a video file (``source``: a path)."""
        from crosstrainer.video.decode import iter_frames, probe_video

        path = Path(str(source))
        if not path.is_file():
            raise InputNotFoundError(f"{path}: video not found")
        info = probe_video(path)
        n = self.samples_per_second
        duration = float(info.duration_s or 0.0)
        num_seconds = max(1, math.ceil(duration - 1e-6)) if duration > 0 else None
        # keep, for each slot (second s, sub-sample k), the frame nearest the slot's centre (s + (k + 0.5) / n)
        best: dict[int, tuple[float, np.ndarray]] = {}
        last_t = 0.0
        for t, rgb in iter_frames(path, sample_fps=max(4.0, 4.0 * n), max_side=self.max_side):
            last_t = t
            slot = int(t * n)
            for cand in (slot - 1, slot, slot + 1):  # a frame can be the nearest one for a neighbouring slot too
                if cand < 0:
                    continue
                dist = abs(t - (cand + 0.5) / n)
                if cand not in best or dist < best[cand][0]:
                    best[cand] = (dist, rgb)
        if num_seconds is None:
            num_seconds = max(1, math.ceil(last_t + 1e-6))
        slots = [s for s in sorted(best) if s < num_seconds * n]
        embeddings: dict[int, np.ndarray] = {}
        for i in range(0, len(slots), self.batch_size):
            chunk = slots[i : i + self.batch_size]
            for slot, emb in zip(chunk, self._embed([best[s][1] for s in chunk]), strict=True):
                embeddings[slot] = emb
        feats = np.zeros((num_seconds, self.dim), np.float32)
        for s in range(num_seconds):
            rows = [embeddings[s * n + k] for k in range(n) if s * n + k in embeddings]
            if not rows:  # a second with no decoded frame (short tail): reuse the nearest earlier one
                rows = [feats[s - 1]] if s > 0 else [next(iter(embeddings.values()))]
            feats[s] = np.mean(rows, axis=0)
        return ClipFeatures(
            features=feats,
            times_s=np.arange(num_seconds, dtype=np.float64),
            visibility=np.ones(num_seconds, np.float32),
            encoder=self.name,
            meta={"fps": info.fps, "duration_s": duration, "checkpoint": self.checkpoint.name},
        )
