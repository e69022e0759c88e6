"""``crosstrainer discover`` end to end on small synthetic files, through the real CLI entry point."""

from __future__ import annotations

import json

import pytest

from crosstrainer.attributes.vocabulary import Vocabulary
from crosstrainer.cli import main
from crosstrainer.discover import DiscoverConfig, parse_reply, read_items, repair_json
from crosstrainer.discover.prompt import ReplyError
from crosstrainer.errors import InputNotFoundError, InvalidAnnotationError, UsageError


def test_cli_offline_text_file(tmp_path, capsys):
    src = tmp_path / "comments.txt"
    src.write_text(
        "# synthetic diving comments\nhis knees were bent on the entry\nknees a little bent again\n"
        "great entry, perfect rip\nthe legs came apart at the top\nlegs apart once more\n",
        encoding="utf-8",
    )
    out, items = tmp_path / "vocab.json", tmp_path / "items.jsonl"
    code = main(["discover", str(src), "--out", str(out), "--items", str(items), "--sport", "diving"])
    assert code == 0, capsys.readouterr().err
    vocab = Vocabulary.load(out)
    assert {"knee alignment", "leg position"} <= set(vocab.names)
    assert vocab.meta["extractor"] == "offline" and vocab.meta["n_items"] == 5
    rows = [json.loads(line) for line in items.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["comments:2", "comments:3", "comments:4", "comments:5", "comments:6"]
    assert rows[2]["praise"] is True and rows[2]["attributes"] == []
    assert rows[0]["attributes"] == ["knee alignment"] and rows[0]["sport"] == "diving" and rows[0]["window"] is None


def test_cli_everyday_coaching_comments(tmp_path, capsys):
    """Synthetic: the 8-line file of issue 14 (it used to end with exit 6 and no items file)."""
    src = tmp_path / "coach.txt"
    lines = ["Lower your hips a bit more.", "Keep your back straight.", "Your knees are caving in on the way up.",
             "His hips are sagging in the plank."]  # fmt: skip
    src.write_text("\n".join(lines * 2) + "\n", encoding="utf-8")
    out, items = tmp_path / "vocab.json", tmp_path / "items.jsonl"
    code = main(["discover", str(src), "--out", str(out), "--items", str(items), "--min-count", "1"])
    assert code == 0, capsys.readouterr().err
    assert {"hip alignment", "posture", "knee alignment"} <= set(Vocabulary.load(out).names)
    rows = [json.loads(line) for line in items.read_text().splitlines()]
    assert len(rows) == 8 and all(r["attributes"] and "reason" not in r for r in rows)


def test_cli_no_attribute_still_writes_items_with_reasons(tmp_path, capsys):
    """Synthetic praise and chatter only: exit 6, an error that says what was tried, and the items file."""
    src = tmp_path / "praise.txt"
    src.write_text("Nice work, great set.\nLovely entry.\nWe start at nine tomorrow.\n", encoding="utf-8")
    out, items = tmp_path / "vocab.json", tmp_path / "items.jsonl"
    assert main(["discover", str(src), "--out", str(out), "--items", str(items), "--min-count", "1"]) == 6
    err = capsys.readouterr().err
    assert "Tried: offline extractor" in err and "2 praise only" in err and str(items) in err
    assert not out.exists()
    rows = [json.loads(line) for line in items.read_text().splitlines()]
    assert [r["reason"].split(" (")[0] for r in rows] == ["praise only", "praise only", "no corrective clause"]
    assert rows[1]["praised"] == ["entry and landing technique"]


def test_cli_jsonl_with_times_and_config(tmp_path, capsys):
    src = tmp_path / "c.jsonl"
    lines = [
        {"id": "x1", "text": "she lost her balance on the landing", "sport": "gymnastics", "time_s": 12.5},
        {"id": "x2", "text": "wobbled and lost balance again", "sport": "skating", "time_s": 2.0},
    ]
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    cfg = tmp_path / "discover.yaml"
    cfg.write_text("window_s: 3\nmin_count: 1\n", encoding="utf-8")
    out, items = tmp_path / "v.yaml", tmp_path / "i.jsonl"
    assert main(["discover", str(src), "-o", str(out), "--items", str(items), "--config", str(cfg)]) == 0
    rows = [json.loads(line) for line in items.read_text().splitlines()]
    assert rows[0]["window"] == [9.5, 12.5] and rows[1]["window"] == [0.0, 2.0]
    bal = Vocabulary.load(out).get("balance")
    assert bal is not None and bal.sports == ["gymnastics", "skating"]


def test_cli_errors_are_one_line(tmp_path, capsys):
    src = tmp_path / "c.txt"
    src.write_text("knees bent\n", encoding="utf-8")
    assert main(["discover", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "v.json")]) == 3
    code = main(["discover", str(src), "--out", str(tmp_path / "v.json"), "--backend", "openai", "--model", "m"])
    err = capsys.readouterr().err
    assert code == 9 and "--base-url" in err and "Traceback" not in err
    assert main(["discover", str(src), "--out", str(tmp_path / "v.json"), "--backend", "transformers",
                 "--model-path", str(tmp_path / "nope")]) == 9  # fmt: skip
    assert "model not found" in capsys.readouterr().err
    assert main(["discover", str(src), "--out", str(tmp_path / "v.json"), "--backend", "bogus"]) == 2


def test_read_items_formats_and_errors(tmp_path):
    (tmp_path / "s.jsonl").write_text(
        json.dumps({"id": "s1", "sport": "soccer", "commentary": [{"text": "a", "time_s": 1}, {"text": "b"}]}) + "\n"
    )
    items = read_items(tmp_path / "s.jsonl")
    assert [(i.id, i.sport, i.time_s) for i in items] == [("s1#0", "soccer", 1), ("s1#1", "soccer", None)]
    with pytest.raises(InputNotFoundError):
        read_items(tmp_path / "nope.txt")
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(InvalidAnnotationError, match=r"bad\.jsonl:1: not valid JSON"):
        read_items(tmp_path / "bad.jsonl")
    with pytest.raises(UsageError, match="window_s"):
        DiscoverConfig().updated(window_s=-1)


def test_reply_parsing_and_repair():
    assert parse_reply('{"praise": true, "attributes": []}').praise
    e = parse_reply('Sure! Here it is: {"attributes": [{"name": "Hand  Positioning"}, "timing",], "praise": false')
    assert e.attributes == ["hand positioning", "timing"] and not e.praise
    assert parse_reply('["balance"]').attributes == ["balance"]
    assert repair_json("```json\n{'a': True,}\n```") == '{"a": true}'
    with pytest.raises(ReplyError):
        parse_reply("no json here")
    with pytest.raises(ReplyError):
        parse_reply('{"attributes": "balance"}')
