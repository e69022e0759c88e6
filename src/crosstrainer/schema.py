"""The assessment result, versioned: ``crosstrainer.assessment/v1``.

Example (abridged)::

    {
      "schema": "crosstrainer.assessment/v1",
      "input": {"path": "examples/sample_bicep_curl.mp4", "kind": "video", "duration_s": 2.23, "fps": 29.97},
      "sport": "bicep curl",
      "proficiency": {"level": "good form", "levels": ["needs improvement", "good form"],
                      "probabilities": [0.31, 0.69], "score": 0.69, "llm_level": "good form"},
      "attributes": [{"name": "posture", "confidence": 0.64, "windows": [[0.0, 2.0]]}],
      "feedback": ["Keep your torso upright; do not lean back to swing the weight."],
      "timeline": {"times_s": [0.0, 1.0], "attributes": {"posture": [0.7, 0.58]}, "visibility": [0.98, 0.97]},
      "model": {"name": "crosstrainer-embedded-smollm2", "version": "0.1.0"}
    }

``timeline`` holds one value per encoded second (the start time of each second in ``times_s``): the per-second
attribute probe's probability of each attribute, and the fraction of joints seen. An attribute's ``windows`` are the
Stage-I spans where the language model named it (the clip is cut into windows of ``stage1_window_s``, 2 s by
default, and Stage I names the attributes of each), merged where they touch; its ``confidence`` is the language
model's probability of the tokens that spell its name (geometric mean), the highest over those windows.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_ID = "crosstrainer.assessment/v1"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class InputInfo(_Open):
    path: str
    kind: Literal["video", "keypoints"]
    duration_s: float
    fps: float


class Proficiency(_Open):
    level: str
    levels: list[str]
    probabilities: list[float]
    score: float = Field(ge=0.0, le=1.0, description="0..1, higher = more proficient")
    llm_level: str | None = Field(None, description="the level the language model states, when it states one")
    confidence: Literal["high", "low"] = Field("high", description="low: unfamiliar movement, body hidden, short clip")
    confidence_reasons: list[str] = Field(default_factory=list)


class AttributeResult(_Open):
    name: str
    confidence: float = Field(ge=0.0, le=1.0)
    windows: list[tuple[float, float]]
    definition: str | None = None


class Timeline(_Open):
    times_s: list[float]
    attributes: dict[str, list[float]]
    visibility: list[float] = Field(default_factory=list, description="fraction of joints seen, per second")


class ModelInfo(_Open):
    name: str
    version: str


class Assessment(_Open):
    schema_: str = Field(SCHEMA_ID, alias="schema")
    input: InputInfo
    sport: str | None
    proficiency: Proficiency
    attributes: list[AttributeResult]
    feedback: list[str]
    feedback_source: list[Literal["model", "grounded"]] = Field(
        default_factory=list, description="per feedback line: checked model text, or built from a measurement"
    )
    repetitions: dict | None = Field(None, description="repetition count and timing (crosstrainer.movement)")
    timeline: Timeline | None = None
    warnings: list[str] = Field(default_factory=list)
    model: ModelInfo

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_json(self, indent: int | None = 2) -> str:
        return self.model_dump_json(by_alias=True, indent=indent, exclude_none=False)
