"""The skill-attribute vocabulary: the file that ``crosstrainer discover`` writes and training reads.

File format (JSON or YAML, ``schema: crosstrainer.vocabulary/v1``)::

    {
      "schema": "crosstrainer.vocabulary/v1",
      "attributes": [
        {
          "name": "posture",
          "definition": "How the trunk and spine are held: upright, neutral, not leaning or arching.",
          "synonyms": ["back straight", "torso upright", "trunk control"],
          "count": 265,
          "sports": ["bicep curl", "plank"],
          "examples": ["leaning too far back"],
          "feedback": ["Keep your torso upright; brace your core instead of leaning back."],
          "transferable": true
        }
      ],
      "meta": {"source": "...", "extractor": "..."}
    }

Only ``name`` is required per attribute. Names are normalised (``normalise_name``: lower-case, ``-`` and ``_`` as
spaces, single spaces) and unique; the order is the order of the attribute classifier's outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crosstrainer.errors import InputNotFoundError, InvalidAnnotationError
from crosstrainer.fileio import atomic_write_text

VOCABULARY_SCHEMA = "crosstrainer.vocabulary/v1"


def normalise_name(name: str) -> str:
    """The one spelling of an attribute name used to store and compare names.

    Lower-case, hyphens and underscores as spaces, one space between words, none at the ends:

    >>> normalise_name("  Follow-Through ")
    'follow through'
    >>> normalise_name("hip_alignment"), normalise_name("Knee  Alignment")
    ('hip alignment', 'knee alignment')
    """
    return " ".join(str(name).lower().replace("-", " ").replace("_", " ").split())


class Attribute(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    definition: str = ""
    synonyms: list[str] = Field(default_factory=list)
    count: int = 0
    sports: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    feedback: list[str] = Field(default_factory=list)
    transferable: bool = True

    @field_validator("name")
    @classmethod
    def _normalise(cls, v: str) -> str:
        v = normalise_name(v)
        if not v:
            raise ValueError("attribute name is empty")
        return v


class Vocabulary(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_: str = Field(VOCABULARY_SCHEMA, alias="schema")
    attributes: list[Attribute]
    meta: dict = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _unique(cls, v: list[Attribute]) -> list[Attribute]:
        names = [a.name for a in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate attribute names: {sorted(dup)}")
        return v

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.attributes]

    def get(self, name: str) -> Attribute | None:
        name = normalise_name(name)
        for a in self.attributes:
            if a.name == name or name in (normalise_name(s) for s in a.synonyms):
                return a
        return None

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as YAML (``.yaml``/``.yml``) or JSON (anything else), atomically."""
        path = Path(path)
        data = self.model_dump(by_alias=True)
        text = (
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
            if path.suffix in (".yaml", ".yml")
            else (json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        )
        atomic_write_text(path, text)

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        path = Path(path)
        if not path.is_file():
            raise InputNotFoundError(f"vocabulary file not found: {path}")
        try:
            text = path.read_text(encoding="utf-8")
            data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
        except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InvalidAnnotationError(f"{path}: not valid JSON/YAML ({exc.__class__.__name__}: {exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("attributes"), list):
            raise InvalidAnnotationError(f"{path}: a vocabulary needs an 'attributes' list")
        if data.get("schema", VOCABULARY_SCHEMA) != VOCABULARY_SCHEMA:
            raise InvalidAnnotationError(f"{path}: schema {data.get('schema')!r}, expected {VOCABULARY_SCHEMA!r}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidAnnotationError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
