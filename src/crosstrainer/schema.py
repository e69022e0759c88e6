"""The assessment result, versioned: ``crosstrainer.assessment/v1``.

Example (abridged)::

    {
      "schema": "crosstrainer.assessment/v1",
      "input": {"path": "examples/sample_bicep_curl.mp4", "kind": "video", "duration_s": 2.23, "fps": 29.97},
      "sport": "bicep curl",
      "proficiency": {"level": "needs improvement", "levels": ["needs improvement", "good form"],
                      "probabilities": [0.71, 0.29], "score": 0.29, "llm_level": "needs improvement",
                      "confidence": "high", "confidence_reasons": [],
                      "attribute_contributions": {"trunk control": -1.2, "range of motion": 0.3},
                      "probe": {"level": "needs improvement", "probabilities": [0.8, 0.2]}},
      "attributes": [{"name": "trunk control", "confidence": 0.82, "windows": [[0.4, 4.1]], "repetitions": [1, 2],
                      "definition": "...", "measured": {"value": 14.0, "unit": "deg", "detail": "..."}}],
      "feedback": ["Your trunk swings about 14 degrees during reps 1-2: brace your core and keep your torso still."],
      "feedback_source": ["grounded"],
      "repetitions": {"kind": "periodic", "count": 2, "primary": ["right_elbow_angle"], "repetitions": [...]},
      "timeline": {"times_s": [0.0, 1.0], "attributes": {"posture": [0.7, 0.58]}, "visibility": [0.98, 0.97]},
      "model": {"name": "crosstrainer-embedded-smollm2", "version": "0.1.0"}
    }

``proficiency``: the verdict of the model's attribute head (calibrated; never above 0.99), with ``confidence``
``"low"`` and its reasons when the clip is unlike the training clips, the body is hidden or the clip is short;
``attribute_contributions`` says which attributes lowered the score; ``probe`` is the linear probe on the projected
features, reported as a baseline. ``attributes``: the vocabulary attributes Stage I named, each in the windows (the
clip's repetitions, or 2-s windows when none are found) where the model's probability of naming it reached the
threshold; ``confidence`` is that probability, the highest over those windows. ``feedback_source`` says, per line,
whether it is the language model's checked text (``model``) or built from a measurement (``grounded``).
``timeline`` holds one value per encoded second: the per-second attribute probe's probability of each attribute,
and the fraction of joints seen.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_ID = "crosstrainer.assessment/v1"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class InputInfo(_Open):
    path: str
    kind: Literal["video", "keypoints", "features"]
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
    attribute_contributions: dict[str, float] = Field(
        default_factory=dict, description="each attribute's share of the verdict's logit (negative = lowered it)"
    )


class AttributeResult(_Open):
    name: str
    confidence: float = Field(ge=0.0, le=1.0)
    windows: list[tuple[float, float]]
    definition: str | None = None
    repetitions: list[int] = Field(default_factory=list, description="1-based repetitions where it showed")


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
