"""Save and load a trained CrossTrainer model folder.

Only the small trained parts are saved; the base LLM comes from its spec.

Layout::

    model.json            manifest: format, name, version, LLM, encoder (name/version/config), levels, metrics
    projector.safetensors f_m weights and input statistics
    adapter/              LoRA adapter (peft ``save_pretrained``)
    probes.safetensors    proficiency probe, per-second attribute probe, and (pose models) the attribute head
                          and the familiarity statistics (``head.*``, ``familiarity.*``)
    vocabulary.json       the skill-attribute vocabulary (crosstrainer.vocabulary/v1)
    MODEL_CARD.md         data, license, command, seed, metrics
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.attributes.vocabulary import Vocabulary
from crosstrainer.errors import InvalidAnnotationError, ModelError
from crosstrainer.fileio import atomic_write_json
from crosstrainer.model.calibration import Familiarity
from crosstrainer.model.heads import AttributeHead
from crosstrainer.model.probes import LinearProbe

MODEL_FORMAT = "crosstrainer.model/v1"
MANIFEST = "model.json"


@dataclass
class Manifest:
    name: str
    version: str
    llm: str
    encoder: dict[str, Any]
    levels: list[str]
    projector: dict[str, int]
    lora: dict[str, Any]
    max_video_tokens: int = 64
    stage1_window_s: float = 2.0
    stage1_max_new_tokens: int = 24
    stage2_max_new_tokens: int = 80
    attribute_threshold: float = 0.5
    stage1_threshold: float = 0.5
    head: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    train: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    format: str = MODEL_FORMAT

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class LoadedParts:
    manifest: Manifest
    vocabulary: Vocabulary
    proficiency_probe: LinearProbe
    attribute_probe: LinearProbe
    folder: Path
    head: AttributeHead | None = None
    familiarity: Familiarity | None = None


def read_manifest(folder: str | Path) -> Manifest:
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise ModelError(f"not a CrossTrainer model folder (no {MANIFEST}): {folder}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: corrupt manifest ({exc})") from exc
    fmt = data.get("format")
    if fmt != MODEL_FORMAT:
        raise ModelError(
            f"{folder}: model format {fmt!r} is not supported by this crosstrainer (needs {MODEL_FORMAT!r})"
        )
    try:
        return Manifest(**data)
    except TypeError as exc:
        raise ModelError(f"{path}: manifest fields do not match {MODEL_FORMAT} ({exc})") from exc


def load_parts(folder: str | Path) -> LoadedParts:
    from safetensors.numpy import load_file

    folder = Path(folder)
    manifest = read_manifest(folder)
    for name in ("projector.safetensors", "probes.safetensors", "vocabulary.json", "adapter/adapter_config.json"):
        if not (folder / name).is_file():
            raise ModelError(f"{folder}: incomplete model folder, {name} is missing")
    try:
        vocab = Vocabulary.load(folder / "vocabulary.json")
    except InvalidAnnotationError as exc:
        raise ModelError(str(exc)) from exc
    probes = load_file(str(folder / "probes.safetensors"))
    prof = LinearProbe(probes["proficiency.weight"], probes["proficiency.bias"], list(manifest.levels))
    attr = LinearProbe(probes["attributes.weight"], probes["attributes.bias"], vocab.names, multilabel=True)
    if prof.weight.shape[0] != len(manifest.levels) or attr.weight.shape[0] != len(vocab.names):
        raise ModelError(f"{folder}: probe shapes do not match the levels/vocabulary in the manifest")
    head = AttributeHead.from_arrays(probes, manifest.head.get("features", []))
    return LoadedParts(manifest, vocab, prof, attr, folder, head, Familiarity.from_arrays(probes))


def load_model(folder: str | Path) -> tuple[Any, LoadedParts]:
    """Load a saved model for inference: (CrossTrainerModel with the LoRA merged, parts). Any encoder, any LLM spec."""
    from safetensors.torch import load_file

    from crosstrainer.model.crosstrainer import CrossTrainerModel
    from crosstrainer.model.llm import load_causal_lm, merge_lora
    from crosstrainer.model.projector import Projector

    folder = Path(folder)
    if not folder.exists():
        raise ModelError(f"model folder not found: {folder}")
    parts = load_parts(folder)
    m = parts.manifest
    dims = m.projector
    llm, tok = load_causal_lm(m.llm, seed=m.seed)
    if int(llm.config.hidden_size) != dims.get("out_dim"):
        raise ModelError(
            f"{folder}: projector outputs {dims.get('out_dim')}-d, LLM {m.llm} has {llm.config.hidden_size}"
        )
    try:
        llm = merge_lora(llm, folder / "adapter")  # peft's merge_and_unload, without peft for a plain LoRA
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ModelError(f"{folder}: the LoRA adapter does not fit {m.llm} ({str(exc).splitlines()[0]})") from exc
    projector = Projector(dims["in_dim"], dims["out_dim"], dims.get("hidden_dim"))
    try:
        projector.load_state_dict(load_file(str(folder / "projector.safetensors")))
    except RuntimeError as exc:
        raise ModelError(f"{folder}: projector weights do not match the manifest") from exc
    model = CrossTrainerModel(llm, tok, projector.eval(), max_video_tokens=m.max_video_tokens)
    model.eval()
    return model, parts


def _portable_adapter_config(path: Path, llm_spec: str) -> None:
    """Name the base model by its spec (``smollm2``), not by this machine's cache path."""
    config = json.loads(path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = llm_spec
    atomic_write_json(path, config, indent=2, sort_keys=True)


def save_model(
    folder: str | Path,
    manifest: Manifest,
    projector_state: dict[str, Any],
    peft_model: Any,
    proficiency_probe: LinearProbe,
    attribute_probe: LinearProbe,
    vocabulary: Vocabulary,
    model_card: str,
    extra_arrays: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write every part into a temporary folder, then move it into place (a killed save leaves the old model)."""
    from safetensors.numpy import save_file as save_np
    from safetensors.torch import save_file as save_torch

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        (tmp / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8")
        save_torch(
            {k: v.detach().contiguous().cpu() for k, v in projector_state.items()}, str(tmp / "projector.safetensors")
        )
        peft_model.save_pretrained(str(tmp / "adapter"))
        (tmp / "adapter" / "README.md").unlink(missing_ok=True)  # peft's empty card template; MODEL_CARD.md is ours
        _portable_adapter_config(tmp / "adapter" / "adapter_config.json", manifest.llm)
        save_np(
            {
                "proficiency.weight": np.ascontiguousarray(proficiency_probe.weight),
                "proficiency.bias": np.ascontiguousarray(proficiency_probe.bias),
                "attributes.weight": np.ascontiguousarray(attribute_probe.weight),
                "attributes.bias": np.ascontiguousarray(attribute_probe.bias),
                **{k: np.ascontiguousarray(v) for k, v in (extra_arrays or {}).items()},
            },
            str(tmp / "probes.safetensors"),
        )
        vocabulary.save(tmp / "vocabulary.json")
        (tmp / "MODEL_CARD.md").write_text(model_card, encoding="utf-8")
        old = folder.with_name(f".{folder.name}.old")
        if folder.exists():
            if old.exists():
                shutil.rmtree(old)
            folder.replace(old)
        tmp.chmod(0o755)  # mkdtemp makes it private; a model folder is meant to be shared
        tmp.replace(folder)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder
