"""``crosstrainer extract --engine ray``: the same feature cache as one process, written by Ray Data workers.

Real clips: the first bicep-curl clips of exercise_correction (MediaPipe landmark CSVs in ../shared/data), encoded by
the pose encoder on a local 2-worker Ray instance. One worker kills its own process midway; the run still completes
and the cache is the single-process one, file for file and byte for byte. Skips when Ray is not installed
(``pip install "crosstrainer[ray]"``); the error for a missing extra is tested without Ray.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from crosstrainer.data.sample import Sample
from crosstrainer.errors import MissingResourceError
from crosstrainer.features.extract import extract_features, import_ray

CLIPS = 6


@pytest.fixture(scope="module")
def ray_module():
    try:
        return import_ray()
    except MissingResourceError as exc:
        pytest.skip(f"Ray is not installed: {exc}")


@pytest.fixture(scope="module")
def clips(shared_data) -> tuple[str, list[Sample]]:
    from crosstrainer.data.registry import load_samples

    spec = f"exercise_correction:{shared_data / 'exercise_correction'}?limit={CLIPS}"
    samples = load_samples(spec)
    assert len(samples) == CLIPS and all(s.pose is not None for s in samples)
    return spec, samples


def snapshot(cache_root: Path) -> dict[str, object]:
    """Every file of every encoder setup under ``cache_root``: arrays and meta of each clip, the manifest, the
    failures (sorted) and the summary's counts. Temporary files would show up as extra names."""
    out: dict[str, object] = {}
    for path in sorted(p for p in cache_root.rglob("*") if p.is_file()):
        rel = str(path.relative_to(cache_root))
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                out[rel] = {k: (z[k].dtype.str, z[k].shape, z[k].tobytes()) for k in sorted(z.files)}
        elif path.name.startswith("failures"):
            out[rel] = sorted(path.read_text(encoding="utf-8").splitlines())
        elif path.name.startswith("extract-summary"):
            summary = json.loads(path.read_text(encoding="utf-8"))
            out[rel] = {k: summary[k] for k in ("total", "extracted", "cached", "failed", "failures")}
        else:
            out[rel] = path.read_bytes()
    return out


def killing_pose_encoder(marker_dir: str, kill_after: int):
    """The pose encoder, except that the ``kill_after``-th clip encoded (across all workers) kills the process
    encoding it, once: SIGKILL, as the out-of-memory killer or a lost node would. Same name, version and config as
    the pose encoder, so the cache key is the same."""
    from crosstrainer.encoders.registry import build_encoder

    class KillOnce:
        def __init__(self) -> None:
            self.inner = build_encoder("pose")
            self.name, self.version, self.dim = self.inner.name, self.inner.version, self.inner.dim

        def config(self):
            return self.inner.config()

        def encode(self, source):
            calls = Path(marker_dir) / "calls"
            calls.mkdir(exist_ok=True)
            (calls / f"{os.getpid()}-{len(list(calls.iterdir()))}").touch()
            if len(list(calls.iterdir())) >= kill_after:
                try:
                    fd = os.open(Path(marker_dir) / "killed", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    return self.inner.encode(source)
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)
            return self.inner.encode(source)

    return KillOnce()


def test_missing_ray_is_a_clear_error(monkeypatch, tmp_path):
    from crosstrainer.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, installed or not
    with pytest.raises(MissingResourceError, match=r"crosstrainer\[ray\]"):
        import_ray()
    code = main(["extract", str(tmp_path / "nothing"), "--engine", "ray", "--cache", str(tmp_path / "c")])
    assert code == 9


def test_cli_ray_engine_writes_the_single_process_cache(ray_module, clips, tmp_path, capsys):
    from crosstrainer.cli import main

    spec, _ = clips
    assert not ray_module.is_initialized()
    assert main(["extract", spec, "--cache", str(tmp_path / "single"), "--no-progress"]) == 0
    # a local instance started and stopped by the command itself, two workers
    args = ["extract", spec, "--cache", str(tmp_path / "ray"), "--engine", "ray", "--workers", "2", "--no-progress"]
    assert main(args) == 0
    assert f"{CLIPS} clips, {CLIPS} extracted, 0 already cached, 0 failed" in capsys.readouterr().err
    assert not ray_module.is_initialized()
    ray_snap, single_snap = snapshot(tmp_path / "ray"), snapshot(tmp_path / "single")
    assert len([k for k in ray_snap if k.endswith(".npz")]) == CLIPS
    assert ray_snap == single_snap
    # resume: nothing left to do, so no Ray instance is even started
    assert main(args) == 0
    assert f"{CLIPS} clips, 0 extracted, {CLIPS} already cached, 0 failed" in capsys.readouterr().err
    assert main(["extract", spec, "--cache", str(tmp_path / "single"), "--workers", "2"]) == 2  # ray-only option


def test_worker_killed_midway_loses_nothing(ray_module, clips, tmp_path):
    from crosstrainer.encoders.registry import build_encoder
    from crosstrainer.features.extract import extract_features_ray

    _, real = clips
    samples = [*real, Sample(id="exercise_correction/missing", keypoints=str(tmp_path / "missing.npy"))]
    single = extract_features(samples, build_encoder("pose"), tmp_path / "single", progress=False)
    assert (single.extracted, len(single.failures)) == (CLIPS, 1)

    markers = tmp_path / "markers"
    markers.mkdir()
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/
    ray_module.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        report = extract_features_ray(
            samples,
            functools.partial(killing_pose_encoder, str(markers), 3),
            tmp_path / "ray",
            workers=2,
            progress=False,
        )
        assert ray_module.is_initialized()  # an instance the caller started is left running
    finally:
        ray_module.shutdown()
    killed = (markers / "killed").read_text()  # a worker did die, midway (at the 3rd of 6 clips)...
    calls = [p.name.split("-")[0] for p in (markers / "calls").iterdir()]
    assert killed in calls and set(calls) - {killed}  # ...and other workers (a restarted one) went on
    assert len(calls) == CLIPS + 1  # every clip encoded once, the one of the killed worker twice
    assert (report.total, report.extracted, report.cached) == (CLIPS + 1, CLIPS, 0)  # its clip was redone
    assert [f.id for f in report.failures] == ["exercise_correction/missing"]
    assert snapshot(tmp_path / "ray") == snapshot(tmp_path / "single")
