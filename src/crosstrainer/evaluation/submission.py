"""Ego-Exo4D demonstrator-proficiency submission files, from a model's proficiency probe.

``{"videos": [take_uid, ...], "ego_model_predictions": [[p_Novice, p_Early, p_Intermediate, p_Late], ...],
"exo_model_predictions": [...]}``, one row per take.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.data.sample import EGOEXO_LEVELS, Sample
from crosstrainer.errors import UsageError
from crosstrainer.evaluation import baselines as bl
from crosstrainer.evaluation.systems import ModelRunner
from crosstrainer.fileio import atomic_write_json

Log = Any


def egoexo_submission(videos: list[str], ego: list[list[float]], exo: list[list[float]]) -> dict[str, Any]:
    """The Ego-Exo4D demonstrator-proficiency submission: ``{"videos": [take_uid...], "ego_model_predictions":
    [[p_Novice, p_Early, p_Intermediate, p_Late], ...], "exo_model_predictions": [...]}`` (one row per video)."""
    if not (len(videos) == len(ego) == len(exo)):
        raise UsageError(f"submission rows differ: {len(videos)} videos, {len(ego)} ego, {len(exo)} exo")
    for row in [*ego, *exo]:
        if len(row) != 4:
            raise UsageError(f"each prediction needs 4 values (Novice..Late Expert), got {len(row)}")
    return {
        "videos": list(videos),
        "ego_model_predictions": [[float(v) for v in r] for r in ego],
        "exo_model_predictions": [[float(v) for v in r] for r in exo],
    }


def export_egoexo(
    samples: list[Sample],
    model_dir: Path,
    path: Path,
    raw: bl.RawFeatures,
    exo_features: Path | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Write the submission JSON for every Ego-Exo4D take in ``samples`` with the model's proficiency probe.

    Ego predictions use each take's features (``Sample.features``); exo predictions use the take's file in
    ``exo_features`` (same lookup as the precomputed encoder) or, without that folder, repeat the ego ones
    (returned in ``info["exo"]`` and shown in the report)."""
    from crosstrainer.encoders.precomputed import PrecomputedEncoder

    takes = [s for s in samples if s.source == "egoexo4d"]
    if not takes:
        raise UsageError("--export-egoexo-submission needs Ego-Exo4D takes in --data (egoexo:PATH)")
    runner = ModelRunner(model_dir)
    if sorted(runner.levels) != sorted(EGOEXO_LEVELS):
        want = list(EGOEXO_LEVELS)
        raise UsageError(f"{model_dir}: model levels {runner.levels} are not Ego-Exo4D's four levels {want}")
    order = [runner.levels.index(lv) for lv in EGOEXO_LEVELS]
    exo_enc = PrecomputedEncoder(exo_features) if exo_features else None
    videos, ego, exo = [], [], []
    for s in takes:
        videos.append(str(s.meta.get("take_uid") or s.id.rsplit("/", 1)[-1]))
        p = runner.predict(s, raw.per_second(s).astype(np.float32), generate=False)["probs"]
        ego.append([p[i] for i in order])
        if exo_enc is not None:
            bare = s.model_copy(update={"features": None})
            q = runner.predict(s, exo_enc.encode(bare).features, generate=False)["probs"]
            exo.append([q[i] for i in order])
        else:
            exo.append(list(ego[-1]))
    data = egoexo_submission(videos, ego, exo)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, data)
    info = {
        "path": str(path),
        "videos": len(videos),
        "exo": f"from {exo_features}" if exo_features else "same as ego (no --exo-features given)",
    }
    log(f"wrote Ego-Exo4D submission for {len(videos)} takes to {path} (exo predictions: {info['exo']})")
    return info
