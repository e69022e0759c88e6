"""Reading the settings files users write (training presets, protocol and discovery configs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from crosstrainer.errors import InputNotFoundError, UsageError


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The mapping in a YAML (or JSON) file; a missing, malformed or non-mapping file is one clear error line.

    ``what`` names the file in messages, e.g. ``"protocol config"`` -> ``protocol config not found: x.yaml``.
    """
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(f"{what} not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{p}: expected a mapping of {what} settings")
    return data
