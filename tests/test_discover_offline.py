"""The offline extractor and canonicalisation on real commentary (MTL-AQA diving captions; skipped when absent),
on a few hand-written sentences (synthetic, stated per test), and on the hand-labelled coaching comments of
``tests/fixtures/coaching_heldout.jsonl`` (seen in tuning) and ``coaching_blind.jsonl`` (written before the second
round of tuning, its errors read in the third; see ``benchmarks/bench_discover.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crosstrainer.attributes.canonicalize import canonicalize, load_seed_vocabulary
from crosstrainer.attributes.vocabulary import Vocabulary, normalise_name
from crosstrainer.discover import DiscoverConfig, Item, discover, read_items
from crosstrainer.discover.offline import OfflineExtractor, lexicon_scores, split_clauses
from crosstrainer.discover.prompt import Extraction

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
MTL = DATA / "mtl_aqa"
SEEN = ROOT / "tests" / "fixtures" / "coaching_heldout.jsonl"
BLIND = ROOT / "tests" / "fixtures" / "coaching_blind.jsonl"


@pytest.fixture(scope="module")
def extractor():
    return OfflineExtractor(DiscoverConfig())


def test_seed_vocabulary_is_valid_and_sport_agnostic():
    seed = load_seed_vocabulary()
    names = seed.names
    assert len(names) >= 20 and {"balance", "posture", "timing", "hip alignment", "breathing"} <= set(names)
    assert all(a.definition and a.synonyms and a.feedback for a in seed.attributes)


def test_clauses_and_negation():
    """Synthetic sentences: splitting at conjunctions, and negation flipping a cue."""
    clauses = split_clauses("nice height off the board but the legs came apart and he went over")
    assert ["the", "legs", "came", "apart"] in clauses
    assert lexicon_scores(["not", "quite", "vertical"])[0] > 0  # corrects
    corr, praise = lexicon_scores(["barely", "a", "splash"])
    assert praise > corr
    corr, praise = lexicon_scores(["the", "execution", "not", "perfect"])
    assert corr > praise


def test_praise_is_not_turned_into_attributes(extractor):
    """Synthetic praise (phrases typical of diving commentary) gives praise=True and nothing to improve."""
    praise = ["hit the water nice and vertical", "great entry", "perfect rip, barely a splash", "beautiful tight tuck"]
    out = extractor.extract([Item(str(i), t, "diving") for i, t in enumerate(praise)])
    assert all(e.praise and not e.attributes for e in out), [(e.praise, e.attributes) for e in out]


def test_corrections_map_to_seed_attributes(extractor):
    """Synthetic corrections from three sports map onto the sport-agnostic seed names."""
    cases = {
        "he was a little bent at the hips as he entered the water": "hip alignment",
        "her knees were bent on the landing": "knee alignment",
        "the legs came apart at the top": "leg position",
        "he lost his balance and wobbled on the landing": "balance",
    }
    out = extractor.extract([Item(str(i), t) for i, t in enumerate(cases)])
    for (text, want), ext in zip(cases.items(), out, strict=True):
        assert want in ext.attributes, (text, ext.attributes)
        assert not ext.praise


def test_canonicalisation_merges_and_separates_jargon():
    """Synthetic raw names: synonyms merge into the seed name, near-duplicates cluster, one-sport jargon is flagged."""
    items = [Item(f"i{k}", "x", sport) for k, sport in enumerate(["diving", "diving", "diving", "soccer", "diving"])]
    ext = [
        Extraction(["knees bent"]),
        Extraction(["knee alignment", "pike position"]),
        Extraction(["pike positions"]),
        Extraction(["knees caving in"]),
        Extraction(["pike position"]),
    ]
    vocab, per_item = canonicalize(items, ext, DiscoverConfig(min_count=1))
    knee = vocab.get("knee alignment")
    assert knee is not None and knee.count == 3 and knee.sports == ["diving", "soccer"] and knee.transferable
    pike = vocab.get("pike position")
    assert pike is not None and pike.count == 3 and not pike.transferable and "pike positions" in pike.synonyms
    assert per_item[1] == ["knee alignment", "pike position"]


def test_one_spelling_of_attribute_names():
    """Synthetic names: case, spaces, hyphens and underscores fold to one spelling, stored and looked up."""
    import doctest

    import crosstrainer.attributes.vocabulary as module

    assert doctest.testmod(module).failed == 0
    assert normalise_name(" Follow-Through ") == normalise_name("follow_through") == "follow through"
    vocab = Vocabulary(attributes=[{"name": "Hip-Drive", "synonyms": ["Leg_Drive"]}])
    assert vocab.names == ["hip drive"] and vocab.get("HIP DRIVE") is vocab.get("leg-drive") is vocab.attributes[0]
    with pytest.raises(ValueError, match="duplicate"):
        Vocabulary(attributes=[{"name": "hip-drive"}, {"name": "hip drive"}])
    items = [Item("a", "x", "diving"), Item("b", "x", "soccer")]
    vocab, per_item = canonicalize(items, [Extraction(["follow-through"]), Extraction(["follow through"])],
                                   DiscoverConfig(min_count=1))  # fmt: skip
    assert per_item == [["follow through"], ["follow through"]] and vocab.get("follow-through").count == 2


def test_vocabulary_round_trips_through_load(tmp_path):
    """Synthetic comments through the whole pipeline; the file loads with Vocabulary.load (what training reads)."""
    items = [
        Item("a", "his knees were bent on the landing", "diving", 12.0),
        Item("b", "knees a little bent again", "diving", 3.0),
        Item("c", "great entry", "diving", 7.0),
    ]
    results, vocab = discover(items, DiscoverConfig(min_count=1, window_s=5))
    for suffix in (".json", ".yaml"):
        path = tmp_path / f"vocab{suffix}"
        vocab.save(path)
        loaded = Vocabulary.load(path)
        assert loaded.names == vocab.names and loaded.attributes[0].count == vocab.attributes[0].count
    assert results[0].window == [7.0, 12.0] and results[1].window == [0.0, 3.0]
    assert results[0].attributes == ["knee alignment"] and results[2].praise and results[2].attributes == []


@pytest.mark.skipif(not MTL.is_dir(), reason=f"MTL-AQA not found at {MTL}")
def test_offline_on_real_mtl_aqa_captions():
    items = read_items(f"mtl_aqa:{MTL}")
    assert len(items) == 1416 and all("<sos>" not in it.text and it.sport == "diving" for it in items)
    subset = items[:120]
    results, vocab = discover(subset, DiscoverConfig(), source="mtl_aqa")
    assert vocab.meta["n_items"] == 120 and 10 < vocab.meta["n_with_attributes"] < 110
    assert {"entry and landing technique", "leg position"} & set(vocab.names)
    by_id = {r.id: r for r in results}
    # "... he was still a little bent at the hips as he entered the water ..."
    assert "hip alignment" in by_id["mtl_aqa/01_004"].attributes
    # "... he's absolutely ripped that entry is barely a splash ..." : praise, nothing to improve
    assert by_id["mtl_aqa/01_006"].praise and by_id["mtl_aqa/01_006"].attributes == []
    for r in results:
        assert not (r.praise and r.attributes)
        assert set(r.attributes) <= set(vocab.names)


def test_everyday_coaching_language(extractor):
    """Synthetic: the comments of issue 14 (instructions, third-person faults, negations) map to seed attributes."""
    cases = {
        "Lower your hips a bit more.": {"hip alignment"},
        "Keep your back straight.": {"posture"},
        "Your knees are caving in on the way up.": {"knee alignment"},
        "His hips are sagging in the plank.": {"hip alignment", "core stability"},
        "Stop leaning back, keep your torso upright.": {"posture", "trunk control"},
        "Lift your hips: do not let your lower back sag.": {"hip alignment", "core stability", "posture"},
        "Keep your elbows pinned to your sides.": {"elbow position"},
        "Exhale as you push up.": {"breathing"},
    }
    out = extractor.extract([Item(str(i), t, "fitness") for i, t in enumerate(cases)])
    for (text, ok), ext in zip(cases.items(), out, strict=True):
        assert ext.attributes and set(ext.attributes) & ok, (text, ext.attributes)
        assert not ext.praise and ext.reason is None


def test_praise_is_scoped_per_clause_and_never_a_fault(extractor):
    """Synthetic, after the MTL-AQA misses of issue 14: praise about the entry neither becomes a fault nor hides
    a fault about the hands in the same comment."""
    texts = [
        "Lovely entry.",
        "Good board timing.",
        "Beautiful entry, just a flat hand ripping it.",
        "Beautiful entry but his hands were apart.",
        "Perfect form, keep it up.",
    ]
    out = extractor.extract([Item(str(i), t, "diving") for i, t in enumerate(texts)])
    for ext in out[:3] + out[4:]:
        assert ext.praise and ext.attributes == [] and ext.reason.startswith("praise only"), ext
    assert out[0].praised == ["entry and landing technique"]
    mixed = out[3]
    assert mixed.attributes == ["hand positioning"] and not mixed.praise
    assert "entry and landing technique" in mixed.praised


def test_reason_for_every_comment_without_attributes(tmp_path):
    """Synthetic: praise, chatter and a fault seen once with min_count 2; the error says what was tried and
    carries every comment with its reason."""
    from crosstrainer.discover.pipeline import NoAttributesError

    items = [Item("a", "Nice work, great set."), Item("b", "We start at nine tomorrow."),
             Item("c", "Your knees are caving in.")]  # fmt: skip
    with pytest.raises(NoAttributesError) as err:
        discover(items, DiscoverConfig(min_count=2))
    msg = str(err.value)
    assert "Tried: offline extractor" in msg and "1 praise only" in msg and "1 with no corrective clause" in msg
    assert "knee alignment (1)" in msg and "lower --min-count" in msg
    reasons = {r.id: r.reason for r in err.value.results}
    assert reasons["a"] == "praise only" and reasons["b"].startswith("no corrective clause")
    assert reasons["c"] == "below --min-count 2: knee alignment (1 comment)"


def test_coaching_language_knowledge(extractor):
    """Synthetic sentences (in none of the labelled sets) for the knowledge of coaching language: the two sides
    compared are symmetry even with "better" in the clause; a phrase that names the fault wins over the body part it
    mentions; "on the landing" names the phase, not the attribute; body words of the seed (wrist, neck, chest)
    name their attribute; "flat back" is a goal; a clause after "but" following praise is still read."""
    cases = {
        "Her right leg drives much harder than her left out of the blocks.": {"symmetry"},
        "He rows better with his left arm than with his right.": {"symmetry"},
        "You hesitate and jump for the ball too late.": {"timing"},
        "She keeps tipping forward onto her toes in the lunge.": {"balance"},
        "His knees drift apart on the landing.": {"knee alignment", "leg position"},
        "The wrist is bent back on the catch.": {"hand positioning"},
        "Stop craning your neck to watch the ball.": {"head position"},
    }
    out = extractor.extract([Item(str(i), t) for i, t in enumerate(cases)])
    for (text, ok), ext in zip(cases.items(), out, strict=True):
        assert ext.attributes and set(ext.attributes) <= ok, (text, ext.attributes)
    praise, mixed = extractor.extract(
        [
            Item("p", "Well done, your back was flat on every pull."),
            Item("m", "Good effort, but the rhythm fell apart."),
        ]
    )
    assert praise.praise and praise.attributes == []
    assert mixed.attributes and not mixed.praise
    _, per_item = canonicalize(
        [Item("a", "x"), Item("b", "x")], [Extraction(["wrist"]), Extraction(["chest"])], DiscoverConfig(min_count=1)
    )
    assert per_item == [["hand positioning"], ["posture"]]


@pytest.mark.parametrize(
    ("path", "floors"),
    [
        (SEEN, {"recall": 0.97, "precision": 0.86}),
        (BLIND, {"recall": 0.95, "precision": 0.9}),
    ],
    ids=["seen", "blind"],
)
def test_labelled_coaching_comments_floor(extractor, path, floors):
    """Real-style comments, hand-labelled. ``seen`` (the first held-out set) was used for tuning after its first
    run; ``blind`` was written and committed before the second round of tuning, and its errors were read in the
    third, so both are tuning material. Floors sit just under what benchmarks/bench_discover.py measured
    (docs/attributes.md): seen P 0.884 R 0.989, blind P 0.961 R 0.991 (first blind run: P 0.845 R 0.741),
    praise-as-fault 0/25 and 0/27."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_discover import load_labelled, predict, score

    rows = load_labelled(path)
    assert len(rows) >= 100 and {r["sport"] for r in rows} == {"fitness", "diving", "climbing", "ball sports"}
    s = score(rows, predict(extractor, rows, DiscoverConfig(min_count=1)))
    assert s["recall"] >= floors["recall"], s
    assert s["precision"] >= floors["precision"], s
    assert s["praise_as_fault"] <= 0.05, s
    assert s["neutral_with_attribute"] == 0, s


def test_negation_scope_scarce_qualities_and_fault_verbs_across_sports(extractor):
    """Synthetic sentences (in none of the labelled sets): a negation reaches a fault word across a quantity phrase
    ("not a hint of a wobble" praises); a quality the athlete should have more of, negated or scarce, is the fault
    ("hardly any knee bend", "no follow-through"); one side named against the other is symmetry; fault verbs of
    lifting, racket and ball sports correct and name their attribute; "take off was lovely" is the skill, not the
    instruction "take"."""
    praise = ["Not a hint of a wobble on the landing.", "No sign of any splash there, lovely.",
              "take off was lovely and the entry clean"]  # fmt: skip
    for ext in extractor.extract([Item(str(i), t) for i, t in enumerate(praise)]):
        assert ext.praise and ext.attributes == [], ext
    cases = {
        "No follow-through on her forehand.": {"follow through"},
        "There's not much power coming from his legs.": {"power generation"},
        "Hardly any knee bend before the jump.": {"knee alignment", "range of motion"},
        "Her right side is clearly stronger.": {"symmetry"},
        "She's favouring her left leg on the step-downs.": {"symmetry"},
        "She is shrugging on every lateral raise.": {"compensation"},
        "You're decelerating through contact.": {"follow through"},
        "He's kipping his way through the pull-ups.": {"control and tempo"},
        "Take your time on the lowering phase.": {"control and tempo"},
        "Your swing is inconsistent from one ball to the next.": {"control and tempo", "movement control"},
    }
    out = extractor.extract([Item(str(i), t) for i, t in enumerate(cases)])
    for (text, ok), ext in zip(cases.items(), out, strict=True):
        assert ext.attributes and set(ext.attributes) <= ok, (text, ext.attributes)
        assert not ext.praise


def test_pronouns_take_the_body_part_before_and_diving_shapes(extractor):
    """Synthetic sentences (in none of the labelled sets): "they" / "them" with no body part of their own refer to
    the plural body part of the clause before; "back" right after a body part is a direction; a tuck or pike shape
    that is too open is body alignment, not the elbows of "elbows tucked"."""
    from crosstrainer.discover.offline import resolve_pronoun

    assert resolve_pronoun(["they", "came", "loose"], ["squeeze", "your", "legs", "together"])[0] == "legs"
    assert resolve_pronoun(["they", "came", "loose"], ["nice", "work"]) == ["they", "came", "loose"]
    cases = {
        "Point your toes, they keep flopping about on the way down.": {"leg position"},
        "Keep your elbows in, they drift out as you press.": {"elbow position"},
        "Her pike is too loose on the way up.": {"body alignment"},
    }
    out = extractor.extract([Item(str(i), t) for i, t in enumerate(cases)])
    for (text, ok), ext in zip(cases.items(), out, strict=True):
        assert ext.attributes and set(ext.attributes) <= ok, (text, ext.attributes)
    index = extractor._seed_index()
    assert index.names.index("posture") not in index.hinted(["threw", "his", "head", "back"])
    assert index.names.index("posture") in index.hinted(["rounding", "his", "back"])


def test_praise_carries_over_good_states_and_keep_that(extractor):
    """Synthetic sentences written for this test (in none of the labelled sets): praise reaches the clauses that
    only describe a good state or keep it ("shoulders stayed level", "keep that"); a lone praise word opens a
    comment; fault words that name a skill ("the swing", "split jumps") or end well ("came off cleanly") are not
    faults; a turn ("but", "now", "next time") and real faults after praise are still read."""
    from crosstrainer.discover.offline import praise_scope, split_clauses_marked

    marked = split_clauses_marked("Brilliant, the shoulders stayed level but the knees came apart. Now lock out.")
    assert [t for _, t in marked] == [False, False, True, True] and marked[0][0] == ["brilliant"]
    assert praise_scope([(["keep", "that"], False, "correct", "instruction", ["keep", "that"])])[0][1] == "correct"
    praise = [
        "Solid set of rows, your shoulders stayed level the whole way. Keep that.",
        "Brilliant, the knees stayed stacked over your feet on every landing.",
        "Textbook lunge, torso tall and the front shin vertical. More of that.",
        "Spot on with the golf swing today, you kept your head still through the ball.",
        "Good work on the split jumps, hips square and arms relaxed.",
        "Loving the pull, it came off cleanly.",
    ]
    out = extractor.extract([Item(str(i), t) for i, t in enumerate(praise)])
    for text, ext in zip(praise, out, strict=True):
        assert ext.praise and ext.attributes == [], (text, ext.attributes)
    mixed = {
        "Looking better on the deadlift, back stayed flat. Now just stop the hips shooting up first.": "hip alignment",
        "Nice pace on the swing, but your elbow is flying out at the top.": "elbow position",
        "Great drive off the board, though the knees came apart on entry.": "knee alignment",
        "Much improved, you stayed tall at the top. Next time lock the elbows out.": "elbow position",
        "Nice try, the knees were caving in on the landing.": "knee alignment",
    }
    out = extractor.extract([Item(str(i), t) for i, t in enumerate(mixed)])
    for (text, want), ext in zip(mixed.items(), out, strict=True):
        assert ext.attributes == [want] and not ext.praise, (text, ext.attributes)
