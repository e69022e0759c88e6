"""Ego-Exo4D files exactly as upstream ships them (fixtures: tests/fixtures/egoexo*, sources in their README.md):
views from takes.json, expert ids and failed transcriptions, the demonstration feedback, video resolution, and the
demonstrator-proficiency submission checked by a re-implementation of the benchmark's own checker."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from crosstrainer.data.egoexo import load_egoexo, video_path
from crosstrainer.data.sample import EGOEXO_LEVELS
from crosstrainer.errors import InvalidAnnotationError, UsageError

FIX = Path(__file__).resolve().parent / "fixtures"
EGOEXO = FIX / "egoexo"
SUBMISSION = FIX / "egoexo_submission"
T1 = "0a1b2c3d-0000-4000-8000-000000000001"
T2 = "0a1b2c3d-0000-4000-8000-000000000002"
T3 = "0a1b2c3d-0000-4000-8000-000000000003"
N1 = "unc_basketball_03-31-23_02_12"


def _by_id(**kw):
    return {s.id.rsplit("/", 1)[-1]: s for s in load_egoexo(EGOEXO, **kw)}


# --- views (takes.json frame_aligned_videos + proficiency video_paths) -------------------------------------------


def test_collage_and_best_exo_are_not_cameras_and_no_view_repeats():
    s = _by_id(split="train", feedback="commentary")[T1]
    all_paths = [s.video, *s.views.values()]
    assert not any("best_exo" in p or "ego_preview" in p for p in all_paths)
    assert len({Path(p).name for p in all_paths}) == len(all_paths) == 6  # ego + cam01..cam05, each once
    # the proficiency file names the benchmark's four exo views; the camera it leaves out comes after them
    cams = {k: Path(v).stem for k, v in s.views.items()}
    assert cams == {"exo1": "cam01", "exo2": "cam02", "exo3": "cam04", "exo4": "cam05", "exo5": "cam03"}
    assert s.meta["cameras"] == {"ego": "aria01", **cams}
    assert Path(s.video).name == "aria01_214-1.mp4"


def test_views_from_takes_json_alone(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "takes.json").write_text((EGOEXO / "takes.json").read_text())
    src = EGOEXO / "annotations" / "expert_commentary_train.json"
    (tmp_path / "annotations" / src.name).write_text(src.read_text())
    s = {x.id: x for x in load_egoexo(tmp_path)}[f"egoexo/{T1}"]
    assert {k: Path(v).stem for k, v in s.views.items()} == {f"exo{i}": f"cam0{i}" for i in range(1, 6)}
    assert s.meta["cameras"]["ego"] == "aria01" and Path(s.video).name == "aria01_214-1.mp4"


# --- expert commentary -----------------------------------------------------------------------------------------


def test_expert_id_is_the_part_after_the_slash_and_failed_transcriptions_are_dropped():
    samples = _by_id(split="train", feedback="commentary")
    t1, t2 = samples[T1], samples[T2]
    assert [(c.time_s, c.expert) for c in t1.commentary] == [(3.0, "e7f1a2"), (8.2, "b93c0d"), (12.4, "e7f1a2")]
    # the same expert keeps one id across takes
    assert t2.commentary[0].expert == "b93c0d"
    # error: true drops the comment even though its text is not empty
    assert "Thanks for watching." not in [c.text for c in t1.commentary]
    assert all(c.source == "expert_commentary" and not hasattr(c, "error") for c in t1.commentary)


# --- demonstration feedback (good executions, tips for improvement) ----------------------------------------------


def test_demonstration_feedback_becomes_windowed_comments():
    s = _by_id(split="train", feedback="demonstration", window_s=5.0)[T1]
    got = [(c.kind, c.text, c.time_s, c.window, c.expert) for c in s.commentary]
    assert got == [
        ("good execution", "Good footwork on the first layup.", 4.2, (0.0, 4.2), "e7f1a2"),
        ("tip for improvement", "Bend the knees more before the shot.", 12.9, (7.9, 12.9), "e7f1a2"),
        ("tip for improvement", "Keep the ball above the shoulders on the gather.", 12.9, (7.9, 12.9), "e7f1a2"),
    ]  # the entry whose list is "[]" adds nothing
    assert {c.source for c in s.commentary} == {"proficiency_demonstration"}
    assert s.proficiency == "Intermediate Expert"  # the level still comes from the demonstrator file


def test_feedback_choice_and_window_width():
    both = _by_id(split="train")[T1].commentary
    assert {c.source for c in both} == {"expert_commentary", "proficiency_demonstration"} and len(both) == 6
    assert [c.time_s for c in both] == sorted(c.time_s for c in both)
    narrow = _by_id(split="train", feedback="demonstration", window_s=2.0)[T2].commentary
    assert [(c.text, c.window) for c in narrow] == [("Use the laces, not the toes.", (4.1, 6.1))]
    with pytest.raises(InvalidAnnotationError, match="unknown feedback 'tips'"):
        load_egoexo(EGOEXO, feedback="tips")


def test_demonstration_list_as_json_list_and_bad_list(tmp_path):
    ann = tmp_path / "annotations"
    ann.mkdir()
    data = json.loads((EGOEXO / "annotations" / "proficiency_demonstration_train.json").read_text())
    data["annotations"][1]["tips_for_improvement"][0]["list"] = ["Use the laces.", "Keep the ankle locked."]
    (ann / "proficiency_demonstration_train.json").write_text(json.dumps(data))
    from crosstrainer.data.registry import sniff

    assert sniff(tmp_path) == "egoexo"  # a folder with only the demonstration file is Ego-Exo4D too
    (s,) = [x for x in load_egoexo(tmp_path) if x.id.endswith(T2)]
    assert [c.text for c in s.commentary] == ["Use the laces.", "Keep the ankle locked."]
    assert s.meta["take_name"] == "iiith_soccer_021_6"  # from video_paths (takes/<take_name>/...)
    data["annotations"][1]["tips_for_improvement"][0]["list"] = 3
    (ann / "proficiency_demonstration_train.json").write_text(json.dumps(data))
    with pytest.raises(InvalidAnnotationError, match=r"tips_for_improvement\[0\]: 'list' must be a list"):
        load_egoexo(tmp_path)


def test_demonstration_feedback_reaches_the_training_recipe():
    from crosstrainer.training.config import TrainConfig
    from crosstrainer.training.recipe import _window, build_items

    samples = load_egoexo(EGOEXO, split="train", feedback="demonstration")
    cfg = TrainConfig.load("tiny", ["commentary_window_s=9.0"])
    _, stage2 = build_items(samples, cfg)
    targets = {samples[i.s].commentary[i.c].text for i in stage2}
    assert "Keep the ball above the shoulders on the gather." in targets and len(stage2) == 4 * cfg.stage2_repeat
    first = next(i for i in stage2 if samples[i.s].id.endswith(T1))
    assert _window(samples[first.s], first.c, cfg) == (0.0, 4.2)  # the comment's own window, not 9 s


# --- video files: full resolution or downscaled/448 ----------------------------------------------------------------


def test_video_resolution(tmp_path):
    rel = f"takes/{N1}/frame_aligned_videos/cam01.mp4"
    full = tmp_path / rel
    small = tmp_path / f"takes/{N1}/frame_aligned_videos/downscaled/448/cam01.mp4"
    assert video_path(tmp_path, rel, "auto") == str(full)  # neither exists: as written
    assert video_path(tmp_path, rel, "448") == str(small)
    small.parent.mkdir(parents=True)
    small.write_bytes(b"")
    assert video_path(tmp_path, rel, "auto") == str(small)  # only the downscaled copy was downloaded
    assert video_path(tmp_path, rel, "full") == str(full)
    full.write_bytes(b"")
    assert video_path(tmp_path, rel, "auto") == str(full)
    assert video_path(tmp_path, str(small.relative_to(tmp_path)), "full") == str(full)


def test_resolution_option_through_the_dataset_spec():
    from crosstrainer.data.registry import load_samples

    (s,) = load_samples(f"egoexo:{EGOEXO}?split=test&resolution=448")
    assert s.video.endswith("sfu_climbing_015_2/frame_aligned_videos/downscaled/448/aria01_214-1.mp4")
    assert all("/downscaled/448/cam0" in v for v in s.views.values())
    with pytest.raises(InvalidAnnotationError, match="unknown resolution '720'"):
        load_egoexo(EGOEXO, resolution=720)


# --- submission: a re-implementation of the benchmark checker's assertions ---------------------------------------
# EGO4D/ego-exo4d-proficiency demonstrator_proficiency/eval_script.py: validate_model_predictions and the
# "combined" rule of evaluate_performance, rewritten here (not copied) so the test fails where the checker would.


def checker_validate(pred: dict, gt: dict) -> None:
    assert type(pred) is dict
    for key in ("videos", "ego_model_predictions", "exo_model_predictions"):
        assert key in pred
    assert pred["videos"] == gt["videos"]
    assert type(gt["gt_annotations"]) is list and type(gt["scenario_names"]) is list
    assert len(gt["gt_annotations"]) == len(gt["videos"]) == len(gt["scenario_names"])
    assert len(pred["ego_model_predictions"]) == len(gt["videos"])
    for row in pred["ego_model_predictions"]:
        assert np.array(row).shape == (4,)
    assert len(pred["exo_model_predictions"]) == len(gt["videos"])
    for views in pred["exo_model_predictions"]:
        assert len(views) == 4
        for row in views:
            assert np.array(row).shape == (4,)


def _softmax(x):
    e = np.exp(np.asarray(x, np.float64) - np.max(x))
    return e / e.sum(axis=-1, keepdims=True)


def checker_predictions(pred: dict, kind: str) -> list[int]:
    out = []
    for ego, exos in zip(pred["ego_model_predictions"], pred["exo_model_predictions"], strict=True):
        if kind == "ego":
            logits = ego
        elif kind == "exo":
            logits = np.mean([_softmax(p) for p in exos], axis=0)
        else:
            logits = np.mean([_softmax(ego)] + [_softmax(p) for p in exos], axis=0)
        out.append(int(np.argmax(_softmax(logits))))
    return out


def readme_validate(pred: dict, gt: dict) -> None:
    """The README's newest layout: {"videos": [...], "predictions": [label, ...]} with the four level names."""
    assert set(pred) == {"videos", "predictions"} and pred["videos"] == gt["videos"]
    assert len(pred["predictions"]) == len(gt["videos"])
    assert all(p in EGOEXO_LEVELS for p in pred["predictions"])


def test_checker_rejects_the_old_layout():
    from crosstrainer.evaluation.submission import egoexo_submission

    gt = json.loads((SUBMISSION / "ground_truth.json").read_text())
    old = {"videos": [T3, T1, T2], "ego_model_predictions": [[0.25] * 4] * 3, "exo_model_predictions": [[0.25] * 4] * 3}
    with pytest.raises(AssertionError):
        checker_validate(old, gt)
    old["videos"] = gt["videos"]
    with pytest.raises(AssertionError):  # names right, exo still one flat row per take
        checker_validate(old, gt)
    good = egoexo_submission(gt["videos"], [[0.0] * 4] * 3, [[[0.0] * 4] * 4] * 3)
    checker_validate(good, gt)
    with pytest.raises(UsageError, match="4 views x 4 values"):
        egoexo_submission(gt["videos"], [[0.0] * 4] * 3, [[0.0] * 4] * 3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny 4-level model on synthetic per-second features of the fixture's three takes."""
    from crosstrainer.data.exercise_labels import default_vocabulary
    from crosstrainer.training.config import TrainConfig
    from crosstrainer.training.recipe import recipe_main

    tmp = tmp_path_factory.mktemp("egoexo_model")
    feats, exo = tmp / "feats", tmp / "exo"
    feats.mkdir()
    exo.mkdir()
    rng = np.random.default_rng(0)
    samples = load_egoexo(EGOEXO)
    seconds = {s.meta["take_uid"]: int(s.meta.get("duration_sec", 6)) for s in samples}  # one row per second
    for s in samples:
        path = feats / f"{s.meta['take_uid']}.npy"
        np.save(path, rng.normal(size=(seconds[s.meta["take_uid"]], 8)).astype(np.float32))
        s.features = str(path)
    # per-camera exo features (<take_uid>_<cam_id>_<stream_id>) for 3 of T1's 4 benchmark views, a take-level
    # exo file for T1 and T2, nothing for T3
    for cam in ("cam01", "cam02", "cam04"):
        np.save(exo / f"{T1}_{cam}_0.npy", rng.normal(size=(seconds[T1], 8)).astype(np.float32) * 3)
    for uid in (T1, T2):
        np.save(exo / f"{uid}.npy", rng.normal(size=(seconds[uid], 8)).astype(np.float32))
    cfg = TrainConfig.load("tiny", ["max_steps=2", "two_stage=false", "augment=false", "encoder=egovlp-synthetic"])
    model = tmp / "model"
    recipe_main(
        cfg,
        samples,
        model,
        default_vocabulary(),
        work_dir=tmp / "work",
        levels=list(EGOEXO_LEVELS),
        model_card="test\n",
        log=lambda m: None,
    )
    return model, feats, exo


def test_eval_script_submission_passes_the_checker(trained, tmp_path):
    from crosstrainer.cli import main

    model, feats, exo = trained
    out = tmp_path / "submission.json"
    argv = ["evaluate", "--data", f"egoexo:{EGOEXO}", "--features", str(feats), "--model", str(model),
            "--protocol", "none", "--export-egoexo-submission", str(out), "--exo-features", str(exo),
            "--submission-videos", str(SUBMISSION / "demonstrator_proficiency_test_v2.json"),
            "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) == 0
    gt = json.loads((SUBMISSION / "ground_truth.json").read_text())
    pred = json.loads(out.read_text())
    checker_validate(pred, gt)
    assert pred["videos"] == ["sfu_climbing_015_2", N1, "iiith_soccer_021_6"]  # the list's order, names
    # rows are log-probabilities: the checker's softmax gives probabilities back, rows differ where inputs do
    t3, t1, t2 = (np.array(pred["exo_model_predictions"][i]) for i in range(3))
    assert np.allclose(t3, pred["ego_model_predictions"][0])  # no exo file: the ego row, 4 times
    assert not np.allclose(t1[0], t1[3]) and np.allclose(t2[0], t2[3])  # per camera vs one take file
    assert np.allclose(_softmax(t1).sum(-1), 1.0) and (np.array(pred["ego_model_predictions"]) <= 0).all()
    report = (tmp_path / "run" / "report.md").read_text()
    assert "3 of 12 view rows from per-camera files, 5 from take files, 4 copied from ego" in report

    # the readme layout from the same model and features: one level name per video, the checker's combined rule
    out2 = tmp_path / "readme.json"
    argv2 = [*argv[:9], "--export-egoexo-submission", str(out2), *argv[11:], "--submission-format", "readme"]
    argv2[argv2.index("--out") + 1] = str(tmp_path / "run2")
    assert main(argv2) == 0
    readme = json.loads(out2.read_text())
    readme_validate(readme, gt)
    combined = checker_predictions(pred, "combined")
    assert readme["predictions"] == [EGOEXO_LEVELS[i] for i in combined]


def test_submission_list_must_be_covered(trained, tmp_path, capsys):
    from crosstrainer.cli import main

    model, feats, _ = trained
    videos = tmp_path / "list.json"
    videos.write_text(json.dumps(["sfu_climbing_015_2", "not_a_take_1"]))
    argv = ["evaluate", "--data", f"egoexo:{EGOEXO}?split=test", "--features", str(feats), "--model", str(model),
            "--protocol", "none", "--export-egoexo-submission", str(tmp_path / "s.json"),
            "--submission-videos", str(videos), "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) == 2
    assert "1 of 2 videos of the benchmark list are not in --data (first: not_a_take_1)" in capsys.readouterr().err
    assert main([*argv, "--submission-format", "csv"]) == 2
    assert "unknown submission format 'csv'" in capsys.readouterr().err


def test_checker_scores_our_rows_like_our_probabilities():
    """The checker softmaxes each row: log-probabilities give back the probabilities, in Ego-Exo4D's order."""
    from crosstrainer.evaluation.submission import logits_row

    p = [0.1, 0.6, 0.2, 0.1]
    assert np.allclose(_softmax(logits_row(p)), p)
    assert np.isfinite(logits_row([0.0, 1.0, 0.0, 0.0])).all()
    by_scenario = defaultdict(list)
    pred = {"ego_model_predictions": [logits_row(p)], "exo_model_predictions": [[logits_row(p)] * 4]}
    for kind in ("ego", "exo", "combined"):
        by_scenario[kind] = checker_predictions(pred, kind)
    assert by_scenario == {"ego": [1], "exo": [1], "combined": [1]}
