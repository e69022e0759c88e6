"""The embedded extractor that needs no LLM: rule-based clauses, a praise/correction detector, MiniLM matching.

For each comment:

1. split it into clauses at punctuation and conjunctions (``and``, ``but``, ``so``, ...); fragments shorter than
   three words are glued back to the clause before (``"vibration of the hips" + "and legs here"``); a long run-on
   clause (speech-to-text) is cut into windows around its cue words;
2. classify each clause (:func:`classify`): instructions (``"keep your back straight"``, ``"don't let your hips
   drop"``, ``"chest up"``), faults described in the second or third person (``"his hips are sagging"``), negated
   descriptions of the body (``"arms not locked"``) and correction cues correct; praise cues praise, with negation
   (``"not perfect"`` corrects, ``"barely a splash"`` praises); a clause with both loses its praise spans
   (``"beautiful entry but his hands were apart"`` corrects the hands only); a clause with no cue that talks about
   the body corrects when MiniLM puts it closer to correction than to praise examples; praise reaches the clauses
   after it that only describe a good state or keep it (``"great depth, your back stayed neutral, keep that"``),
   and all clauses of a comment with no turn (``"but"``, ``"now"``) and nothing corrective (:func:`praise_scope`);
3. a corrective clause that compares the two sides (``"her left side pushes harder than her right"``) gives
   ``symmetry``; one with a phrase of :data:`ATTRIBUTE_CUES` (``"too late"``, ``"tipping forward"``, not after a
   preposition of phase such as ``"on the entry"``) gives the attributes it names; any other goes to the nearest
   seed attribute by MiniLM similarity (names, definitions, synonyms;
   a one-word synonym in the clause adds ``HINT_BONUS``), kept at ``seed_threshold - INSTRUCTION_DROP`` with a cue
   and ``seed_threshold`` without; below it, a clause with a cue gives its key words (``"pike shape"``) as a
   candidate attribute, clustered later by canonicalisation. Praise clauses never give attributes: what they
   praise goes to ``praised``. A comment with nothing to improve gets a ``reason``.

A comment whose clauses only praise gives ``praise=True`` and no attributes::

    >>> OfflineExtractor(DiscoverConfig()).extract([Item("1", "great entry, perfect rip")])[0].praise
    True
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from crosstrainer.attributes.vocabulary import Vocabulary
from crosstrainer.discover.config import DiscoverConfig
from crosstrainer.discover.items import Item
from crosstrainer.discover.prompt import Extraction

SPLIT_WORDS = {
    "and", "but", "so", "though", "although", "because", "while", "which", "then", "yeah", "okay", "ok", "whereas",
    "however", "cos", "cause", "mm-hmm", "oh",
}  # fmt: skip
CORRECTION_CUES = [
    "too", "not quite", "not enough", "lack", "lacking", "lacked", "lost", "loss", "losing", "error", "errors",
    "mistake", "fault", "short", "went short", "came short", "over-rotated", "over rotated", "overcooked",
    "over rotating", "under-rotated", "under rotated", "under rotating", "under-rotating", "splash", "splashy",
    "apart", "bent", "crooked", "scruffy", "messy", "untidy", "sloppy", "wobble", "wobbled", "wobbly", "vibration",
    "faltered", "disaster", "wrong", "missed", "off vertical", "rolled", "rolling", "roll over", "went over",
    "came over", "arched", "arch", "low", "late", "too early", "slow", "needs", "needed", "need to", "should",
    "could have", "would like", "want to see", "wanted", "disappointed", "disappointing", "problem", "problems",
    "trouble", "struggled", "struggling", "little bit", "bit of", "slightly", "punished", "deduction",
    "out of shape", "bad", "poor", "poorly", "ugly", "shaky", "tight to",
    "close to the board", "close to the", "closeness", "hit the board", "hesitated", "hesitation", "fell", "falling",
    "dropped",
    "flat", "heavy", "sloppy", "loose", "separated", "uneven", "unbalanced", "off balance", "rushed", "cut short",
    # generic fault adjectives and idioms of coaches in any sport
    "inconsistent", "inconsistently", "erratic", "all over the place", "awkward", "clumsy", "tense", "rigid",
    "floppy", "lazy", "weak", "weaker", "sluggish", "hurried", "choppy", "cramped", "crunched", "scrunched",
    "unstable", "unsteady", "uncontrolled", "out of control", "out of sync", "disjointed", "mistimed", "premature",
    "prematurely", "excessive", "excessively", "insufficient", "incomplete", "limited", "restricted", "shallow",
    "off-centre", "off centre", "off-center", "off center",
    "takes ages", "spends ages", "takes forever",
]  # fmt: skip
PRAISE_CUES = [
    "nice", "good", "great", "perfect", "perfectly", "beautiful", "beautifully", "lovely", "excellent", "superb",
    "brilliant", "clean", "cleanly", "tidy", "neat", "rip", "ripped", "rips", "vertical", "vertically",
    "straight up and down", "wonderful", "fantastic", "graceful", "impressive", "textbook", "smooth", "solid",
    "spot on", "spot-on", "well done", "amazing", "stunning", "gorgeous", "elegant", "precise", "best",
    "magnificent", "terrific", "decent", "strong", "tight", "fine", "well", "nicely", "sweet", "classy", "lovely",
    "no splash", "controlled", "exquisite", "outstanding", "good job", "loving", "exactly",
]  # fmt: skip
NEGATORS = {"not", "no", "never", "without", "barely", "hardly", "minimal", "n't", "nothing", "isn't", "wasn't",
            "didn't", "don't", "doesn't", "hasn't", "lack", "lacking"}  # fmt: skip
TOPIC_WORDS = {
    # body
    "head", "chin", "neck", "eyes", "shoulder", "shoulders", "arm", "arms", "elbow", "elbows", "wrist", "wrists",
    "hand", "hands", "palm", "palms", "fingers", "back", "spine", "chest", "torso", "trunk", "core", "body", "hip",
    "hips", "waist", "bottom", "leg", "legs", "knee", "knees", "shin", "shins", "thigh", "thighs", "ankle", "ankles",
    "foot", "feet", "toe", "toes", "heel", "heels", "forearm", "forearms",
    # technique
    "entry", "entries", "landing", "takeoff", "take-off", "take", "approach", "hurdle", "jump", "height", "position",
    "shape", "form", "line", "alignment", "balance", "posture", "rotation", "rotating", "rotated", "twist",
    "twisting", "twists", "somersault", "somersaults", "spin", "tuck", "pike", "straight", "armstand", "handstand",
    "timing", "speed", "tempo", "rhythm", "control", "grip", "stance", "swing", "release", "follow", "finish",
    "finished", "finishing", "extension", "drop", "board", "platform", "water", "angle", "vertical", "splash",
    "lean", "leaning", "straightening", "opening", "kick", "come-out", "comeout", "spotting", "spot",
}  # fmt: skip
# topic words too vague to name an attribute on their own ("water", "back", "take")
GENERIC_TOPICS = {"back", "take", "follow", "finish", "finished", "finishing", "water", "board", "platform", "spot",
                  "body", "straight", "vertical", "splash", "drop", "rotated", "rotating", "position",
                  "shape", "form", "angle", "opening", "line"}  # fmt: skip
# cues added for everyday coaching language (instructions, faults described in the second or third person)
FAULT_WORDS = [
    "sag", "sags", "sagging", "sagged", "cave", "caves", "caving", "caved", "collapse", "collapses", "collapsing",
    "collapsed", "drift", "drifts", "drifting", "drifted", "flare", "flares", "flaring", "flared", "rounding",
    "rounded", "hunch", "hunching", "hunched", "slouch", "slouching", "slumped", "buckle", "buckles", "buckling",
    "buckled", "wobbles", "wobbling", "lean", "leans", "leaning", "leaned", "swing", "swinging", "swings", "rush",
    "rushing", "rushes", "piking", "piked", "dipping", "dips", "craning", "tipping", "creeping", "skating",
    "slipping", "slipped", "stumbled", "stumbling", "sticking out", "chicken-winging", "chicken winging",
    "overstriding", "over-gripping", "overgripping", "lagging", "lags", "stiff", "stiff-legged", "flailing",
    "shaking", "jerky", "jerking", "cheating", "compensating", "hyperextending", "overextending", "inward",
    "split", "splitting", "crossed", "crossing", "drops", "dropping", "lifting off", "coming off", "came off",
    "comes up", "came up", "popping up", "instead of", "half reps", "half squat", "only half", "partial reps",
    "switching off", "switches off", "switched off", "was off", "is off", "were off", "are off", "looked off",
    "hesitating", "overshot", "overshooting", "tipping", "toppling",
    # fault verbs of lifting, physio, climbing, diving, racket, golf and ball sports
    "bouncing", "bounces", "bounced", "yanking", "yanks", "heaving", "kipping", "hitching", "hiking", "shrugging",
    "shrugs", "shrugged", "arching", "folding", "folds", "folded", "hunches", "slumping", "slumps",
    "jerks", "jerked", "stabbing", "stabs", "scrabbling", "scrambling", "thrashing", "slapping", "flapping",
    "swung", "peeling", "stalling", "stalls", "stalled", "froze", "freezing", "hesitates", "overreaching",
    "over-reaching", "overreach", "crashing", "crashed", "dragging", "drags", "dragged", "trailing", "dangling",
    "flopping", "wandering", "wanders", "scooping", "flipping", "casting", "swaying", "sways", "sliding",
    "slicing", "shanking", "scuffing", "scuffed", "decelerating", "decelerates", "overswinging", "over-swinging",
    "short-arming", "falling away", "fading away", "falls away", "fades away", "fighting", "forcing", "muscling",
    "favouring", "favoring", "favours", "favors", "hyperextended", "overarching",
]  # fmt: skip
# a correction cue that is the goal, not the fault, next to these words ("back flat" is what a lifter wants)
CUE_GOALS = {"flat": {"back", "backs"}}
PRAISE_PHRASES = [
    "keep it up", "keep that up", "keep this up", "keep going", "keep doing", "keep up the", "well played",
    "much better", "way better", "that's it", "thats it", "there you go", "nailed it", "awesome", "bravo",
    "love that", "loved", "ripping", "ripper", "flat hand", "flat hands", "flat palm", "well cushioned",
    "balanced", "well balanced", "good job", "great job", "nice job", "love the", "love how", "love your",
    "looking better", "looks better", "looking good", "looks good", "much improved", "rock steady", "rock solid",
    "for once", "exactly it", "exactly right", "exactly that",
]  # fmt: skip
INSTRUCTION_VERBS = {
    "keep", "lower", "lift", "raise", "drive", "push", "pull", "squeeze", "brace", "tuck", "point", "extend",
    "straighten", "bend", "stop", "avoid", "get", "bring", "turn", "rotate", "open", "relax", "look", "land",
    "plant", "step", "go", "sit", "stand", "breathe", "exhale", "inhale", "slow", "stay", "hold", "engage",
    "finish", "follow", "reach", "stretch", "square", "lean", "grip", "move", "jump", "control", "shift", "use",
    "let", "make", "trust", "pump", "place", "widen", "narrow", "spread", "pin", "lock", "unlock", "soften",
    "absorb", "press", "roll", "drop", "set", "tighten", "hinge", "stick", "watch", "focus", "try", "remember",
    "aim", "think", "start", "wait", "release", "toss", "strike", "kick", "shoot", "catch", "check", "sink", "flex",
    "activate", "transfer", "load", "explode", "accelerate", "pause", "sprint", "clip", "take", "shake", "match",
    "hug", "tilt", "sweep", "snap", "flick", "whip", "punch", "receive", "scan", "cushion", "stack", "align",
    "settle", "squat", "retract", "pack", "climb", "smear", "commit", "attack", "decelerate", "resist", "maintain",
    "initiate", "swap", "put", "feel", "imagine", "lengthen", "shorten", "quicken", "delay",
    "don't", "dont", "never", "chin", "eyes", "chest", "head", "hips", "elbows", "knees", "shoulders",
    "arms", "feet", "toes", "heels",
}  # fmt: skip
# a clause that starts with these is a negative instruction: what follows is the fault, not negated
NEGATIVE_STARTS = [["don't"], ["dont"], ["do", "not"], ["never"], ["stop"], ["avoid"], ["no", "more"]]
FILLERS = {
    "just", "now", "please", "also", "then", "and", "so", "try", "to", "remember", "make", "sure", "you", "need",
    "have", "gotta", "got", "really", "again", "next", "time", "always", "ok", "okay", "coach",
}  # fmt: skip
BODY_PARTS = {
    "head", "chin", "neck", "eyes", "shoulder", "shoulders", "arm", "arms", "elbow", "elbows", "wrist", "wrists",
    "hand", "hands", "palm", "palms", "fingers", "back", "spine", "chest", "torso", "trunk", "core", "hip", "hips",
    "waist", "leg", "legs", "knee", "knees", "ankle", "ankles", "foot", "feet", "toe", "toes", "heel", "heels", "shin",
    "shins", "thigh", "thighs", "ribs", "abs", "belly", "stomach", "glutes", "pelvis", "forearm", "forearms",
    "biceps", "triceps", "lats", "quads", "hamstrings", "calf", "calves", "bum", "butt", "backside", "midsection",
    "scapula", "shoulder-blades", "jaw", "face", "gaze", "fist", "fists", "thumb", "thumbs", "instep", "laces",
    "sole", "soles", "hip-flexors", "groin", "lower-back", "armpit", "armpits", "bicep", "tricep", "lat", "glute",
}  # fmt: skip
DIRECTIONS = {
    "up", "down", "in", "out", "back", "forward", "forwards", "together", "apart", "high", "low", "level", "neutral",
    "tucked", "locked", "overhead", "square", "wide", "narrow", "inside", "outside", "through",
}  # fmt: skip
PRAISE_PROTOTYPES = [
    "a beautiful clean entry with no splash",
    "perfectly vertical, he ripped it",
    "great position, really tight and well controlled",
    "excellent take off and lovely height",
    "great job, your form looks really good",
    "well done, that was a solid rep",
]
CORRECTION_PROTOTYPES = [
    "his legs came apart on the entry",
    "she went over and made a big splash",
    "bent at the hips, not quite vertical",
    "a little bit short on the rotation and too close to the board",
    "your back is rounding as you lift",
    "you are letting your knees cave in",
    "keep your chest up and your hips down",
]
INSTRUCTION_DROP = 0.1  # a clause with an explicit correction cue maps to a seed attribute at seed_threshold - this
SECOND_GAP = 0.0  # a second seed attribute is kept when within this of the best (and above the threshold)
HINT_BONUS = 0.05  # added to an attribute whose one-word synonym (or name) the clause contains
# one-word hints beyond the seed's own synonyms (used only when the attribute is in the seed)
EXTRA_HINTS = {
    "late": "timing", "early": "timing", "earlier": "timing", "later": "timing", "wobbling": "balance",
    "wobbled": "balance", "wobbly": "balance", "breath": "breathing", "breathe": "breathing", "deep": "range of motion",
    "deeper": "range of motion", "side": "symmetry", "sides": "symmetry", "glute": "hip alignment",
    "abs": "core stability", "belly": "core stability", "stomach": "core stability", "midsection": "core stability",
    "ribs": "core stability", "biceps": "arm position", "bicep": "arm position", "triceps": "arm position",
    "tricep": "arm position", "calf": "leg position", "calves": "leg position", "bum": "hip alignment",
    "butt": "hip alignment", "backside": "hip alignment", "jaw": "head position", "face": "head position",
    "fist": "hand positioning", "thumb": "hand positioning", "instep": "footwork", "laces": "footwork",
    "sole": "footwork", "scapula": "posture", "shoulder-blades": "posture", "lower-back": "posture",
}  # fmt: skip
# phrases of coaching language that name the attribute a corrective clause is about, whatever body part it
# mentions: the fault or the skill itself ("too late" is timing, "tipping forward" balance, "all the way down"
# range of motion). In a corrective clause they replace the embedding's guess, which then only adds an attribute
# named by a body word of the clause ("his head comes up too early": timing and head position).
ATTRIBUTE_CUES = {
    "timing": ["too late", "too early", "too soon", "late", "early", "earlier", "mistimed", "hesitating", "hesitate",
               "hesitated", "premature", "prematurely", "wait for", "wait until"],
    "balance": ["off balance", "balance", "wobble", "wobbles", "wobbling", "wobbled", "wobbly", "tipping", "toppling",
                "topple", "stumble", "stumbling", "stumbled", "your weight", "his weight", "her weight",
                "their weight", "weight shift", "weight transfer", "falling over", "fall over", "centre of gravity",
                "center of gravity", "centre of mass", "center of mass", "over your feet", "over his feet",
                "over her feet", "onto your toes", "onto his toes", "onto her toes", "falling forward",
                "falling backward", "falling backwards", "fall forward", "pull you forward", "pulls you forward",
                "pulling you forward", "pull you back", "pulls you back"],
    "stability": ["shaking", "shaky", "shakes", "steady", "unsteady", "stability", "unstable", "stable", "barn door",
                  "barn-door", "barn-dooring", "barndoor", "swing out", "swings out", "swung out", "swinging out",
                  "points of contact", "swaying", "sway", "sways"],
    "control and tempo": ["momentum", "jerky", "jerking", "too fast", "too quick", "too quickly", "slow down",
                          "slow it down", "swing your body", "swinging your body", "tempo", "too slow", "bouncing",
                          "bounce", "bounces", "bounced", "rush", "rushing", "rushes", "hurry", "hurrying", "hurried",
                          "kipping", "kip", "yanking", "yank", "heaving", "take your time"],
    "range of motion": ["depth", "deep", "deeper", "all the way", "full range", "full extension", "half reps",
                        "half squat", "partial reps", "range of motion", "parallel", "shallow", "full stretch",
                        "reach the bar", "reaching the bar", "touch the bar", "touching the bar", "chest to bar",
                        "chest to the bar", "not far enough"],
    "breathing": ["deep breath", "breath", "breathe", "breathing", "exhale", "inhale"],
    "spacing and distance": ["too far", "too close", "closer", "far from", "away from the", "distance",
                             "close to the", "closer to the", "further from", "out in front", "in front of your body",
                             "clearance", "overshot", "overshoot", "overshooting", "undershot",
                             "away from your body"],
    "entry and landing technique": ["splash", "land", "lands", "landed", "landing", "entry"],
    "power generation": ["explode", "explosive", "explosively", "leg drive", "with your legs", "from your legs",
                         "through your legs", "more height", "enough height", "power", "height", "use your legs",
                         "using your legs", "push harder", "jump higher"],
    "follow through": ["follow through", "follow-through", "finish high", "finish over", "finish through",
                       "stopping your swing", "stop your swing", "finish your swing", "finish the swing",
                       "finish the shot", "hold the finish", "hold your finish", "stop at contact",
                       "stopping at contact", "decelerate", "decelerating", "decelerates", "cut off", "cutting off",
                       "stops short", "stopping short"],
    "compensation": ["using your back", "do the work", "doing the work", "cheating", "compensating", "muscling",
                     "shrugging", "shrug", "shrugs", "shrugged", "hitching", "hip hike", "hiking"],
    "hand positioning": ["grip", "gripping", "over-gripping", "overgripping", "regrip", "clubface", "club face",
                         "crimp", "crimping", "hand placement"],
    "footwork": ["step", "steps", "stride", "overstriding", "stance", "footwork", "foothold", "footholds", "stabbing",
                 "quiet feet", "smear", "smearing", "edging", "flat-footed", "flat footed", "shuffle", "shuffling",
                 "split step", "split-step", "crossover", "plant foot", "planted foot"],
    "rotation": ["rotation", "rotate", "over-rotated", "under-rotated", "over-rotating", "under-rotating", "spin",
                 "turning", "turn your shoulders", "turn your hips", "shoulder turn", "hip turn", "coil", "uncoil"],
    "head position": ["look up", "looking up", "looks up", "look down", "looking down", "looks down", "eyes up",
                      "eyes down", "eyes on", "head still", "lift your head", "lifting his head", "lifting her head",
                      "lifts his head", "lifts her head", "watch the ball", "watching the ball",
                      "check your shoulder", "scan", "scanning", "look for", "looking for"],
    "posture": ["stay tall", "stand tall", "stand up straight", "stay down", "standing up", "folding", "fold",
                "folds", "folded", "slumping", "slumped", "slouching", "hunching"],
    "coordination": ["out of sync", "in sync", "disjointed", "sequence", "sequencing", "kinetic chain",
                     "in time with", "before you move", "before moving", "before your legs"],
    "symmetry": ["lopsided", "one-sided", "asymmetric", "asymmetrical", "imbalance", "favouring", "favoring",
                 "favours", "favors", "weaker side", "stronger side", "weak side", "strong side"],
    "arm position": ["toss", "ball toss", "chicken wing", "chicken-wing", "chicken winging"],
    "takeoff technique": ["use the board", "using the board", "off the blocks", "push off the wall"],
    "body alignment": ["the tuck is", "the tuck was", "the pike is", "the pike was", "his tuck", "her tuck",
                       "your tuck", "his pike", "her pike", "your pike", "square up", "squared up", "not square",
                       "banana", "off line", "off-line"],
    "knee alignment": ["valgus", "knock-kneed", "knees shooting forward"],
}  # fmt: skip
# a phrase after these names the phase, not the attribute ("legs apart on the entry", "at the top of the jump")
PHASE_PREPOSITIONS = {"on", "through", "at", "in", "into", "during", "after", "before", "from", "until"}
DETERMINERS = {"the", "a", "an", "his", "her", "your", "their", "my", "each", "every", "that", "this"}
# after praise, these announce the fault ("not bad, but the tempo was all over the place")
CONTRAST_WORDS = {"but", "though", "although", "however", "whereas", "except"}
# the two sides compared ("her left side pushes harder than her right"): symmetry, whatever the body part
SIDE_WORDS = [["left", "right"], ["one", "side", "other"]]
COMPARATIVES = {
    "than", "behind", "ahead", "before", "lagging", "lags", "uneven", "unevenly", "more", "less", "harder",
    "weaker", "stronger", "faster", "slower", "lower", "higher", "wider", "further", "earlier", "later", "better",
    "worse",
}  # fmt: skip
# a negation reaches a cue across these words ("not a drop of splash", "not even a hint of a wobble")
NEGATION_SCOPE = {
    "a", "an", "the", "any", "single", "one", "even", "of", "drop", "hint", "trace", "bit", "speck", "ounce", "sign",
    "touch", "ripple", "much", "lot", "whisper", "shred", "real", "big", "huge", "great", "deal",
}  # fmt: skip
NEGATION_REACH = 6
# what an athlete should have more of: negated or scarce ("not much height", "no follow-through", "little knee
# bend", "without any power"), it is the fault, where a negated fault word ("no splash") is praise
DESIRED_QUALITIES = {
    "height", "power", "drive", "depth", "extension", "range", "rotation", "spin", "bend", "snap", "spring", "lift",
    "reach", "pace", "tension", "follow-through", "separation", "turn", "commitment", "aggression", "control",
    "balance", "stability", "rhythm", "flexibility", "mobility", "push", "acceleration", "explosiveness", "speed",
    "leg drive", "hip drive", "knee bend", "follow through", "engagement",
}  # fmt: skip
# fault words that also name a skill or an exercise: "the swing", "arm swing", "on the inward" (a dive), "split
# squats", "split step" name it, where "you swing your body", "knees drifting inward", "legs split" are faults
SKILL_NAMES = {"swing", "swings", "inward", "split"}
SKILL_NAME_BEFORE = {"arm", "golf", "back", "forward", "reverse", "full", "practice", "tennis", "same"}
SKILL_NAME_AFTER = {"squat", "squats", "step", "steps", "jump", "jumps", "lunge", "lunges", "stance", "path",
                    "plane", "speed", "tempo", "thought", "dive", "dives"}  # fmt: skip
# a description of a state that a coach praises ("your back stayed neutral", "elbows are tucked", "held your spine
# angle", "body's in one line"): praise in a praising comment, not a fault
STATE_VERBS = {"stayed", "stays", "held", "holds", "kept", "keeps", "remained", "remains"}
GOOD_STATES = [
    "tucked", "neutral", "square", "squared", "level", "together", "stacked", "aligned", "in line", "one line",
    "steady", "still", "tall", "on your toes", "on his toes", "on her toes", "balanced",
]  # fmt: skip
# words that make a described state a fault whatever the praise around it ("stayed too upright")
STATE_FAULTS = {"too", "more", "less", "instead", "than"}
# after praise, these keep it rather than correct it ("hold that", "keep that", "more of that")
HOLD_STARTS = [
    ["keep", "that"], ["keep", "this"], ["keep", "it"], ["keep", "those"], ["hold", "that"], ["hold", "this"],
    ["hold", "it"], ["more", "of", "that"], ["more", "of", "this"], ["same", "again"],
]  # fmt: skip
# a clause opened by these after praise corrects again ("now just stop the knees shooting forward")
SCOPE_BREAKERS = {"now", "next", "except", "only", "but", "though", "although", "however", "whereas"}
EMB_MARGIN = 0.08  # a clause with no cue at all corrects when its correction-prototype margin exceeds this


def side_comparison(tokens: list[str]) -> bool:
    """The clause compares the two sides of the body (``"the left arm finishes before the right"``), or one named
    side with the other (``"his left side is much weaker"``)."""
    sides = any(all(w in tokens for w in pair) for pair in SIDE_WORDS)
    one_side = any(t in ("left", "right") and u == "side" for t, u in itertools.pairwise(tokens))
    return (sides or one_side) and any(t in COMPARATIVES for t in tokens)


def _phase(tokens: list[str], i: int) -> bool:
    """``tokens[i]`` follows a preposition of time or place (``"on the entry"``): it names the phase."""
    j = i - 1
    while j >= 0 and tokens[j] in DETERMINERS:
        j -= 1
    return j >= 0 and tokens[j] in PHASE_PREPOSITIONS


def named_attributes(tokens: list[str]) -> list[tuple[int, str]]:
    """``(position, attribute)`` named by :data:`ATTRIBUTE_CUES` phrases in a clause, in order (longest first);
    a phrase after a preposition of phase (``"on the entry"``) names no attribute."""
    hits: list[tuple[int, str]] = []
    used: set[int] = set()
    phrases = sorted(((p, a) for a, ps in ATTRIBUTE_CUES.items() for p in ps), key=lambda pa: -len(pa[0].split()))
    for phrase, attr in phrases:
        n = len(phrase.split())
        for i in _find(tokens, phrase):
            if used.isdisjoint(range(i, i + n)):
                used.update(range(i, i + n))
                if not _phase(tokens, i):
                    hits.append((i, attr))
    first: dict[str, int] = {}
    for i, a in sorted(hits):
        first.setdefault(a, i)
    return [(i, a) for a, i in first.items()]


def _direction_back(tokens: list[str], k: int) -> bool:
    """``tokens[k]`` is ``"back"`` used as a direction right after a body part (``"head back"``, ``"shoulders
    back"``)."""
    return tokens[k] == "back" and k >= 1 and tokens[k - 1] in BODY_PARTS


def resolve_pronoun(tokens: list[str], before: list[str]) -> list[str]:
    """A clause about ``they`` / ``them`` that names no body part takes the last plural body part of the clause
    before (``"squeeze your legs together, they came loose"`` -> ``"legs came loose"``)."""
    if any(t in BODY_PARTS for t in tokens):
        return tokens
    plural = [t for t in before if t in BODY_PARTS and t.endswith("s") and t not in ("abs", "biceps", "triceps")]
    k = next((i for i, t in enumerate(tokens) if t in ("they", "them", "they're", "they've")), None)
    if k is None or not plural:
        return tokens
    return [*tokens[:k], plural[-1], *tokens[k + 1 :]]


def split_words(text: str) -> list[str]:
    """Lower-case words of a text, punctuation dropped."""
    return re.findall(r"[a-z0-9'-]+", text.lower().replace("\u2019", "'"))


def split_clauses(text: str) -> list[list[str]]:
    """Clauses of a comment as token lists (lower-case), short fragments glued to the clause before."""
    return [c for c, _ in split_clauses_marked(text)]


def split_clauses_marked(text: str) -> list[tuple[list[str], bool]]:
    """:func:`split_clauses` with, for each clause, whether it opens after a contrast (``"but"``, ``"though"``) or
    with a word that turns to a correction (``"now"``, ``"next time"``): praise before it does not reach it.

    A lone praise word that opens the comment (``"Lovely, you held it"``) is kept as a clause of its own.
    """
    clauses: list[tuple[list[str], bool]] = []
    for chunk in re.split(r"[.,;:!?()\"]+|\s-\s", text.lower().replace("\u2019", "'")):
        current: list[str] = []
        turn = False
        for tok in chunk.split():
            if tok in SPLIT_WORDS:
                if current:
                    clauses.append((current, turn or current[0] in SCOPE_BREAKERS))
                current = []
                turn = tok in CONTRAST_WORDS
            else:
                current.append(tok)
        if current:
            clauses.append((current, turn or current[0] in SCOPE_BREAKERS))
    merged: list[tuple[list[str], bool]] = []
    for c, turn in clauses:
        if merged and len(c) < 3:
            merged[-1] = (merged[-1][0] + c, merged[-1][1])
        else:
            merged.append((c, turn))
    return [(c, t) for c, t in merged if len(c) >= 2 or (len(c) == 1 and c[0] in PRAISE_WORDS)]


def _skill_name(tokens: list[str], i: int) -> bool:
    """``tokens[i]`` is a fault word used as the name of a skill (``"the swing"``, ``"on the inward"``, ``"split
    squats"``), not as a fault."""
    if tokens[i] not in SKILL_NAMES:
        return False
    if i + 1 < len(tokens) and tokens[i + 1] in SKILL_NAME_AFTER:
        return True
    return tokens[i] != "split" and i >= 1 and (tokens[i - 1] in DETERMINERS or tokens[i - 1] in SKILL_NAME_BEFORE)


def good_state(tokens: list[str]) -> bool:
    """A description of a state a coach wants (``"your back stayed neutral"``, ``"the elbows are tucked"``,
    ``"held your spine angle"``): a state verb that is not an imperative, or a good state, and no fault cue."""
    if any(t in STATE_FAULTS or _is_negator(t) for t in tokens):
        return False
    verb = any(t in STATE_VERBS for t in tokens[1:]) or (tokens[0] in STATE_VERBS and tokens[0] not in ("keep", "hold"))
    return verb or any(_find(tokens, g) for g in GOOD_STATES)


def hold_instruction(tokens: list[str]) -> bool:
    """``"keep that"``, ``"hold that goose neck"``, ``"more of that"``: after praise, it keeps what was praised."""
    i = _start(tokens)
    return any(tokens[i : i + len(h)] == h for h in HOLD_STARTS)


def segments(tokens: list[str], max_len: int = 12) -> list[list[str]]:
    """A short clause as is; a long one as windows (4 words before, 6 after) around its cues, overlaps merged.

    ``max_len`` is 12 for transcripts without punctuation (run-on speech) and ``WRITTEN_MAX_LEN`` for written text,
    whose clauses were already cut at punctuation.
    """
    if len(tokens) <= max_len:
        return [tokens]
    hits = sorted({i for cue in CORRECTION_CUES + PRAISE_CUES + FAULT_WORDS for i in _find(tokens, cue)})
    spans: list[list[int]] = []
    for i in hits:
        lo, hi = max(0, i - 4), min(len(tokens), i + 7)
        if spans and lo <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], hi)
        else:
            spans.append([lo, hi])
    return [tokens[lo:hi] for lo, hi in spans]


WRITTEN_MAX_LEN = 24


def _find(tokens: list[str], cue: str) -> list[int]:
    parts = cue.split()
    n = len(parts)
    return [i for i in range(len(tokens) - n + 1) if tokens[i : i + n] == parts]


def _is_negator(token: str) -> bool:
    return token in NEGATORS or token.endswith("n't")


def _negated(tokens: list[str], i: int) -> bool:
    """A negator within three words before ``tokens[i]``, or further back across a quantity phrase (``"not a drop
    of splash"``, ``"no sign of any wobble"``), or ``"little"`` without ``"a"`` (``"very little splash"``)."""
    before = tokens[max(0, i - 3) : i]
    if any(_is_negator(t) for t in before):
        return True
    j = i - 1
    while j >= 0 and i - j <= NEGATION_REACH and tokens[j] in NEGATION_SCOPE:
        j -= 1
    if j >= 0 and j < i - 1 and _is_negator(tokens[j]):
        return True
    return i >= 1 and tokens[i - 1] == "little" and (i < 2 or tokens[i - 2] != "a")  # "very little splash"


def _start(tokens: list[str]) -> int:
    """Index of the first token after leading fillers (``"just"``, ``"make sure"``, ``"try to"``)."""
    i = 0
    while i < len(tokens) - 1 and tokens[i] in FILLERS:
        i += 1
    return i


def negative_instruction(tokens: list[str]) -> bool:
    """``"don't let your hips drop"``, ``"stop leaning back"``: the clause names the fault to avoid."""
    i = _start(tokens)
    return any(tokens[i : i + len(s)] == s for s in NEGATIVE_STARTS)


PRAISE_WORDS = {c for c in PRAISE_CUES if " " not in c}
# a fault word followed by one of these describes a good outcome ("the shot came off clean")
PRAISE_AFTER = [[w] for w in ("clean", "cleanly", "nicely", "smoothly", "perfectly", "beautifully")]


def praise_phrase(tokens: list[str]) -> list[int]:
    """Positions of praise phrases (``"keep it up"``, ``"much better"``, ``"flat hand"`` in diving)."""
    return [i for p in PRAISE_PHRASES for i in _find(tokens, p) if not _negated(tokens, i)]


def instruction(tokens: list[str]) -> bool:
    """An imperative (``"keep your back straight"``, ``"chest up"``), not a praise phrase (``"keep it up"``)."""
    i = _start(tokens)
    if 0 in praise_phrase(tokens[i : i + 4]):
        return False
    first = tokens[i]
    if first == "take" and tokens[i + 1 : i + 2] == ["off"]:  # "take off was lovely": the skill, not "take a breath"
        return False
    if first in BODY_PARTS:  # "chest up", "chin tucked", "arms overhead": body part + direction
        return any(t in DIRECTIONS for t in tokens[i + 1 : i + 3])
    return first in INSTRUCTION_VERBS or negative_instruction(tokens)


def body_direction(tokens: list[str]) -> bool:
    """A body part followed by a direction within two words (``"hips up"``, ``"knees caving in"``)."""
    return any(t in BODY_PARTS and any(u in DIRECTIONS for u in tokens[k + 1 : k + 3]) for k, t in enumerate(tokens))


def lexicon_scores(tokens: list[str]) -> tuple[float, float]:
    """``(correction, praise)`` cue counts of a clause; a negated cue counts for the other side.

    In a negative instruction (``"don't let your hips sag"``) correction cues are not negated: they name the fault.
    """
    corr = praise = 0.0
    used: set[int] = set()
    neg_instr = negative_instruction(tokens)
    for i in praise_phrase(tokens):
        used.add(i)
        praise += 1
    for cue in sorted(PRAISE_CUES, key=lambda c: -len(c.split())):
        for i in _find(tokens, cue):
            if i in used:
                continue
            used.update(range(i, i + len(cue.split())))
            if _negated(tokens, i) and cue not in ("no splash",):
                corr += 1
            else:
                praise += 1
    for cue in sorted(CORRECTION_CUES + FAULT_WORDS, key=lambda c: -len(c.split())):
        for i in _find(tokens, cue):
            if i in used or CUE_GOALS.get(cue, set()) & set(tokens[max(0, i - 3) : i + 2]):
                continue
            n = len(cue.split())
            if _skill_name(tokens, i) or (cue in FAULT_WORDS and tokens[i + n : i + n + 1] in PRAISE_AFTER):
                used.update(range(i, i + n))  # "the swing", "split squats", "came off clean": not a fault
                continue
            used.update(range(i, i + len(cue.split())))
            if _negated(tokens, i) and cue not in ("lack", "lacking") and not neg_instr:
                praise += 1
            else:
                corr += 1
    for quality in DESIRED_QUALITIES:
        for i in _find(tokens, quality):
            if i not in used and _negated(tokens, i) and not neg_instr:  # "not much height", "no follow-through"
                used.update(range(i, i + len(quality.split())))
                corr += 1
    return corr, praise


def praise_spans(tokens: list[str]) -> list[tuple[int, int]]:
    """Each praise cue and the up to two words it is about (``"beautiful entry"``), as ``(start, end)`` spans."""
    hits = sorted(i for cue in PRAISE_CUES + PRAISE_PHRASES for i in _find(tokens, cue) if not _negated(tokens, i))
    spans: list[tuple[int, int]] = []
    for lo in hits:
        if spans and lo < spans[-1][1]:
            continue
        hi = lo + 1
        while hi < len(tokens) and hi - lo < 3 and (tokens[hi] in TOPIC_WORDS or tokens[hi] in PRAISE_CUES):
            hi += 1
        if hi == lo + 1 and lo >= 1 and tokens[lo - 1] in ("was", "is", "were", "are", "looked", "looks"):
            lo = max(0, lo - 3, spans[-1][1] if spans else 0)  # "the entry was lovely"
        spans.append((lo, hi))
    return spans


def key_phrase(tokens: list[str]) -> str:
    """Short candidate name of a clause: its first run of naming topic words (``"pike position"``, ``"ankles"``)."""
    runs: list[list[str]] = [[]]
    for t in tokens:
        if t in TOPIC_WORDS and t not in GENERIC_TOPICS:
            runs[-1].append(t)
        elif runs[-1]:
            runs.append([])
    best = next((r for r in runs if r), [])
    return " ".join(best[:3])


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


@dataclass
class SeedIndex:
    """Embeddings of every seed attribute's name, ``name: definition`` and synonyms (rows), with their owner.

    ``hints`` maps a one-word synonym (or one-word name) that belongs to a single attribute to that attribute's
    index: ``"hips"`` -> hip alignment, ``"exhale"`` -> breathing.
    """

    names: list[str]
    owner: np.ndarray
    vectors: np.ndarray
    hints: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, seed: Vocabulary, embed: Callable[[list[str]], np.ndarray]) -> SeedIndex:
        texts, owner = [], []
        words: dict[str, set[int]] = {}
        for k, a in enumerate(seed.attributes):
            for t in [a.name, f"{a.name}: {a.definition}" if a.definition else a.name, *a.synonyms]:
                texts.append(t)
                owner.append(k)
            for t in [a.name, *a.synonyms]:
                if len(t.split()) == 1:
                    words.setdefault(_singular(t.lower()), set()).add(k)
        hints = {w: next(iter(ks)) for w, ks in words.items() if len(ks) == 1}
        names = [a.name for a in seed.attributes]
        hints.update({w: names.index(n) for w, n in EXTRA_HINTS.items() if n in names and w not in hints})
        return cls([a.name for a in seed.attributes], np.asarray(owner), embed(texts), hints)

    def similarities(self, vecs: np.ndarray) -> np.ndarray:
        """``(N, n_attributes)``: each row's best cosine similarity to each attribute's texts."""
        sims = vecs @ self.vectors.T
        per_attr = np.full((len(vecs), len(self.names)), -1.0, dtype=np.float32)
        for k in range(len(self.names)):
            per_attr[:, k] = sims[:, self.owner == k].max(axis=1)
        return per_attr

    def best(self, vecs: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Nearest seed attribute of each row and its cosine similarity."""
        if len(vecs) == 0:
            return [], np.zeros(0)
        per_attr = self.similarities(vecs)
        idx = per_attr.argmax(axis=1)
        return [self.names[i] for i in idx], per_attr[np.arange(len(vecs)), idx]

    def hinted(self, tokens: list[str]) -> set[int]:
        """Attributes named by a one-word synonym in ``tokens``; ``"back"`` just after a body part is a direction
        (``"threw his head back"``), not the back."""
        words = [_singular(t) for k, t in enumerate(tokens) if not _direction_back(tokens, k)]
        return {self.hints[w] for w in words if w in self.hints}


@dataclass
class OfflineExtraction(Extraction):
    """An :class:`Extraction` plus why nothing was found (``reason``) and what the comment praises (``praised``)."""

    reason: str | None = None
    praised: list[str] = field(default_factory=list)


@dataclass
class _Clause:
    item: int
    tokens: list[str]
    kind: str  # "correct" | "praise" | "maybe" (no cue: the embedding decides)
    cue: str  # what made it corrective or praise, for the reason line
    match: list[str]  # the tokens matched to the seed (praise span removed)


def _weak(kind: str, cue: str, tokens: list[str], near: bool) -> bool:
    """A clause that praise can take over: a good state described (``"elbows are tucked"``), ``"keep that"``, or,
    for praise in the comment (``near`` False), any clause with no cue; never an instruction, fault or negation."""
    if kind == "maybe":
        return good_state(tokens) or not near
    if kind == "correct" and cue == "body part + direction":
        return good_state(tokens)
    return kind == "correct" and cue == "instruction" and hold_instruction(tokens)


def read_clauses(text: str) -> list[tuple[list[str], bool, str, str, list[str]]]:
    """``(tokens, turn, kind, cue, match)`` per clause of a comment, as :func:`classify` reads it (before
    :func:`praise_scope`); long unpunctuated clauses are cut into segments, and pronouns resolved from the previous.

    >>> [(tokens, turn, kind) for tokens, turn, kind, _, _ in read_clauses("Great squat, but your knees cave in.")]
    [(['great', 'squat'], False, 'praise'), (['your', 'knees', 'cave', 'in'], True, 'correct')]
    """
    max_len = WRITTEN_MAX_LEN if re.search(r"[.,;:!?]", text) else 12
    before: list[str] = []
    read = []
    for clause, turn in split_clauses_marked(text):
        for seg in segments(clause, max_len):
            toks, before = resolve_pronoun(seg, before), seg
            read.append((toks, turn, *classify(toks)))
    return read


def praise_scope(read: list[tuple[list[str], bool, str, str, list[str]]]) -> list[tuple[list[str], str, str, list]]:
    """``(tokens, kind, cue, match)`` of a comment's clauses, with praise carried over the clauses that only
    describe or keep what it praised.

    ``read`` holds ``(tokens, turn, kind, cue, match)`` per clause, ``turn`` when it opens after a contrast or with
    ``"now"`` (:func:`split_clauses_marked`). A clause right after praise (or after a clause praise took over)
    that describes a good state (``"much better bracing, your back stayed neutral"``) or keeps it (``"great
    follow-through, hold that"``) praises, unless it opens with a turn. A comment that praises and has no turn, no
    contrast and no corrective clause but these (``"loving the split step, you're up on your toes"``) praises in
    all its clauses: a clause with no cue there elaborates the praise.
    """
    out = [[toks, kind, cue, match] for toks, _, kind, cue, match in read]
    scope = False
    for k, (toks, turn, kind, cue, _) in enumerate(read):
        if kind == "praise":
            scope = True
        elif scope and not turn and _weak(kind, cue, toks, near=True):
            out[k][1:3] = ["praise", "praise before it"]
        else:
            scope = False
    praised = any(c[1] == "praise" for c in out)
    turned = any(turn for _, turn, *_ in read)
    if praised and not turned and all(c[1] == "praise" or _weak(c[1], c[2], c[0], near=False) for c in out):
        for c in out:
            if c[1] != "praise":
                c[1:3] = ["praise", "praise in the comment"]
    return [tuple(c) for c in out]


def classify(tokens: list[str]) -> tuple[str, str, list[str]]:
    """``(kind, cue, tokens to match)`` of one clause: ``correct``, ``praise``, ``maybe`` or ``none``.

    Instructions (``"keep your back straight"``) and fault descriptions (``"his hips are sagging"``) correct; a
    clause with praise and no correction cue praises; with both, the praise cue and the words it is about are cut
    out (``"beautiful entry with the hands apart"`` -> ``"with the hands apart"``) and the rest corrects, unless
    the cues' balance says praise (``"barely a splash"``).
    """
    if side_comparison(tokens):  # "the left arm finishes well before the right": "well", "better" compare, not praise
        return "correct", "two sides compared", tokens
    corr, praise = lexicon_scores(tokens)
    instr = instruction(tokens)
    direction = body_direction(tokens)
    if instr:
        if praise and not corr and praise_phrase(tokens):
            return "praise", "praise phrase", tokens
        return "correct", "instruction", tokens
    if corr and not praise:
        return "correct", "correction cue", tokens
    if praise and not corr:
        return "praise", "praise cue", tokens
    if corr and praise:
        cut = {i for lo, hi in praise_spans(tokens) for i in range(lo, hi)}
        rest = [t for i, t in enumerate(tokens) if i not in cut]
        r_corr, r_praise = lexicon_scores(rest)
        if r_corr > r_praise and len(rest) >= 2:
            return "correct", "correction cue beside praise", rest
        return ("correct", "correction cue", tokens) if corr > praise else ("praise", "praise cue", tokens)
    if direction:
        return "correct", "body part + direction", tokens
    if any(t in NEGATORS or t.endswith("n't") for t in tokens) and any(t in BODY_PARTS for t in tokens):
        return "correct", "negated description of the body", tokens  # "his arms were not locked"
    return "maybe", "", tokens


class OfflineExtractor:
    """Rule + embedding extractor; ``extract(items)`` returns one :class:`OfflineExtraction` per item."""

    name = "offline"
    model_id = "offline-minilm"
    requests = 0

    def __init__(self, config: DiscoverConfig, seed: Vocabulary | None = None, embed: Callable | None = None) -> None:
        from crosstrainer.attributes.canonicalize import load_seed_vocabulary

        if embed is None:
            from crosstrainer.text import embed as embed_fn

            embed = embed_fn
        self.cfg = config
        self.embed = embed
        self.seed = seed or load_seed_vocabulary(config.seed_vocabulary)
        self._index: SeedIndex | None = None

    def _seed_index(self) -> SeedIndex:
        if self._index is None:
            self._index = SeedIndex.build(self.seed, self.embed)
        return self._index

    def _attributes(self, index: SeedIndex, sims: np.ndarray, tokens: list[str], threshold: float) -> list[int]:
        """Seed attributes of one corrective clause.

        Two sides compared give ``symmetry``; phrases of :data:`ATTRIBUTE_CUES` give the attributes they name, plus
        the embedding's best when a body word before them names it (the subject: ``"his head comes up too
        early"``); otherwise the embedding's best (with one-word synonym hints) and a near second.
        """
        if side_comparison(tokens) and "symmetry" in index.names:
            return [index.names.index("symmetry")]
        scores = sims.copy()
        hinted = index.hinted(tokens)
        for k in hinted:
            scores[k] += HINT_BONUS
        order = np.argsort(-scores)
        best = int(order[0])
        named = [(i, index.names.index(a)) for i, a in named_attributes(tokens) if a in index.names]
        if named:
            subject = index.hinted([t for t in tokens[: named[0][0]] if t in BODY_PARTS])
            picked = [k for _, k in named[:2]]
            extra = [best] if best in subject and best not in picked and scores[best] >= threshold else []
            return picked + extra
        if scores[best] < threshold:
            return []
        out = [best]
        second = int(order[1]) if len(order) > 1 else None
        if second is not None and scores[second] >= max(threshold, scores[best] - SECOND_GAP):
            out.append(second)
        return out

    def extract(self, items: list[Item], progress: Callable[[int], None] | None = None) -> list[OfflineExtraction]:
        index = self._seed_index()
        protos = self.embed(PRAISE_PROTOTYPES + CORRECTION_PROTOTYPES)
        n_praise = len(PRAISE_PROTOTYPES)
        strict = self.cfg.seed_threshold
        relaxed = max(0.0, strict - INSTRUCTION_DROP)
        results: list[OfflineExtraction] = []
        for start in range(0, len(items), 64):
            batch = items[start : start + 64]
            clauses: list[_Clause] = []
            n_clauses = [0] * len(batch)
            found = [OfflineExtraction() for _ in batch]
            has_praise = [False] * len(batch)
            for b, item in enumerate(batch):
                for toks, kind, cue, match in praise_scope(read_clauses(item.text)):
                    n_clauses[b] += 1
                    if kind == "praise":  # never a fault; what it praises is read from its words (no embedding)
                        has_praise[b] = True
                        about = [t for lo, hi in praise_spans(toks) for t in toks[max(0, lo - 2) : hi + 1]] or toks
                        for a in sorted(index.hinted(about)):
                            if index.names[a] not in found[b].praised:
                                found[b].praised.append(index.names[a])
                        continue
                    if kind == "maybe" and not (any(t in TOPIC_WORDS for t in toks) or index.hinted(toks)):
                        continue  # no cue and nothing about the body or the technique: chatter, not embedded
                    if kind in ("correct", "maybe"):
                        clauses.append(_Clause(b, toks, kind, cue, match))
            # a clause with no cue in a comment that praises, corrects nothing and has no contrast ("but") elaborates
            # the praise ("good job, your back stayed flat the whole set"): it is not embedded as a possible fault
            # (praise_scope already made praise of the good states and "keep that" of such comments)
            corrects = {c.item for c in clauses if c.kind == "correct"}
            praise_only = {
                b
                for b, item in enumerate(batch)
                if has_praise[b] and b not in corrects and not CONTRAST_WORDS & set(split_words(item.text))
            }
            clauses = [c for c in clauses if not (c.kind == "maybe" and c.item in praise_only)]
            texts = [" ".join(c.match) for c in clauses]
            vecs = self.embed(texts)
            if len(vecs):
                proto_sims = vecs @ protos.T
                emb_margin = proto_sims[:, n_praise:].max(axis=1) - proto_sims[:, :n_praise].max(axis=1)
                attr_sims = index.similarities(vecs)
            else:
                emb_margin = np.zeros(0)
                attr_sims = np.zeros((0, len(index.names)))
            near_miss: list[tuple[float, str, str] | None] = [None] * len(batch)
            for k, c in enumerate(clauses):
                ext = found[c.item]
                kind = c.kind
                if kind == "maybe":  # no cue, but about the body: corrects when closer to the correction examples
                    kind = "correct" if emb_margin[k] > EMB_MARGIN else "none"
                if kind != "correct":
                    continue
                threshold = strict if c.kind == "maybe" else relaxed
                picked = self._attributes(index, attr_sims[k], c.match, threshold)
                names = [index.names[a] for a in picked]
                if not names and c.kind != "maybe":
                    phrase = key_phrase(c.match)
                    names = [phrase] if phrase else []
                if not names:
                    top = int(np.argmax(attr_sims[k]))
                    miss = (float(attr_sims[k][top]), index.names[top], texts[k])
                    if near_miss[c.item] is None or miss[0] > near_miss[c.item][0]:
                        near_miss[c.item] = miss
                    continue
                for name in names:
                    if name not in ext.attributes:
                        ext.attributes.append(name)
                        ext.evidence[name] = texts[k]
            for b, ext in enumerate(found):
                ext.praise = has_praise[b] and not ext.attributes
                if ext.attributes:
                    continue
                if ext.praise:
                    ext.reason = "praise only" + (f" ({', '.join(ext.praised)})" if ext.praised else "")
                elif near_miss[b] is not None:
                    sim, name, text = near_miss[b]
                    ext.reason = (
                        f"corrective clause {text!r} matched no seed attribute "
                        f"(nearest {name!r} at {sim:.2f}, needs {relaxed:.2f})"
                    )
                elif n_clauses[b] == 0:
                    ext.reason = "no clause of two or more words"
                else:
                    ext.reason = (
                        "no corrective clause (no instruction, fault description or correction cue, "
                        "and not closer to the correction examples than to praise)"
                    )
            results.extend(found)
            if progress is not None:
                progress(len(batch))
        return results
