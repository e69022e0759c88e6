"""A model trained on CLIP features reads videos through its local CLIP checkpoint (``--clip-checkpoint``); without
it, or with another checkpoint, the error names what is missing. A tiny random CLIP vision tower is saved here (no
download)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crosstrainer.encoders.clip import checkpoint_version
from crosstrainer.encoders.registry import FileFeatureReader, encoder_for_model
from crosstrainer.errors import MissingResourceError, ModelError

SAMPLE_CLIP = Path(__file__).resolve().parents[1] / "examples" / "sample_bicep_curl.mp4"


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(
        hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2, image_size=32,
        patch_size=8, projection_dim=16,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("clip") / "tiny-clip"
    CLIPVisionModelWithProjection(config).save_pretrained(path)
    return path


def test_clip_model_reads_a_video_with_its_checkpoint(tiny_clip):
    manifest_encoder = {"name": "clip", "version": checkpoint_version(tiny_clip),
                        "config": {"checkpoint": tiny_clip.name, "samples_per_second": 1}, "dim": 16}  # fmt: skip
    reader = encoder_for_model(manifest_encoder, 16, "runs/clip-m1", clip_checkpoint=tiny_clip)
    assert isinstance(reader, FileFeatureReader) and reader.name == "clip"
    clip, kind, info = reader.read(SAMPLE_CLIP)
    assert kind == "video" and clip.features.shape == (3, 16) and info["duration_s"] == pytest.approx(2.2, abs=0.1)
    with pytest.raises(MissingResourceError, match=r"checkpoint 'tiny-clip'.*--clip-checkpoint"):
        encoder_for_model(manifest_encoder, 16, "runs/clip-m1")
    other = {**manifest_encoder, "version": "tiny-clip-000000000000"}
    with pytest.raises(ModelError, match="trained on CLIP checkpoint version tiny-clip-000000000000"):
        encoder_for_model(other, 16, "runs/clip-m1", clip_checkpoint=tiny_clip)
    with pytest.raises(ModelError, match="expects 8-d features, not 16"):
        encoder_for_model(manifest_encoder, 8, "runs/clip-m1", clip_checkpoint=tiny_clip)
