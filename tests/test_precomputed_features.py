"""Precomputed features as Ego-Exo4D ships them: ``features/<take_uid>_<cam_id>_<stream_id>.pt``.

Upstream: EGO4D/Ego-Exo4D-docs ``docs/data/features.md`` (file names ``<take_uid>_<cam_id>_<stream_id>.pt``, stream
``rgb`` for Aria, ``0`` for GoPros; Omnivore Swin-L video head, windows of 32/30 s every 16/30 s) and
facebookresearch/Ego4d ``ego4d/features/configs`` (``fps: 30``, ``frame_window: 32``, ``stride: 16``). Readers of the
release load them with ``torch.load`` as a ``(#features, 1, dim)`` tensor and index ``<take_uid>_aria01_rgb.pt`` for
the ego view. The files below are shaped like that (synthetic values, 1536-d like Omnivore's video head).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from crosstrainer.data.registry import load_samples
from crosstrainer.data.sample import Sample
from crosstrainer.encoders.precomputed import FAMILIES, PrecomputedEncoder, family_of
from crosstrainer.errors import InputNotFoundError, InvalidKeypointsError

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "egoexo"
OMNIVORE_DIM = 1536


def omnivore_rows(duration_s: float) -> int:
    """Rows of an Omnivore file for a clip: windows of 32 frames every 16 at 30 fps (the last one backed up)."""
    frames = round(duration_s * 30)
    return max(1, math.ceil((frames - 32) / 16) + 1)


def write_release(root: Path, takes: list[Sample]) -> Path:
    """``root/features/`` as ``egoexo --parts features/omnivore_video`` lays it out: every camera of every take."""
    folder = root / "features" / "omnivore_video"
    folder.mkdir(parents=True)
    for i, s in enumerate(takes):
        rows = omnivore_rows(float(s.meta.get("duration_sec") or 12.0))
        for view, cam in s.meta["cameras"].items():
            stream = "rgb" if cam.startswith("aria") else "0"
            value = 100 * i + (0 if view == "ego" else int(view[3:]))  # each file tells which take and camera it is
            torch.save(
                torch.full((rows, 1, OMNIVORE_DIM), float(value)), folder / f"{s.meta['take_uid']}_{cam}_{stream}.pt"
            )
    return folder


def test_official_file_names_are_found_per_view(tmp_path):
    takes = load_samples(f"egoexo:{FIXTURE}")
    folder = write_release(tmp_path, takes)
    enc = PrecomputedEncoder(folder)
    for i, s in enumerate(takes):
        uid = s.meta["take_uid"]
        assert enc.input_for(s).name == f"{uid}_aria01_rgb.pt"  # ego: the Aria RGB stream
        feats = enc.encode(s)
        assert feats.features.shape[1] == OMNIVORE_DIM and np.all(feats.features == 100 * i)
    exo = PrecomputedEncoder(folder, view="exo2")
    s = takes[1]
    assert exo.input_for(s).name == f"{s.meta['take_uid']}_{s.meta['cameras']['exo2']}_0.pt"
    assert np.all(exo.encode(s).features == 100 * 1 + 2)


def test_official_names_without_camera_metadata(tmp_path):
    """A sample that only knows its take uid (no takes.json): the aria*_rgb file is the ego view, the GoPros in
    camera order are exo1, exo2..."""
    folder = tmp_path / "omnivore_video"
    folder.mkdir()
    uid = "0a1b2c3d-0000-4000-8000-0000000000ff"
    for cam, value in (("aria02", 7.0), ("cam02", 2.0), ("cam01", 1.0)):
        torch.save(torch.full((4, 1, 8), value), folder / f"{uid}_{cam}_{'rgb' if cam.startswith('aria') else '0'}.pt")
    sample = Sample(id=f"egoexo/{uid}", meta={"take_uid": uid})
    assert PrecomputedEncoder(folder).input_for(sample).name == f"{uid}_aria02_rgb.pt"
    assert PrecomputedEncoder(folder, view="exo1").input_for(sample).name == f"{uid}_cam01_0.pt"
    assert PrecomputedEncoder(folder, view="exo2").input_for(sample).name == f"{uid}_cam02_0.pt"
    with pytest.raises(InputNotFoundError, match=r"no feature file for it .*tried"):
        PrecomputedEncoder(folder, view="exo3").input_for(sample)


def test_omnivore_rate_is_known_and_time_is_not_stretched(tmp_path):
    """Omnivore rows come every 16/30 s: 15 rows cover 8 s and become 8 per-second rows (never 15 "seconds")."""
    assert FAMILIES["omnivore_video"].rate_hz == pytest.approx(1.875)
    assert family_of("omnivore_video").name == "omnivore_video" and family_of("EgoVLPv2").name == "egovlpv2"
    assert family_of("features") is None
    folder = tmp_path / "omnivore_video"
    folder.mkdir()
    rows = torch.arange(15.0)[:, None, None].expand(15, 1, 4).clone()
    torch.save(rows, folder / "take_aria01_rgb.pt")
    feats = PrecomputedEncoder(folder).encode(folder / "take_aria01_rgb.pt")
    assert feats.num_seconds == 8 and feats.meta["rate_source"] == "family omnivore_video"
    starts = np.arange(15) * 16 / 30  # row i starts at 16 i / 30 s
    expected = [np.arange(15)[np.floor(starts + 1e-9) == s].mean() for s in range(8)]
    assert feats.features[:, 0].tolist() == pytest.approx(expected)
    # the same file in a folder with a neutral name: an explicit rate gives the same seconds
    other = tmp_path / "features"
    other.mkdir()
    torch.save(rows, other / "take_aria01_rgb.pt")
    same = PrecomputedEncoder(other, fps=30 / 16).encode(other / "take_aria01_rgb.pt")
    assert np.allclose(same.features, feats.features) and same.meta["rate_source"] == "option"


def test_unknown_family_assumes_one_per_second_loudly_and_refuses_a_mismatch(tmp_path):
    folder = tmp_path / "features"
    folder.mkdir()
    uid = "take-1"
    torch.save(torch.zeros(15, 1, 4), folder / f"{uid}_aria01_rgb.pt")
    enc = PrecomputedEncoder(folder)
    fits = Sample(id=f"egoexo/{uid}", meta={"take_uid": uid, "duration_sec": 15.2, "cameras": {"ego": "aria01"}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        feats = enc.encode(fits)
    assert feats.meta["rate_source"] == "assumed" and feats.num_seconds == 15
    assert any("assuming one row per second" in str(w.message) for w in caught)
    # an 8-s take whose 15 rows would be read as 15 s: refused, not stretched
    short = Sample(id=f"egoexo/{uid}", meta={"take_uid": uid, "duration_sec": 8.0, "cameras": {"ego": "aria01"}})
    with pytest.raises(InvalidKeypointsError, match=r"cover 15\.0 s, but the clip lasts 8\.0 s: give the files' rate"):
        enc.encode(short)
    assert PrecomputedEncoder(folder, fps=1.875).encode(short).num_seconds == 8


def test_plain_take_uid_files_still_work(tmp_path):
    np.save(tmp_path / "take_b.npy", np.ones((3, 2), np.float32))
    enc = PrecomputedEncoder(tmp_path)
    assert enc.input_for(Sample(id="egoexo/x", meta={"take_uid": "take_b"})).name == "take_b.npy"


def test_a_take_video_finds_its_features_through_takes_json(tmp_path):
    """``assess --features`` on an Ego-Exo4D video: takes/<take_name>/... -> takes.json -> <take_uid>_aria01_rgb."""
    import json

    from crosstrainer.encoders.registry import FileFeatureReader

    root = tmp_path / "egoexo4d"
    video = root / "takes" / "unc_basketball_03-31-23_02_12" / "frame_aligned_videos" / "aria01_214-1.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"")
    uid = "0a1b2c3d-0000-4000-8000-000000000001"
    (root / "takes.json").write_text(json.dumps([{"take_uid": uid, "take_name": "unc_basketball_03-31-23_02_12"}]))
    folder = tmp_path / "omnivore_video"
    folder.mkdir()
    torch.save(torch.zeros(4, 1, 8), folder / f"{uid}_aria01_rgb.pt")
    torch.save(torch.zeros(4, 1, 8), folder / f"{uid}_cam01_0.pt")
    assert FileFeatureReader(PrecomputedEncoder(folder), "m").lookup(video).name == f"{uid}_aria01_rgb.pt"
