"""Explicit mapping from the pose-CSV datasets' labels to skill-attributes, levels and feedback text.

The ``exercise_correction`` set (MIT) labels frames C (correct) or an error code per exercise. Each error
becomes the sport-agnostic skill-attributes it is about, plus feedback that says what to change::

    bicep curl  L  "lean too far back"  -> posture, trunk control
    plank       H  "high lower back"    -> hip alignment
    plank       L  "low lower back"     -> hip alignment, core stability
    lunge       L  "knee over toe"      -> knee alignment

``gym_exercise_correction_vn`` only says C / W (wrong) without the error type: its clips carry a level but
no attributes, and are used for evaluation only (no license).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crosstrainer.attributes.vocabulary import Attribute, Vocabulary
from crosstrainer.data.sample import EXERCISE_LEVELS

LEVELS = EXERCISE_LEVELS
"""Proficiency levels of the embedded default model, from least to most proficient."""


@dataclass(frozen=True)
class LabelMeaning:
    level: str
    attributes: tuple[str, ...] = ()
    feedback: tuple[str, ...] = ()
    description: str = ""
    extra: dict = field(default_factory=dict)


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        name="posture",
        definition="How the trunk and spine are held: upright and neutral, not leaning or arching.",
        synonyms=["back straight", "torso upright", "body position"],
        feedback=["Keep your torso upright and your spine neutral."],
    ),
    Attribute(
        name="trunk control",
        definition="Keeping the torso still instead of swinging it to create momentum.",
        synonyms=["core control", "no swinging", "momentum"],
        feedback=["Brace your core and keep your torso still; let the working muscles move the load."],
    ),
    Attribute(
        name="hip alignment",
        definition="Hips in line with the shoulders and ankles (or knees): neither piked up nor sagging.",
        synonyms=["hip position", "hips high", "hips low", "hips sagging"],
        feedback=["Keep your hips in one straight line with your shoulders and ankles."],
    ),
    Attribute(
        name="core stability",
        definition="Holding the midsection braced so the body does not sag or rotate under load.",
        synonyms=["core engagement", "bracing", "abdominal tension"],
        feedback=["Squeeze your glutes and brace your abs to hold the position."],
    ),
    Attribute(
        name="knee alignment",
        definition="The knee tracks over the ankle and foot, not past the toes or caving in.",
        synonyms=["knee position", "knee over toe", "knee tracking"],
        feedback=["Keep your front knee above your ankle, not past your toes."],
    ),
)

LABELS: dict[str, dict[str, LabelMeaning]] = {
    "bicep curl": {
        "C": LabelMeaning(
            "good form",
            feedback=("Good form: your torso stays upright and the curl comes from the arms.",),
            description="correct",
        ),
        "L": LabelMeaning(
            "needs improvement",
            ("posture", "trunk control"),
            (
                "Stop leaning back: keep your torso upright and brace your core.",
                "Do not swing your body to lift the weight; lower the weight if you have to lean back.",
            ),
            "lean too far back",
        ),
    },
    "plank": {
        "C": LabelMeaning(
            "good form",
            feedback=("Good form: your body holds a straight line from shoulders to ankles.",),
            description="correct",
        ),
        "H": LabelMeaning(
            "needs improvement",
            ("hip alignment",),
            ("Lower your hips until your body forms a straight line from shoulders to ankles.",),
            "high lower back (hips piked)",
        ),
        "L": LabelMeaning(
            "needs improvement",
            ("hip alignment", "core stability"),
            (
                "Lift your hips: do not let your lower back sag.",
                "Squeeze your glutes and brace your abs to keep your back flat.",
            ),
            "low lower back (hips sagging)",
        ),
    },
    "lunge": {
        "C": LabelMeaning(
            "good form",
            feedback=("Good form: your front knee stays above your ankle.",),
            description="correct",
        ),
        "L": LabelMeaning(
            "needs improvement",
            ("knee alignment",),
            (
                "Keep your front knee above your ankle, not past your toes.",
                "Take a slightly longer step so your front shin stays vertical.",
            ),
            "knee over toe",
        ),
    },
}

WRONG_UNSPECIFIED = LabelMeaning("needs improvement", (), (), "wrong (error type not recorded)")
CORRECT_GENERIC = LabelMeaning("good form", (), ("Good form: keep the same control.",), "correct")


def default_vocabulary() -> Vocabulary:
    """The attribute vocabulary of the embedded default model: the movement backbone
    (:data:`crosstrainer.movement.BACKBONE`), with this module's wording for the five attributes the labels use."""
    from crosstrainer.movement import BACKBONE

    sports: dict[str, set[str]] = {a.name: set() for a in ATTRIBUTES}
    for sport, labels in LABELS.items():
        for meaning in labels.values():
            for name in meaning.attributes:
                sports[name].add(sport)
    ours = {a.name: a.model_copy(update={"sports": sorted(sports[a.name])}) for a in ATTRIBUTES}
    backbone = {b.name for b in BACKBONE}
    attrs = [ours.get(a.name, a) for a in BACKBONE] + [a for n, a in ours.items() if n not in backbone]
    return Vocabulary(attributes=attrs, meta={"source": "crosstrainer.data.exercise_labels + crosstrainer.movement"})
