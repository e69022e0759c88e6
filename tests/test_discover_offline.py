"""The offline extractor and canonicalisation on real commentary (MTL-AQA diving captions; skipped when absent)
and on a few hand-written sentences (synthetic, stated per test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crosstrainer.attributes.canonicalize import canonicalize, load_seed_vocabulary
from crosstrainer.attributes.vocabulary import Vocabulary, normalise_name
from crosstrainer.discover import DiscoverConfig, Item, discover, read_items
from crosstrainer.discover.offline import OfflineExtractor, lexicon_scores, split_clauses
from crosstrainer.discover.prompt import Extraction

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
MTL = DATA / "mtl_aqa"


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
