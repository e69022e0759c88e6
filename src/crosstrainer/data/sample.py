"""The one canonical training/evaluation sample every dataset adapter produces.

A sample is a take or clip: where its pixels (or features, or keypoints) are, what sport it is, who did it,
what an expert said and when, and how proficient the person was. Example (JSON)::

    {
      "id": "egoexo/0a1b2c",
      "source": "egoexo4d",
      "sport": "basketball",
      "participant": "unc_184",
      "video": "takes/unc_basketball_03-31-23_02_12/frame_aligned_videos/downscaled/448/aria01_214-1.mp4",
      "views": {"exo1": "takes/.../cam01.mp4"},
      "features": null,
      "keypoints": null,
      "commentary": [
        {"text": "He needs to bend his knees more before the shot.", "time_s": 12.4,
         "attributes": ["knee flexion", "shooting form"], "window": [7.4, 12.4]}
      ],
      "proficiency": "Intermediate Expert",
      "split": "train",
      "meta": {"task_name": "Basketball Drills - Mikan Layup"}
    }

``time_s`` is the moment the comment refers to (the window ends there); ``attributes`` and ``window`` are
filled by ``crosstrainer discover`` when the dataset does not have them. In-memory keypoints (from CSV
adapters) travel in ``pose`` and are not serialised.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EGOEXO_LEVELS: tuple[str, ...] = ("Novice", "Early Expert", "Intermediate Expert", "Late Expert")
"""Ego-Exo4D's demonstrator proficiency levels, least to most proficient."""
EXERCISE_LEVELS: tuple[str, ...] = ("needs improvement", "good form")
"""The pose-exercise datasets' levels (exercise_correction, gym_exercise_correction_vn, UI-PRMD)."""
LEVEL_SCALES: tuple[tuple[str, ...], ...] = (EGOEXO_LEVELS, EXERCISE_LEVELS)


def ordered_levels(labels: set[str] | list[str]) -> list[str]:
    """Proficiency levels from least to most proficient: a known scale when the labels fit one, else sorted.

    >>> ordered_levels({"Novice", "Intermediate Expert"})
    ['Novice', 'Early Expert', 'Intermediate Expert', 'Late Expert']
    >>> ordered_levels({"good form"})
    ['needs improvement', 'good form']
    """
    found = {label for label in labels if label}
    for scale in LEVEL_SCALES:
        if found and found <= set(scale):
            return list(scale)
    return sorted(found)


class Commentary(BaseModel):
    model_config = ConfigDict(extra="allow")

    text: str
    time_s: float | None = None
    attributes: list[str] | None = None
    window: tuple[float, float] | None = None


class Sample(BaseModel):
    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    id: str
    source: str = ""
    sport: str | None = None
    participant: str | None = None
    video: str | None = None
    views: dict[str, str] = Field(default_factory=dict)
    features: str | None = None
    keypoints: str | None = None
    commentary: list[Commentary] = Field(default_factory=list)
    proficiency: str | None = None
    split: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    pose: Any = Field(default=None, exclude=True, repr=False)
