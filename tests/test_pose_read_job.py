"""``api.PoseReadJob``: a video's pose read in a child process while the model loads (``crosstrainer assess`` on
videos of 8 s or more). It must give exactly what the in-process read gives, raise the same errors, and fall back
to reading in-process when the child dies.

Uses the real sample clip (``examples/``), a synthetic grey clip (no person) and a synthetic 8.4 s clip made of the
sample's real frames looped.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crosstrainer.api import PoseReadJob, read_pose_early
from crosstrainer.errors import NoPersonError
from crosstrainer.video.decode import write_test_clip

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample_bicep_curl.mp4"


def same_pose(a, b) -> bool:
    (pa, ka, ia), (pb, kb, ib) = a.result, b.result
    return (
        ka == kb
        and ia == ib
        and np.array_equal(pa.xy, pb.xy, equal_nan=True)
        and np.array_equal(pa.conf, pb.conf)
        and np.array_equal(pa.times_s, pb.times_s)
    )


def test_child_reads_what_this_process_reads() -> None:
    job = PoseReadJob(SAMPLE)
    assert job.process is not None  # it really runs elsewhere
    assert same_pose(job.result(), read_pose_early(SAMPLE))


def test_errors_cross_the_process_boundary(tmp_path: Path) -> None:
    """Synthetic: a flat grey clip has no person; the child's NoPersonError is raised here, message intact."""
    clip = write_test_clip(tmp_path / "grey.mp4", np.full((20, 96, 128, 3), 128, np.uint8), fps=10)
    with pytest.raises(NoPersonError, match=r"no person detected in grey.mp4 \(0 of 20 sampled frames\)"):
        PoseReadJob(clip).result()


def test_a_killed_child_means_reading_here(monkeypatch) -> None:
    import crosstrainer.api as api

    here: list[tuple] = []
    monkeypatch.setattr(api, "read_pose_early", lambda *args: here.append(args) or read_pose_early(*args))
    job = PoseReadJob(SAMPLE)
    job.process.kill()  # long before a fresh interpreter has imported the pose stack and read the clip
    job.process.join()
    assert job.process.exitcode == -9
    assert same_pose(job.result(), read_pose_early(SAMPLE))
    assert len(here) == 1  # the child never answered: that result is this process's own read


def test_short_videos_are_read_before_the_load(tmp_path: Path) -> None:
    assert not PoseReadJob.worth_it(SAMPLE)  # 2.2 s: read first, so nobody-in-it fails without loading the model


@pytest.mark.slow
def test_cli_on_a_longer_video_gives_the_in_process_json(tmp_path: Path, monkeypatch) -> None:
    """Synthetic 8.4 s clip of the sample's real frames: ``crosstrainer assess`` (pose in a child process) writes the
    JSON that the Python API (pose in this process) computes."""
    import av

    from crosstrainer.api import Assessor
    from crosstrainer.cli import main

    with av.open(str(SAMPLE)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    frames = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]
    loop = frames + frames[::-1]
    clip = write_test_clip(tmp_path / "long.mp4", [loop[i % len(loop)] for i in range(252)], fps=30)
    assert PoseReadJob.worth_it(clip)
    started = []
    monkeypatch.setattr(PoseReadJob, "__init__", _spy(PoseReadJob.__init__, started))
    out = tmp_path / "cli.json"
    assert main(["assess", str(clip), "--json", str(out), "--quiet"]) == 0
    assert started  # the CLI took the child-process path
    early = read_pose_early(clip)
    result = Assessor.load().assess(clip, read=early)
    assert result.timings["total_s"] >= early.seconds + result.timings["llm_s"]  # the time counts the pose read
    expected = json.loads(result.assessment.to_json())
    got = json.loads(out.read_text())
    for d in (expected, got):
        d.pop("timings", None)
    assert got == expected


def _spy(init, calls: list):
    def wrapped(self, *args, **kwargs):
        calls.append(args)
        init(self, *args, **kwargs)

    return wrapped
