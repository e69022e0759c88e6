"""One entry point for every dataset: ``load_samples("name:path?option=value")`` -> ``list[Sample]``.

Specs (``name:`` may be left out: the format is then sniffed from the path)::

    egoexo:/data/egoexo4d?split=train           Ego-Exo4D (crosstrainer.data.egoexo; feedback, resolution)
    qevd:/data/qevd?split=test                  QEVD FIT-COACH (crosstrainer.data.qevd)
    llava:/data/peer/train.json                 LLaVA-style conversations (crosstrainer.data.peers)
    jsonl:/data/peer/train.jsonl                {video_path(s), analysis, proficiency_level} lines
    folder:/data/my_sport?labels=labels.csv     videos + a CSV/JSONL of labels (crosstrainer.data.folder)
    samples:/runs/train.samples.jsonl           our own JSONL of Sample (written by save_samples)
    exercise_correction:../shared/data/exercise_correction        pose-landmark CSVs
    gym_exercise_correction_vn:../shared/data/gym_exercise_correction_vn
    mtl_aqa:../shared/data/mtl_aqa              MTL-AQA dives with commentary
    ui_prmd:../shared/data/ui_prmd?view=front   UI-PRMD Kinect repetitions, virtual camera (crosstrainer.data.ui_prmd)
    synthetic:16?dim=32&seed=0                  N random-feature samples for tests (crosstrainer.data.synthetic)

Options from the ``?query`` and from keyword arguments are merged (keywords win). ``split`` and ``sport``
filter the result for any dataset whose loader does not take them itself; ``limit=N`` keeps the first N.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError

from crosstrainer.data.sample import Sample
from crosstrainer.errors import InputNotFoundError, InvalidAnnotationError, UsageError

# name -> (module, function); modules are imported only when their dataset is used.
LOADERS: dict[str, tuple[str, str]] = {
    "egoexo": ("crosstrainer.data.egoexo", "load_egoexo"),
    "qevd": ("crosstrainer.data.qevd", "load_qevd"),
    "llava": ("crosstrainer.data.peers", "load_llava"),
    "jsonl": ("crosstrainer.data.peers", "load_analysis_jsonl"),
    "folder": ("crosstrainer.data.folder", "load_folder"),
    "samples": ("crosstrainer.data.registry", "read_samples"),
    "exercise_correction": ("crosstrainer.data.pose_csv", "load_exercise_correction"),
    "gym_exercise_correction_vn": ("crosstrainer.data.pose_csv", "load_gym_vn"),
    "mtl_aqa": ("crosstrainer.data.mtl_aqa", "load_mtl_aqa"),
    "ui_prmd": ("crosstrainer.data.ui_prmd", "load_ui_prmd"),
    "synthetic": ("crosstrainer.data.synthetic", "load_synthetic"),
}
# datasets whose "path" is not a file (synthetic:N takes a number of samples)
PATHLESS = {"synthetic"}
ALIASES = {
    "egoexo4d": "egoexo",
    "ego-exo4d": "egoexo",
    "qevd-fit-coach": "qevd",
    "gym_vn": "gym_exercise_correction_vn",
    "ui-prmd": "ui_prmd",
}
_GENERIC = ("split", "sport", "limit")


def _coerce(value: str) -> Any:
    low = value.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_spec(spec: str) -> tuple[str | None, str, dict[str, Any]]:
    """``"egoexo:/data/x?split=train"`` -> ``("egoexo", "/data/x", {"split": "train"})``; no name -> None."""
    path, _, query = spec.partition("?")
    options = {k: _coerce(v) for k, v in parse_qsl(query, keep_blank_values=True)}
    name, sep, rest = path.partition(":")
    if sep and (name.lower() in LOADERS or name.lower() in ALIASES):
        return ALIASES.get(name.lower(), name.lower()), rest, options
    if sep and len(name) > 1 and "/" not in name and "\\" not in name and not Path(path).exists():
        raise UsageError(f"unknown dataset {name!r} in {spec!r} (known: {', '.join(LOADERS)})")
    return None, path, options


def _has_any(root: Path, patterns: Iterable[str]) -> bool:
    return any(next(root.glob(p), None) is not None for p in patterns)


def sniff(path: str | Path) -> str:
    """Guess the dataset name of a file or folder from its layout (see the module docstring)."""
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"{p}: dataset path not found")
    if p.is_dir():
        egoexo_files = (
            "expert_commentary_*.json",
            "proficiency_demonstrator_*.json",
            "proficiency_demonstration_*.json",
        )
        if _has_any(p, [f"{d}{f}" for d in ("", "annotations/", "annotations/*/") for f in egoexo_files]):
            return "egoexo"
        if _has_any(p, ("feedbacks_long_range.json", "QEVD-FIT-COACH*/feedbacks_long_range.json")):
            return "qevd"
        if _has_any(p, ("core/*_model/*.csv",)) or p.name == "exercise_correction":
            return "exercise_correction"
        if (p / "trainning").is_dir() or p.name == "gym_exercise_correction_vn":
            return "gym_exercise_correction_vn"
        if (p / "MTL-AQA_dataset_release").is_dir() or p.name.lower().replace("-", "_") == "mtl_aqa":
            return "mtl_aqa"
        ui_prmd_files = ("manifest_kinect.csv", "Segmented Movements/Kinect", "Incorrect Segmented Movements/Kinect")
        if _has_any(p, ui_prmd_files) or p.name.lower().replace("-", "_") == "ui_prmd":
            return "ui_prmd"
        return "folder"
    suffix = p.suffix.lower()
    if suffix == ".jsonl":
        with p.open(encoding="utf-8") as fh:
            first = next((line for line in fh if line.strip()), "")
        try:
            record = json.loads(first) if first else {}
        except json.JSONDecodeError as exc:
            raise InvalidAnnotationError(f"{p} line 1: not valid JSON ({exc.msg})") from exc
        if isinstance(record, dict) and "id" in record and ("commentary" in record or "source" in record):
            return "samples"
        return "jsonl"
    if suffix == ".json":
        if p.name == "feedbacks_long_range.json":
            return "qevd"
        with p.open(encoding="utf-8") as fh:
            head = fh.read(65536)
        if '"conversations"' in head:
            return "llava"
    raise UsageError(f"{p}: cannot tell the dataset format; write it as NAME:{p} (names: {', '.join(LOADERS)})")


def get_loader(name: str) -> Callable[..., list[Sample]]:
    """The loader function of a dataset name (imports its module now)."""
    name = ALIASES.get(name, name)
    if name not in LOADERS:
        raise UsageError(f"unknown dataset {name!r} (known: {', '.join(LOADERS)})")
    module_name, func_name = LOADERS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise UsageError(f"dataset {name!r} is not available in this install ({module_name} is missing)") from exc
    loader = getattr(module, func_name, None)
    if loader is None:
        raise UsageError(f"dataset {name!r} is not available in this install ({module_name}.{func_name} is missing)")
    return loader


def load_samples(spec: str, **options: Any) -> list[Sample]:
    """Load any supported dataset into canonical samples (see the module docstring for specs)."""
    name, path, query = parse_spec(str(spec))
    options = {**query, **options}
    name = name or sniff(path)
    loader = get_loader(name)
    params = inspect.signature(loader).parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    filters = {k: options.pop(k) for k in _GENERIC if k in options and (k not in params or k == "limit")}
    unknown = [k for k in options if k not in params] if not takes_kwargs else []
    if unknown:
        accepted = [k for k in list(params)[1:] if params[k].kind is not inspect.Parameter.VAR_POSITIONAL]
        raise UsageError(
            f"dataset {name!r} has no option {unknown[0]!r} (options: {', '.join([*accepted, *_GENERIC]) or 'none'})"
        )
    if name not in PATHLESS and not Path(path).exists():
        raise InputNotFoundError(f"{path}: dataset path not found")
    samples = list(loader(path, **options))
    if "split" in filters:
        samples = [s for s in samples if s.split == str(filters["split"])]
    if "sport" in filters:
        samples = [s for s in samples if (s.sport or "").lower() == str(filters["sport"]).lower()]
    if "limit" in filters:
        samples = samples[: int(filters["limit"])]
    return samples


def save_samples(samples: Iterable[Sample], path: str | Path) -> Path:
    """Write samples as JSON lines (atomically: a temporary file then rename). Returns the path.

    In-memory ``pose`` arrays are not written; ``load_samples("samples:PATH")`` reads the file back.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for sample in samples:
            fh.write(sample.model_dump_json() + "\n")
    os.replace(tmp, path)
    return path


def read_samples(path: str | Path) -> list[Sample]:
    """Read a JSONL of samples written by :func:`save_samples` (or by hand, one Sample object a line)."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: samples file not found")
    samples = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                samples.append(Sample.model_validate_json(line))
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(x) for x in err["loc"])
                raise InvalidAnnotationError(f"{path} line {lineno}: {loc or 'record'}: {err['msg']}") from exc
    if not samples:
        raise InvalidAnnotationError(f"{path}: the file holds no samples")
    return samples
