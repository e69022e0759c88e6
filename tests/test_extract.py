"""Feature cache and ``crosstrainer extract``: keying, atomic writes, resume, failure report, sharding, encoders.

Synthetic data only: a fake encoder, random feature files, a tiny random CLIP and a generated video.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crosstrainer.data.sample import Sample
from crosstrainer.encoders.base import ClipFeatures, VideoEncoder
from crosstrainer.encoders.precomputed import PrecomputedEncoder, resample_per_second
from crosstrainer.encoders.registry import build_encoder
from crosstrainer.errors import InvalidKeypointsError, InvalidVideoError, MissingResourceError, UsageError
from crosstrainer.features.cache import FeatureCache, cache_key, clip_filename
from crosstrainer.features.extract import detect_shard, extract_features, parse_shard, shard_samples

FIX = Path(__file__).parent / "fixtures"


class FakeEncoder:
    """Counts calls; fails on ids in ``fail``; raises KeyboardInterrupt at call ``kill_at`` (a simulated kill)."""

    name = "fake"
    version = "1"
    dim = 3

    def __init__(self, fail: tuple[str, ...] = (), kill_at: int | None = None, scale: float = 1.0):
        self.calls: list[str] = []
        self.fail, self.kill_at, self.scale = set(fail), kill_at, scale

    def config(self) -> dict:
        return {"scale": self.scale}

    def input_for(self, sample: Sample) -> str:
        return sample.id

    def encode(self, source: str) -> ClipFeatures:
        if self.kill_at is not None and len(self.calls) == self.kill_at:
            raise KeyboardInterrupt
        self.calls.append(source)
        if source in self.fail:
            raise InvalidVideoError(f"{source}.mp4 could not be decoded (moov atom not found)")
        n = 2 + len(source) % 3
        return ClipFeatures(np.full((n, 3), self.scale, np.float32), np.arange(n), np.ones(n), self.name)


def _samples(n: int = 5) -> list[Sample]:
    return [Sample(id=f"set/clip{i:02d}") for i in range(n)]


def test_fake_encoder_is_a_video_encoder():
    assert isinstance(FakeEncoder(), VideoEncoder)


def test_cache_key_depends_on_name_version_and_config():
    base = cache_key("clip", "v1", {"a": 1, "b": 2})
    assert base == cache_key("clip", "v1", {"b": 2, "a": 1})  # key order does not matter
    others = {cache_key("clip", "v2", {"a": 1, "b": 2}), cache_key("pose", "v1", {"a": 1, "b": 2}),
              cache_key("clip", "v1", {"a": 1, "b": 3})}  # fmt: skip
    assert base not in others and len(others) == 3
    assert base.startswith("clip/v1-")
    assert clip_filename("egoexo/0a1b") == "egoexo__0a1b.npz"
    assert clip_filename("a b/ü") != clip_filename("a_b/_")  # lossy names get a hash


def test_save_load_and_atomic_leftovers(tmp_path):
    cache = FeatureCache(tmp_path, "fake", "1", {"scale": 1.0})
    feats = FakeEncoder().encode("x")
    path = cache.save("set/clip00", feats)
    back = cache.load("set/clip00")
    assert np.array_equal(back.features, feats.features) and back.meta["clip_id"] == "set/clip00"
    assert json.loads((cache.dir / "encoder.json").read_text())["dim"] == 3
    # a kill during a write leaves only a temporary file: ignored, the clip counts as missing
    (cache.dir / f"{clip_filename('set/clip01')}.tmp-999").write_bytes(path.read_bytes()[:50])
    assert not cache.has("set/clip01") and cache.load("set/clip01") is None
    assert [p.name for p in cache.clip_files()] == [path.name]
    # a truncated file (copied by hand, disk full...) also counts as missing
    cache.path("set/clip02").write_bytes(path.read_bytes()[:-40])
    assert not cache.has("set/clip02") and cache.load("set/clip02") is None
    assert FeatureCache.open(tmp_path, "fake").dir == cache.dir


def test_resume_after_kill_extracts_only_the_rest(tmp_path):
    samples = _samples(5)
    with pytest.raises(KeyboardInterrupt):
        extract_features(samples, FakeEncoder(kill_at=2), tmp_path, shard=(0, 1), progress=False)
    enc = FakeEncoder()
    report = extract_features(samples, enc, tmp_path, shard=(0, 1), progress=False)
    assert (report.cached, report.extracted, report.failures) == (2, 3, [])
    assert enc.calls == ["set/clip02", "set/clip03", "set/clip04"]
    again = FakeEncoder()
    report = extract_features(samples, again, tmp_path, shard=(0, 1), progress=True)
    assert again.calls == [] and report.cached == 5
    # another config is another cache: everything is extracted again, the first set untouched
    other = FakeEncoder(scale=2.0)
    assert extract_features(samples, other, tmp_path, shard=(0, 1), progress=False).extracted == 5
    assert len(list((tmp_path / "fake").iterdir())) == 2


def test_failures_are_recorded_and_the_rest_done(tmp_path):
    report = extract_features(_samples(4), FakeEncoder(fail=("set/clip01",)), tmp_path, shard=(0, 1), progress=False)
    assert report.extracted == 3 and [f.id for f in report.failures] == ["set/clip01"]
    cache_dir = Path(report.cache_dir)
    (line,) = (cache_dir / "failures.jsonl").read_text().splitlines()
    assert json.loads(line) == {"id": "set/clip01", "error": "InvalidVideoError",
                                "reason": "set/clip01.mp4 could not be decoded (moov atom not found)"}  # fmt: skip
    summary = json.loads((cache_dir / "extract-summary.json").read_text())
    assert (summary["total"], summary["extracted"], summary["failed"]) == (4, 3, 1)


def test_sharding_is_disjoint_and_complete(tmp_path):
    samples = _samples(11)
    shards = [shard_samples(samples[::-1], i, 3) for i in range(3)]  # input order does not matter
    ids = [s.id for shard in shards for s in shard]
    assert sorted(ids) == sorted(s.id for s in samples) and len(ids) == len(set(ids))
    assert [len(s) for s in shards] == [4, 4, 3]
    reports = [extract_features(samples, FakeEncoder(), tmp_path, shard=f"{i}/3", progress=False) for i in range(3)]
    assert sum(r.extracted for r in reports) == 11
    assert (Path(reports[0].cache_dir) / "extract-summary.shard-0-of-3.json").is_file()


def test_shard_parsing_and_environment(monkeypatch):
    assert parse_shard("2/4") == (2, 4)
    for bad in ("4/4", "x/2", "1"):
        with pytest.raises(UsageError):
            parse_shard(bad)
    from accelerate.state import PartialState

    # an accelerate state left initialised by an earlier test in this process would take precedence
    monkeypatch.setattr(PartialState, "_shared_state", {})
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert detect_shard() == (0, 1)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert detect_shard() == (1, 2)


def test_precomputed_encoder_formats(tmp_path):
    import torch

    torch.save({"features": torch.arange(8.0).reshape(4, 2), "fps": 2.0}, tmp_path / "take_a.pt")
    np.save(tmp_path / "take_b.npy", np.ones((3, 2), np.float32))
    np.savez(tmp_path / "take_c.npz", feats=np.ones((2, 5, 2), np.float32))
    enc = PrecomputedEncoder(tmp_path)
    a = enc.encode(enc.input_for(Sample(id="egoexo/x", meta={"take_uid": "take_a"})))
    assert a.features.tolist() == [[1.0, 2.0], [5.0, 6.0]] and a.times_s.tolist() == [0.0, 1.0]
    assert enc.encode(Sample(id="set/take_b")).num_seconds == 3
    assert enc.encode(tmp_path / "take_c.npz").features.shape == (2, 2)
    assert resample_per_second(np.arange(3.0)[:, None], 0.5).ravel().tolist() == [0, 0, 1, 1, 2, 2]
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    with pytest.raises(InvalidKeypointsError, match=r"bad\.npy: cannot read features"):
        enc.encode(tmp_path / "bad.npy")


def test_build_encoder_errors(tmp_path):
    with pytest.raises(UsageError, match="unknown encoder 'vit'"):
        build_encoder("vit")
    with pytest.raises(MissingResourceError, match="--clip-checkpoint"):
        build_encoder("clip")
    with pytest.raises(MissingResourceError, match=str(tmp_path / "nothing")):
        build_encoder("clip", checkpoint=tmp_path / "nothing")
    with pytest.raises(UsageError, match="has no option 'colour'"):
        build_encoder("precomputed", colour="red")


def _tiny_clip(path: Path) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    small = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = CLIPConfig(
        text_config={**small, "vocab_size": 64, "max_position_embeddings": 16},
        vision_config={**small, "image_size": 32, "patch_size": 16},
        projection_dim=8,
    )
    import torch

    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)
    return path


def test_clip_encoder_one_embedding_per_second(tmp_path):
    from crosstrainer.video.decode import iter_frames, write_test_clip

    rng = np.random.default_rng(0)
    frames = [
        np.full((48, 64, 3), 25 * i, np.uint8) + rng.integers(0, 20, (48, 64, 3), dtype=np.uint8) for i in range(10)
    ]
    video = write_test_clip(tmp_path / "clip.mp4", frames, fps=4.0)  # 2.5 s: seconds 0, 1 and a half second
    enc = build_encoder("clip", checkpoint=_tiny_clip(tmp_path / "tiny-clip"), device="cpu")
    assert isinstance(enc, VideoEncoder) and enc.dim == 8 and enc.version.startswith("tiny-clip-")
    feats = enc.encode(video)
    assert feats.features.shape == (3, 8) and feats.times_s.tolist() == [0.0, 1.0, 2.0]
    assert np.allclose(np.linalg.norm(feats.features, axis=1), 1.0, atol=1e-5)
    decoded = [rgb for _, rgb in iter_frames(video, sample_fps=None)]
    # second s is the frame at s + 0.5 s: frames 2, 6 and (past the end) the last one, 9
    expected = enc._embed([decoded[2], decoded[6], decoded[9]])
    assert np.allclose(feats.features, expected, atol=1e-5)
    assert not np.allclose(feats.features[0], feats.features[1])


def test_extract_cli_end_to_end_with_precomputed(tmp_path, capsys):
    import torch

    from crosstrainer.cli import main

    feats_dir = tmp_path / "egovlpv2"
    feats_dir.mkdir()
    uid = "0a1b2c3d-0000-4000-8000-00000000000"
    torch.save(torch.randn(6, 16), feats_dir / f"{uid}1.pt")
    np.save(feats_dir / f"{uid}2.npy", np.random.rand(4, 16).astype(np.float32))
    np.save(feats_dir / f"{uid}3.npy", np.full((4, 16), np.nan, np.float32))  # broken: NaN features
    argv = ["extract", f"egoexo:{FIX / 'egoexo'}", "--encoder", "precomputed", "--features-root", str(feats_dir),
            "--cache", str(tmp_path / "cache"), "--no-progress"]  # fmt: skip
    assert main(argv) == 8  # PartialFailure: one clip failed, the others are done
    err = capsys.readouterr().err
    assert "3 clips, 2 extracted, 0 already cached, 1 failed" in err
    assert f"failed egoexo/{uid}3" in err and "error: 1 of 3 clips failed" in err
    cache = FeatureCache.open(tmp_path / "cache", "precomputed")
    assert cache.load(f"egoexo/{uid}1").features.shape == (6, 16)
    np.save(feats_dir / f"{uid}3.npy", np.ones((4, 16), np.float32))  # fixed: the rerun does only that clip
    assert main(argv) == 0
    assert "3 clips, 1 extracted, 2 already cached, 0 failed" in capsys.readouterr().err
    assert main([*argv[:-1], "--shard", "5/2"]) == 2
    assert "error: --shard 5/2: need 0 <= I < N" in capsys.readouterr().err


def test_pose_encoder_on_real_landmark_csv_clips(tmp_path):
    """Real data (../shared/data/exercise_correction): in-memory poses go through the kinematic encoder."""
    root = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "exercise_correction"
    if not root.is_dir():
        pytest.skip(f"real data {root} is absent")
    from crosstrainer.data.registry import load_samples

    samples = load_samples(f"exercise_correction:{root}", limit=3)
    encoder = build_encoder("pose")
    report = extract_features(samples, encoder, tmp_path, shard=(0, 1), progress=False)
    assert (report.extracted, report.failures) == (3, [])
    cache = FeatureCache.open(tmp_path, "pose")
    feats = cache.load(samples[0].id)
    assert feats.features.shape[1] == encoder.dim and np.isfinite(feats.features).all()
