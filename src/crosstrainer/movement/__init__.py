"""Movement analysis shared by every exercise: repetitions and the backbone of measurable skill-attributes.

>>> from crosstrainer.movement import find_repetitions, grounded_sentence, measure
>>> reps = find_repetitions(pose)                          # doctest: +SKIP
>>> ms = measure(pose, reps)                               # doctest: +SKIP
>>> grounded_sentence(ms["trunk control"], reps)           # doctest: +SKIP
'Your trunk swings about 15 degrees during reps 2-4: brace your core and keep your torso still.'
"""

from crosstrainer.movement.measures import (
    BACKBONE,
    BACKBONE_NAMES,
    SPECS,
    AttributeSpec,
    Measurement,
    grounded_sentence,
    measure,
    praise_sentence,
)
from crosstrainer.movement.repetitions import (
    Repetition,
    RepetitionReport,
    describe_reps,
    find_repetitions,
    primary_joints,
)

__all__ = [
    "BACKBONE",
    "BACKBONE_NAMES",
    "SPECS",
    "AttributeSpec",
    "Measurement",
    "Repetition",
    "RepetitionReport",
    "describe_reps",
    "find_repetitions",
    "grounded_sentence",
    "measure",
    "praise_sentence",
    "primary_joints",
]
