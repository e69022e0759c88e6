"""Evaluation protocols (crosstrainer.evaluation.protocols) on SYNTHETIC samples: ids, sports and labels only."""

from __future__ import annotations

import pytest

from crosstrainer.data.sample import Sample
from crosstrainer.errors import InputNotFoundError, UsageError
from crosstrainer.evaluation.protocols import ProtocolConfig, make_splits, report_group

TRAINABLE = {"bicep curl": 12, "plank": 15, "lunge": 20}


def _samples() -> list[Sample]:
    out = []
    for sport, n in TRAINABLE.items():
        for i in range(n):
            label = "C" if i % 3 == 0 else "L"
            out.append(
                Sample(
                    id=f"ec/{sport}/{i}",
                    source="exercise_correction",
                    sport=sport,
                    proficiency="good form" if label == "C" else "needs improvement",
                    meta={"label": label},
                )
            )
    for sport, n in (("plank", 6), ("push-up", 8)):
        for i in range(n):
            label = "C" if i % 2 else "W"
            out.append(
                Sample(
                    id=f"vn/{sport}/{i}",
                    source="gym_exercise_correction_vn",
                    sport=sport,
                    proficiency="good form" if label == "C" else "needs improvement",
                    meta={"label": label},
                )
            )
    return out


def _check_partition(samples, split, cfg):
    by_id = {s.id: s for s in samples}
    train, test = set(split.train_ids), set(split.test_ids)
    assert not train & test, "a clip is both trained on and tested"
    in_play = {s.id for s in samples if cfg.sports is None or s.sport in cfg.sports}
    assert train | test == in_play, "every clip in play is either trained on or tested"
    assert all(by_id[i].source not in cfg.eval_only_sources for i in train), "an evaluation-only clip was trained on"
    leaked = [i for i in train if by_id[i].sport in split.heldout and i not in split.shot_ids]
    assert not leaked, f"held-out sport in training: {leaked[:3]}"


def test_zero_shot_leave_one_out_is_disjoint_complete_and_never_leaks():
    samples = _samples()
    cfg = ProtocolConfig(protocol="zero-shot")
    notes: list[str] = []
    splits = make_splits(samples, cfg, log=notes.append)
    # four sports in the data; holding out push-up trains on all three trainable sports
    assert sorted(tuple(s.heldout) for s in splits) == [("bicep curl",), ("lunge",), ("plank",), ("push-up",)]
    for split in splits:
        _check_partition(samples, split, cfg)
        assert split.train_sports == sorted(set(TRAINABLE) - set(split.heldout))
        held_ids = {s.id for s in samples if s.sport in split.heldout}
        assert held_ids <= set(split.test_ids)
    assert not notes


def test_zero_shot_without_in_domain_tests_trains_on_every_other_clip():
    samples = _samples()
    cfg = ProtocolConfig(protocol="zero-shot", test_fraction=0.0, holdout=[["plank"]])
    (split,) = make_splits(samples, cfg)
    assert set(split.train_ids) == {s.id for s in samples if s.source == "exercise_correction" and s.sport != "plank"}


def test_leave_k_out_every_combination_and_skips_untrainable():
    samples = _samples()
    cfg = ProtocolConfig(protocol="zero-shot", k=[2, 3])
    notes: list[str] = []
    splits = make_splits(samples, cfg, log=notes.append)
    # C(4,2)=6 + C(4,3)=4 sets; the one holding out all three trainable sports cannot train
    assert len(splits) == 6 + 3
    assert any("bicep curl" in n and "lunge" in n and "plank" in n for n in notes)
    for split in splits:
        _check_partition(samples, split, cfg)


def test_named_holdout_and_sport_filter():
    samples = _samples()
    cfg = ProtocolConfig(protocol="zero-shot", sports=["plank", "lunge"], holdout=[["plank"]])
    (split,) = make_splits(samples, cfg)
    _check_partition(samples, split, cfg)
    ids = set(split.train_ids) | set(split.test_ids)
    assert all(i.split("/")[1] in ("plank", "lunge") for i in ids)
    assert split.folder_name == "zero-shot__holdout-plank__seed0"


def test_few_shot_adds_balanced_shots_and_skips_sports_without_trainable_clips():
    samples = _samples()
    cfg = ProtocolConfig(protocol="few-shot", shots=4)
    notes: list[str] = []
    splits = make_splits(samples, cfg, log=notes.append)
    assert sorted(s.heldout[0] for s in splits) == ["bicep curl", "lunge", "plank"]
    assert any("push-up" in n for n in notes)
    by_id = {s.id: s for s in samples}
    for split in splits:
        _check_partition(samples, split, cfg)
        assert len(split.shot_ids) == 4 and set(split.shot_ids) <= set(split.train_ids)
        assert {by_id[i].sport for i in split.shot_ids} == set(split.heldout)
        assert {by_id[i].meta["label"] for i in split.shot_ids} == {"C", "L"}  # balanced over labels
        assert not set(split.shot_ids) & set(split.test_ids)


def test_intra_split_is_stratified_and_seeded():
    samples = _samples()
    cfg = ProtocolConfig(protocol="intra", seeds=[0, 1])
    a, b = make_splits(samples, cfg)
    for split in (a, b):
        _check_partition(samples, split, cfg)
        assert split.heldout == [] and split.train_sports == sorted(TRAINABLE)
    assert set(a.test_ids) != set(b.test_ids)
    assert make_splits(samples, cfg)[0].test_ids == a.test_ids


def test_report_group_names_other_source_clips():
    s = Sample(id="x", source="gym_exercise_correction_vn", sport="plank")
    assert report_group(s, ["gym_exercise_correction_vn"], {"plank"}) == "plank (gym_exercise_correction_vn)"
    assert report_group(s, ["gym_exercise_correction_vn"], {"lunge"}) == "plank"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocol": "cross"}, "unknown protocol"),
        ({"k": [4]}, "1 <= k <= 3"),
        ({"sports": ["rowing"]}, "not in the data"),
        ({"holdout": [["rowing"]]}, "not in the data"),
        ({"test_fraction": 1.5}, "test_fraction"),
    ],
)
def test_bad_protocol_settings_raise_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=message):
        make_splits(_samples(), ProtocolConfig(**kwargs))


def test_protocol_yaml(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("protocol: few-shot\nshots: 2\nholdout: [plank, [lunge, push-up]]\nseeds: [3]\n")
    cfg = ProtocolConfig.load(path, seeds=None)
    assert (cfg.protocol, cfg.shots, cfg.holdout, cfg.seeds) == ("few-shot", 2, [["plank"], ["lunge", "push-up"]], [3])
    path.write_text("protocol: intra\nfolds: 5\n")
    with pytest.raises(UsageError, match="folds"):
        ProtocolConfig.load(path)
    with pytest.raises(InputNotFoundError):
        ProtocolConfig.load(tmp_path / "missing.yaml")


def _people_samples() -> list[Sample]:
    """SYNTHETIC: 6 people, each doing 3 movements 4 times (UI-PRMD-like), plus 5 clips without a participant id."""
    out = []
    for p in range(6):
        for sport in ("squat", "lunge", "raise"):
            for i in range(4):
                out.append(
                    Sample(
                        id=f"d/{sport}/s{p}/{i}",
                        source="d",
                        sport=sport,
                        participant=f"s{p}",
                        proficiency="good form" if i % 2 else "needs improvement",
                        meta={"label": str(i % 2)},
                    )
                )
    out += [
        Sample(id=f"e/squat/{i}", source="e", sport="squat", proficiency="good form" if i % 2 else "needs improvement")
        for i in range(5)
    ]
    return out


def test_subject_disjoint_splits_never_train_on_a_test_person_and_test_every_clip_once():
    from crosstrainer.evaluation.protocols import person
    from crosstrainer.evaluation.scoring import pool_subject_folds

    samples = _people_samples()
    by_id = {s.id: s for s in samples}
    cfg = ProtocolConfig(protocol="zero-shot", subject_folds=2)
    splits = make_splits(samples, cfg)
    assert len(splits) == 3 * 2  # 3 held-out movements x 2 folds
    for split in splits:
        train_people = {person(by_id[i]) for i in split.train_ids}
        test_people = {person(by_id[i]) for i in split.test_ids}
        assert not train_people & test_people, f"{split.id}: a test person is trained on"
        assert not [i for i in split.train_ids if by_id[i].sport in split.heldout]
        assert split.subject_fold in ("1of2", "2of2") and split.folder_name.endswith(f"__subjects{split.subject_fold}")
    # pooled over its folds, each held-out movement's clips are all tested, each exactly once
    records = [{"split": s.to_dict(), "systems": {"m": {i: {"level": "x"} for i in s.test_ids}}} for s in splits]
    pooled = pool_subject_folds(records)
    assert len(pooled) == 3
    for rec in pooled:
        held = rec["split"]["heldout"]
        unseen = [i for i in rec["split"]["test_ids"] if by_id[i].sport in held]
        assert sorted(unseen) == sorted(s.id for s in samples if s.sport in held)
        assert set(rec["systems"]["m"]) == set(rec["split"]["test_ids"])
        assert rec["split"]["subject_fold"] == "" and "subjects=" not in rec["split"]["id"]
    # the same folds for the same seed; other folds for another seed
    assert [s.test_ids for s in make_splits(samples, cfg)] == [s.test_ids for s in splits]
    other = make_splits(samples, ProtocolConfig(protocol="zero-shot", subject_folds=2, seeds=[1]))
    assert [s.test_ids for s in other] != [s.test_ids for s in splits]


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"subject_folds": 1}, ">= 2"), ({"protocol": "intra", "subject_folds": 2}, "not intra")]
)
def test_subject_folds_settings(kwargs, message):
    with pytest.raises(UsageError, match=message):
        ProtocolConfig(**kwargs)
