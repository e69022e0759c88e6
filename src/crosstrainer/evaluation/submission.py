"""Ego-Exo4D demonstrator-proficiency submission files, from a model's proficiency probe.

Two layouts, both from EGO4D/ego-exo4d-proficiency ``demonstrator_proficiency/``:

``eval-script`` (default): what that folder's ``eval_script.py`` checks and scores::

    {"videos": [take_name, ...],
     "ego_model_predictions": [[l_Novice, l_Early, l_Intermediate, l_Late], ...],
     "exo_model_predictions": [[[4 logits], [4 logits], [4 logits], [4 logits]], ...]}

``videos`` must equal the ground-truth list exactly (``assert model_predictions["videos"] ==
test_annotations["videos"]``): the public test list ``demonstrator_proficiency_test_v2.json`` holds take *names*, in
its own order. Each ego row has 4 values, each exo row 4 views x 4 values; the script applies a softmax to each row,
so we write log-probabilities (the softmax gives the model's probabilities back) in Ego-Exo4D's level order.

``readme``: the layout the README describes at its newest commit::

    {"videos": [take_name, ...], "predictions": ["Novice", "Late Expert", ...]}

one of ``Novice``, ``Early Expert``, ``Intermediate Expert``, ``Late Expert`` per video: the level with the
highest mean probability over the ego row and the four exo rows (the script's "combined" rule).

Exo rows: with an exo features folder, view ``exoN`` of a take (its camera from ``meta["cameras"]``, e.g.
``cam01``) reads ``<take_uid>_<cam_id>_<stream_id>.*`` (``cam01_0``, the official feature naming) or
``<take_uid>_<cam_id>.*``; a view without such a file uses the take's single exo file ``<take_uid>.*`` when there
is one. Without the folder, or without any file for a take, the exo rows repeat the ego row;
``info["exo"]`` counts where the rows came from and the run report shows it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.data.sample import EGOEXO_LEVELS, Sample
from crosstrainer.errors import UsageError
from crosstrainer.evaluation import baselines as bl
from crosstrainer.evaluation.systems import ModelRunner
from crosstrainer.fileio import atomic_write_json

Log = Any
FORMATS: tuple[str, ...] = ("eval-script", "readme")
EXO_VIEWS = 4
_SUFFIXES = (".pt", ".pth", ".npy", ".npz")


@dataclass(frozen=True)
class SubmissionTarget:
    """Where and how to write the submission: ``format`` one of :data:`FORMATS`; ``videos`` a JSON file with the
    benchmark's video list (a list of take names, or an object with ``videos``) that fixes order and coverage."""

    path: Path
    format: str = "eval-script"
    videos: Path | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise UsageError(f"unknown submission format {self.format!r} (expected {' or '.join(FORMATS)})")


def logits_row(probs: list[float] | np.ndarray) -> list[float]:
    """Log-probabilities: the row whose softmax is ``probs`` (normalised), finite for zeros."""
    p = np.clip(np.asarray(probs, np.float64), 1e-12, None)
    p = p / p.sum()
    return [round(float(math.log(v)), 6) for v in p]


def egoexo_submission(videos: list[str], ego: list[list[float]], exo: list[list[list[float]]]) -> dict[str, Any]:
    """The ``eval-script`` layout: ``ego`` one row of 4 per video, ``exo`` 4 rows of 4 per video."""
    if not (len(videos) == len(ego) == len(exo)):
        raise UsageError(f"submission rows differ: {len(videos)} videos, {len(ego)} ego, {len(exo)} exo")
    if len(set(videos)) != len(videos):
        raise UsageError("submission videos are not unique")
    for row in ego:
        if np.shape(row) != (4,):
            raise UsageError(f"each ego prediction needs 4 values (Novice..Late Expert), got shape {np.shape(row)}")
    for rows in exo:
        if np.shape(rows) != (EXO_VIEWS, 4):
            raise UsageError(f"each exo prediction needs 4 views x 4 values, got shape {np.shape(rows)}")
    return {
        "videos": list(videos),
        "ego_model_predictions": [[float(v) for v in r] for r in ego],
        "exo_model_predictions": [[[float(v) for v in r] for r in rows] for rows in exo],
    }


def readme_submission(videos: list[str], labels: list[str]) -> dict[str, Any]:
    """The ``readme`` layout: one level name per video."""
    if len(videos) != len(labels):
        raise UsageError(f"submission rows differ: {len(videos)} videos, {len(labels)} labels")
    bad = sorted({lb for lb in labels if lb not in EGOEXO_LEVELS})
    if bad:
        raise UsageError(f"labels {bad} are not Ego-Exo4D levels ({', '.join(EGOEXO_LEVELS)})")
    return {"videos": list(videos), "predictions": list(labels)}


def read_video_list(path: Path) -> list[str]:
    """The benchmark's video list: a JSON list of names or an object with ``videos`` (a ground-truth file)."""
    import json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the video list ({exc.__class__.__name__})") from exc
    if isinstance(data, dict):
        data = data.get("videos")
    if not isinstance(data, list) or not all(isinstance(v, str) for v in data) or not data:
        raise UsageError(f"{path}: expected a JSON list of take names (or an object with 'videos')")
    return data


def _video_name(s: Sample) -> str:
    return str(s.meta.get("take_name") or s.meta.get("take_uid") or s.id.rsplit("/", 1)[-1])


def _order(takes: list[Sample], wanted: list[str] | None, log: Log) -> list[tuple[str, Sample]]:
    if wanted is None:
        unnamed = [s.id for s in takes if not s.meta.get("take_name")]
        if unnamed:
            log(
                f"warning: {len(unnamed)} takes have no take_name (no takes.json or video_paths): their take_uid is "
                "written, which the benchmark's list of names will not match"
            )
        return [(_video_name(s), s) for s in takes]
    by_key: dict[str, Sample] = {}
    for s in takes:
        for key in (s.meta.get("take_name"), s.meta.get("take_uid")):
            if key:
                by_key[str(key)] = s
    missing = [v for v in wanted if v not in by_key]
    if missing:
        raise UsageError(
            f"{len(missing)} of {len(wanted)} videos of the benchmark list are not in --data "
            f"(first: {', '.join(missing[:3])}); the checker needs every one, in order"
        )
    extra = len(takes) - len({id(by_key[v]) for v in wanted})
    if extra:
        log(f"{extra} takes of --data are not in the benchmark list and are left out")
    return [(v, by_key[v]) for v in wanted]


def _exo_views(s: Sample) -> list[str]:
    """The take's exo view names, exo1.. in order (the main video's view included)."""
    names = [k for k in s.views if k.startswith("exo")]
    if str(s.meta.get("view", "")).startswith("exo"):
        names.append(str(s.meta["view"]))
    return sorted(set(names), key=lambda k: int(re.sub(r"\D", "", k) or 0))


def _camera_file(root: Path, s: Sample, view: str) -> Path | None:
    uid = s.meta.get("take_uid")
    cam = (s.meta.get("cameras") or {}).get(view)
    if cam is None:
        path = s.views.get(view) or (s.video if s.meta.get("view") == view else None)
        cam = Path(path).stem if path else None
    if not uid or not cam:
        return None
    for stem in (f"{uid}_{cam}_0", f"{uid}_{cam}"):
        for suffix in _SUFFIXES:
            if (root / f"{stem}{suffix}").is_file():
                return root / f"{stem}{suffix}"
    hits = sorted(p for p in root.glob(f"{uid}_{cam}_*") if p.suffix in _SUFFIXES)
    return hits[0] if hits else None


def _take_file(root: Path, s: Sample) -> Path | None:
    """The take's single exo file, ``<take_uid>.*`` (never a camera's file: that could be the ego camera's)."""
    uid = s.meta.get("take_uid") or s.id.rsplit("/", 1)[-1]
    return next((root / f"{uid}{sfx}" for sfx in _SUFFIXES if (root / f"{uid}{sfx}").is_file()), None)


def export_egoexo(
    samples: list[Sample],
    model_dir: Path,
    path: Path | SubmissionTarget,
    raw: bl.RawFeatures,
    exo_features: Path | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Write the submission JSON for the Ego-Exo4D takes in ``samples`` with the model's proficiency probe.

    ``path`` is the output file (``eval-script`` layout, every take) or a :class:`SubmissionTarget`. Ego
    predictions use each take's features (``Sample.features``); exo predictions as the module docstring says."""
    from crosstrainer.encoders.precomputed import PrecomputedEncoder

    target = path if isinstance(path, SubmissionTarget) else SubmissionTarget(Path(path))
    takes = [s for s in samples if s.source == "egoexo4d"]
    if not takes:
        raise UsageError("--export-egoexo-submission needs Ego-Exo4D takes in --data (egoexo:PATH)")
    wanted = read_video_list(target.videos) if target.videos else None
    runner = ModelRunner(model_dir)
    if sorted(runner.levels) != sorted(EGOEXO_LEVELS):
        want = list(EGOEXO_LEVELS)
        raise UsageError(f"{model_dir}: model levels {runner.levels} are not Ego-Exo4D's four levels {want}")
    order = [runner.levels.index(lv) for lv in EGOEXO_LEVELS]
    exo_enc = PrecomputedEncoder(exo_features) if exo_features else None
    counts = {"camera": 0, "take": 0, "ego": 0}
    videos: list[str] = []
    ego: list[list[float]] = []
    exo: list[list[list[float]]] = []
    labels: list[str] = []

    def probs(s: Sample, feats: np.ndarray) -> np.ndarray:
        p = runner.predict(s, np.asarray(feats, np.float32), generate=False)["probs"]
        return np.array([p[i] for i in order], np.float64)

    for name, s in _order(takes, wanted, log):
        videos.append(name)
        p_ego = probs(s, raw.per_second(s))
        rows: list[np.ndarray] = []
        take_row: np.ndarray | None = None
        views = _exo_views(s)[:EXO_VIEWS]
        for k in range(EXO_VIEWS):
            cam_file = _camera_file(exo_enc.root, s, views[k]) if exo_enc and k < len(views) else None
            if cam_file is not None:
                rows.append(probs(s, exo_enc.encode(cam_file).features))
                counts["camera"] += 1
                continue
            if exo_enc is not None and take_row is None:
                take_file = _take_file(exo_enc.root, s)
                take_row = p_ego if take_file is None else probs(s, exo_enc.encode(take_file).features)
            if take_row is not None and take_row is not p_ego:
                rows.append(take_row)
                counts["take"] += 1
            else:
                rows.append(p_ego)
                counts["ego"] += 1
        ego.append(logits_row(p_ego))
        exo.append([logits_row(r) for r in rows])
        labels.append(EGOEXO_LEVELS[int(np.argmax(np.mean([p_ego, *rows], axis=0)))])
    readme = target.format == "readme"
    data = readme_submission(videos, labels) if readme else egoexo_submission(videos, ego, exo)
    target.path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(target.path, data)
    n = len(videos) * EXO_VIEWS
    if counts["ego"] == n:
        exo_info = "same as ego (no exo features found)" if exo_features else "same as ego (no --exo-features given)"
    else:
        exo_info = (
            f"from {exo_features}: {counts['camera']} of {n} view rows from per-camera files, "
            f"{counts['take']} from take files, {counts['ego']} copied from ego"
        )
    info = {"path": str(target.path), "videos": len(videos), "format": target.format, "exo": exo_info}
    log(
        f"wrote Ego-Exo4D submission ({target.format}) for {len(videos)} takes to {target.path} "
        f"(exo predictions: {exo_info})"
    )
    return info
