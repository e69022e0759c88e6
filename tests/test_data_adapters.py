"""Dataset adapters on small fixtures written in each dataset's real schema (tests/fixtures/, synthetic content)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crosstrainer.data.egoexo import PROFICIENCY_LEVELS, load_egoexo, normalize_proficiency, sport_of
from crosstrainer.data.folder import load_folder
from crosstrainer.data.peers import load_analysis_jsonl, load_llava
from crosstrainer.data.qevd import feedback_spans, load_qevd
from crosstrainer.errors import InputNotFoundError, InvalidAnnotationError

FIX = Path(__file__).parent / "fixtures"
T1 = "0a1b2c3d-0000-4000-8000-000000000001"
T3 = "0a1b2c3d-0000-4000-8000-000000000003"


def test_egoexo_train_merges_experts_and_labels():
    samples = {s.id: s for s in load_egoexo(FIX / "egoexo", split="train", feedback="commentary")}
    assert len(samples) == 2
    s = samples[f"egoexo/{T1}"]
    assert (s.sport, s.proficiency, s.split, s.participant) == ("basketball", "Intermediate Expert", "train", "184")
    # three comments from two experts (commentary "<take_name>/<expert_uid>"), sorted by time; the failed
    # transcription (error: true) is dropped
    assert [c.time_s for c in s.commentary] == [3.0, 8.2, 12.4]
    assert {c.expert for c in s.commentary} == {"e7f1a2", "b93c0d"}
    assert s.commentary[2].text.startswith("He needs to bend his knees")
    # video_paths name full-resolution files; neither copy exists here, so the path is kept as written
    assert s.video.endswith(f"takes/{s.meta['take_name']}/frame_aligned_videos/aria01_214-1.mp4")
    assert Path(s.video).is_absolute()
    assert sorted(s.views) == ["exo1", "exo2", "exo3", "exo4", "exo5"]
    assert s.meta["take_name"] == "unc_basketball_03-31-23_02_12" and s.meta["duration_sec"] == 31.2
    # with the default feedback="all" the demonstration's good executions and tips join the commentary
    everything = {x.id: x for x in load_egoexo(FIX / "egoexo", split="train")}[f"egoexo/{T1}"]
    assert len(everything.commentary) == 6


def test_egoexo_test_split_is_redacted_but_labelled():
    (s,) = load_egoexo(FIX / "egoexo", split="test")
    assert s.id == f"egoexo/{T3}"
    assert s.commentary == [] and s.proficiency == "Late Expert" and s.sport == "rock climbing"
    assert s.participant == "sfu_15"


def test_egoexo_all_splits_and_view_choice():
    samples = load_egoexo(FIX / "egoexo", view="exo1")
    assert {s.split for s in samples} == {"train", "test"}
    basketball = next(s for s in samples if s.sport == "basketball")
    assert basketball.video.endswith("cam01.mp4") and "ego" in basketball.views


def test_egoexo_proficiency_and_sport_mapping():
    assert [normalize_proficiency(v) for v in ("novice", "EARLY_EXPERT", "intermediate-expert", 3)] == [
        *PROFICIENCY_LEVELS[:3],
        "Late Expert",
    ]
    assert normalize_proficiency(None) is None
    with pytest.raises(InvalidAnnotationError, match="unknown proficiency 'pro'"):
        normalize_proficiency("pro", "f.json")
    assert sport_of("Rock Climbing - Bouldering") == "rock climbing"
    assert sport_of("Playing Guitar - Scales", "Music") == "music"
    assert sport_of("Cooking Omelet") == "cooking"
    assert sport_of(None, "Juggling") == "juggling"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("{not json", "not valid JSON"),
        ('{"ds": "x"}', "'annotations' mapping"),
        ('{"ds": "x", "annotations": {}}', "no annotations|is empty"),
    ],
)
def test_egoexo_malformed_files_are_one_line_errors(tmp_path, content, message):
    (tmp_path / "expert_commentary_train.json").write_text(content)
    with pytest.raises(InvalidAnnotationError, match=message) as err:
        load_egoexo(tmp_path)
    assert "expert_commentary_train.json" in str(err.value) and "\n" not in str(err.value)


def test_egoexo_missing_files(tmp_path):
    with pytest.raises(InputNotFoundError, match="no expert_commentary"):
        load_egoexo(tmp_path)


def test_qevd_spans_times_and_exercises():
    # as Qualcomm's get_feedback_span: a run still going at the last frame is never closed, so it is no span
    assert feedback_spans(["", "a", "a", "", "b"]) == [("a", 1, 2)]
    assert feedback_spans(["", "a", "a", "", "b", ""]) == [("a", 1, 2), ("b", 4, 4)]
    (s,) = load_qevd(FIX / "qevd", split="train")
    assert s.id == "qevd/train/0000" and s.sport == "fitness" and s.proficiency is None
    assert s.video.endswith("long_range_videos/0000.mp4")
    assert s.meta["exercises"] == ["squats", "lunges"]
    # transitions are not commentary; times come from the ns frame timestamps at 6 fps
    assert [(c.text, c.time_s, c.exercise) for c in s.commentary] == [
        ("Lower your hips a bit more.", 1.5, "squats"),
        ("Nice depth, keep your chest up.", 3.0, "squats"),
        ("Keep the front knee over the ankle.", 5.0, "lunges"),
    ]
    assert s.commentary[0].end_s == pytest.approx(14 / 6, abs=1e-3)


def test_qevd_without_timestamps_uses_fps_and_checks_lengths(tmp_path):
    record = json.loads((FIX / "qevd/QEVD-FIT-COACH/feedbacks_long_range.json").read_text())[0]
    del record["video_timestamps"]
    (tmp_path / "feedbacks_long_range.json").write_text(json.dumps([record]))
    (s,) = load_qevd(tmp_path, fps=30.0)
    assert s.commentary[0].time_s == pytest.approx(9 / 30, abs=1e-3)
    record["is_transition"] = record["is_transition"][:-1]
    (tmp_path / "feedbacks_long_range.json").write_text(json.dumps([record]))
    with pytest.raises(InvalidAnnotationError, match="6 feedback spans but 6 feedback_timestamps and 5 is_transition"):
        load_qevd(tmp_path)


def test_qevd_feedback_to_the_last_frame_and_armcrosschest(tmp_path):
    record = json.loads((FIX / "qevd/QEVD-FIT-COACH/feedbacks_long_range.json").read_text())[0]
    del record["video_timestamps"]
    # the session-end transition runs to the last frame: upstream drops that span, so the file lists one
    # feedback_timestamps / is_transition entry fewer; the lengths agree and nothing is lost but that span
    record["feedbacks"] = record["feedbacks"][:-1]
    record["feedback_timestamps"] = record["feedback_timestamps"][:-1]
    record["is_transition"] = record["is_transition"][:-1]
    record["feedbacks"] = [f.replace("lunges", "armcrosschest left") for f in record["feedbacks"]]
    (tmp_path / "feedbacks_long_range.json").write_text(json.dumps([record]))
    (s,) = load_qevd(tmp_path, fps=6.0)
    assert [c.text for c in s.commentary] == [
        "Lower your hips a bit more.",
        "Nice depth, keep your chest up.",
        "Keep the front knee over the ankle.",
    ]
    assert s.meta["exercises"] == ["squats"]  # the last transition left ("deltoid stretch left") ends the session
    assert s.commentary[-1].exercise == "deltoid stretch left"


def test_llava_video_list(tmp_path):
    """Qwen-VL / LLaVA records whose ``video`` is a list of paths (one <video> placeholder each)."""
    a, b = load_llava(FIX / "egoexo_peers/qwen_video_list.json", video_root=tmp_path)
    assert a.id == "llava/serve_0007" and a.video == str(tmp_path / "videos/serve_0007_front.mp4")
    assert a.views == {"view1": str(tmp_path / "videos/serve_0007_side.mp4")}
    assert b.video == str(tmp_path / "videos/serve_0008.mp4") and b.views == {}
    assert [c.text for c in a.commentary] == ["Toss the ball higher and finish the swing across the body."]


def test_skillformer_jsonl_ids_are_take_names(tmp_path):
    """SkillFormer's JSONL has no id and every ego file is aria01_214-1.mp4: the take name comes from the path."""
    a, b, c = load_analysis_jsonl(FIX / "egoexo_peers/skillformer_val.jsonl", video_root=tmp_path)
    assert [s.id for s in (a, b, c)] == [
        "jsonl/uniandes_dance_017_2",
        "jsonl/upenn_0707_Guitar_2_5",
        "jsonl/uniandes_bouldering_034_29",
    ]
    assert a.video == str(tmp_path / "takes/uniandes_dance_017_2/frame_aligned_videos/aria01_214-1.mp4")
    assert sorted(a.views) == ["view1", "view2", "view3", "view4"] and b.views["view1"].endswith("gp01.mp4")
    assert (a.proficiency, b.proficiency, c.proficiency) == ("Novice", "Late Expert", "Intermediate Expert")
    assert c.commentary == []  # "analysis": "" (as prepare_annotation.py writes it) is no comment


def test_llava_conversations():
    a, b = load_llava(FIX / "peers/llava_train.json")
    assert a.id == "llava/take_0001" and a.proficiency == "Late Expert"
    assert [c.text for c in a.commentary] == ["Keep the elbow under the ball and follow through."]
    assert a.video == str(FIX / "peers/videos/take_0001.mp4")
    assert b.proficiency == "Early Expert" and b.commentary[0].time_s is None


def test_analysis_jsonl(tmp_path):
    a, b, c = load_analysis_jsonl(FIX / "peers/analysis.jsonl", video_root=tmp_path)
    assert a.id == "jsonl/0001" and a.video == str(tmp_path / "clips/0001.mp4") and a.sport == "basketball"
    assert a.proficiency == "Early Expert" and a.commentary[0].text.startswith("Good balance")
    assert b.video.endswith("0002_ego.mp4") and b.views == {"view1": str(tmp_path / "clips/0002_exo.mp4")}
    assert c.id == "jsonl/c3" and c.video == "/abs/clips/0003.mp4" and c.proficiency == "good form"


def test_analysis_jsonl_bad_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"video_path": "a.mp4", "analysis": "ok"}\n{"analysis": "no video"}\n')
    with pytest.raises(InvalidAnnotationError, match=r"x.jsonl line 2: needs 'video_path'"):
        load_analysis_jsonl(path)


def _folder(tmp_path: Path, labels: str = "labels.csv") -> Path:
    root = tmp_path / "my_sport"
    (root / "videos").mkdir(parents=True)
    for name in ("videos/serve_001.mp4", "serve_002.mp4", "videos/serve_003.mov"):
        (root / name).write_bytes(b"")  # the adapter never opens videos
    shutil.copy(FIX / "folder" / labels, root / labels)
    return root


def test_folder_csv(tmp_path):
    root = _folder(tmp_path)
    s1, s2, s3 = load_folder(root)
    assert s1.id == "folder/serve_002" and s1.proficiency == "Late Expert" and s1.split == "val" and not s1.commentary
    assert s2.id == "folder/videos/serve_001" and s2.sport == "tennis" and s2.participant == "p01"
    assert [(c.time_s, c.text) for c in s2.commentary] == [
        (2.5, "Toss the ball higher."),
        (4.0, "Finish the swing across the body."),
    ]
    assert s3.id == "folder/videos/serve_003" and s3.proficiency is None  # unlabelled video kept
    assert [s.id for s in load_folder(root, include_unlabelled=False)] == [s1.id, s2.id]


def test_folder_jsonl_and_missing_video(tmp_path):
    root = _folder(tmp_path, "labels.jsonl")
    s = next(s for s in load_folder(root) if s.id.endswith("serve_001"))
    assert [c.text for c in s.commentary] == ["Toss the ball higher.", "Finish the swing across the body."]
    (root / "labels.jsonl").write_text('{"video": "nope.mp4"}\n')
    with pytest.raises(InvalidAnnotationError, match=r"labels.jsonl line 1: video 'nope.mp4' is not in"):
        load_folder(root)
