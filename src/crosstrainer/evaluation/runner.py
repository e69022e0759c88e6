"""Run a protocol end to end: train what each split needs, predict every test clip with the model and every
baseline, score, plot, and write the run folder. ``crosstrainer evaluate`` is a thin wrapper around
:func:`run_evaluation`.

Run folder::

    <out>/metrics.json  report.md  plots/*.png
    <out>/splits/<protocol>__holdout-<sports>__seed<k>/
        split.json          train / test sample ids
        model/              the two-stage CrossTrainer model of this split (not written with --model)
        model_e2e/          the "w/o two-stage" baseline (two_stage=false through the same recipe)
        predictions.json    {"fingerprint", "split", "systems": {system: {sample id: prediction}}}

Resumable: a split whose ``predictions.json`` carries the same fingerprint (split ids, training config, options)
is not recomputed, and a model folder trained for the same fingerprint is not retrained. A prediction looks like
``{"level": "good form", "probs": [0.2, 0.8], "llm_level": "good form", "attributes": ["posture"],
"attributes_probe": [], "feedback": "Keep your torso upright."}`` (fields a system does not produce are absent).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer import __version__
from crosstrainer.data.sample import Sample
from crosstrainer.errors import ModelError, UsageError
from crosstrainer.evaluation import baselines as bl
from crosstrainer.evaluation.protocols import ProtocolConfig, Split, make_splits, report_group

MODEL = "CrossTrainer"
E2E = "w/o two-stage"
LEVEL_SYSTEMS = (MODEL, E2E, bl.LINEAR, bl.NN)
EGOEXO_LEVELS = ("Novice", "Early Expert", "Intermediate Expert", "Late Expert")
Log = Callable[[str], None]


@dataclass
class EvalOptions:
    """How to run the systems of every split (the protocol itself is a :class:`ProtocolConfig`)."""

    config: str = "embedded"
    """Training preset or YAML for the models each split trains."""
    overrides: list[str] = field(default_factory=list)
    """``key=value`` overrides of the training config (``max_steps=20``)."""
    model_dir: Path | None = None
    """Evaluate this trained model in every split instead of training one (no ``w/o two-stage`` baseline)."""
    no_llm: bool = False
    """Skip generation: probes (proficiency, per-second attributes) and the LLM-free baselines only."""
    e2e: bool = True
    """Train and evaluate the ``w/o two-stage`` baseline."""
    n_boot: int = 1000
    tokenizer: str = "auto"
    meteor: bool | None = None
    """None: METEOR when java is on PATH."""
    num_threads: int | None = None
    command: str = ""


# ------------------------------------------------------------------------------------------------ models


def levels_for(samples: list[Sample]) -> list[str]:
    """Level order of the data: the pose-exercise levels, Ego-Exo4D's four, or the sorted labels."""
    from crosstrainer.data.exercise_labels import LEVELS

    found = {s.proficiency for s in samples if s.proficiency}
    for known in (list(LEVELS), list(EGOEXO_LEVELS)):
        if found and found <= set(known):
            return known
    return sorted(found)


class ModelRunner:
    """A saved CrossTrainer model, run on pose clips (the full :class:`crosstrainer.api.Assessor` path) or on
    precomputed per-second features (probes, plus Stage I/II generation over the whole clip)."""

    def __init__(self, folder: str | Path, num_threads: int | None = None) -> None:
        import torch
        from peft import PeftModel
        from safetensors.torch import load_file

        from crosstrainer.api import Assessor
        from crosstrainer.model.checkpoint import load_parts
        from crosstrainer.model.crosstrainer import CrossTrainerModel
        from crosstrainer.model.llm import load_causal_lm
        from crosstrainer.model.projector import Projector

        if num_threads:
            torch.set_num_threads(num_threads)
        self.folder = Path(folder)
        self.parts = parts = load_parts(self.folder)
        m = parts.manifest
        llm, tok = load_causal_lm(m.llm)
        try:
            llm = PeftModel.from_pretrained(llm, str(self.folder / "adapter")).merge_and_unload()
        except (ValueError, RuntimeError, KeyError) as exc:
            why = str(exc).splitlines()[0]
            raise ModelError(f"{self.folder}: the LoRA adapter does not fit {m.llm} ({why})") from exc
        dims = m.projector
        projector = Projector(dims["in_dim"], dims["out_dim"], dims.get("hidden_dim"))
        try:
            projector.load_state_dict(load_file(str(self.folder / "projector.safetensors")))
        except RuntimeError as exc:
            raise ModelError(f"{self.folder}: projector weights do not match the manifest") from exc
        self.model = CrossTrainerModel(llm, tok, projector.eval(), max_video_tokens=m.max_video_tokens)
        self.model.eval()
        self.levels = list(m.levels)
        self.assessor = Assessor(self.model, parts)
        self.pose_ok = m.encoder.get("name") == self.assessor.encoder.name and str(m.encoder.get("version")) == str(
            self.assessor.encoder.version
        )

    def predict(self, sample: Sample, feats: np.ndarray, generate: bool) -> dict[str, Any]:
        """Probe outputs from ``feats`` (the sample's per-second encoder features); with ``generate``, the
        LLM's Stage-I attributes, stated level and feedback too."""
        import torch

        m, vocab = self.parts.manifest, self.parts.vocabulary
        if feats.shape[1] != m.projector["in_dim"]:
            dim = m.projector["in_dim"]
            raise ModelError(f"{self.folder}: expects {dim}-d features, {sample.id} has {feats.shape[1]}")
        with torch.inference_mode():
            proj = self.model.project(feats).float().cpu().numpy()
        probe = self.parts.proficiency_probe
        pooled = proj.mean(0, keepdims=True)
        probs = probe.predict_proba(pooled)[0]
        logits = (pooled.astype(np.float64) @ probe.weight.T.astype(np.float64) + probe.bias)[0]
        attr_p = self.parts.attribute_probe.predict_proba(proj).mean(0)
        out: dict[str, Any] = {
            "level": self.levels[int(np.argmax(probs))],
            "probs": [float(p) for p in probs],
            "logits": [float(v) for v in logits],  # AUROC ranks by these: saturated probabilities tie
            "attributes_probe": [n for n, p in zip(vocab.names, attr_p, strict=True) if p >= m.attribute_threshold],
        }
        if not generate:
            return out
        if sample.pose is not None:
            if not self.pose_ok:
                enc = m.encoder.get("name")
                raise ModelError(f"{self.folder}: model encoder {enc} cannot read pose clip {sample.id}")
            a = self.assessor.assess_pose(sample.pose, path=sample.id, sport=sample.sport, generate=True).assessment
            out.update(
                llm_level=a.proficiency.llm_level,
                attributes=[x.name for x in a.attributes],
                feedback=" ".join(a.feedback),
                llm_text=a.llm_text,
            )
            return out
        from crosstrainer.model import prompts
        from crosstrainer.model.crosstrainer import Turn

        with torch.inference_mode():
            ((s1, _),) = self.model.generate([Turn(feats, prompts.stage1_user(sample.sport))], max_new_tokens=24)
            names = prompts.parse_attributes(s1)
            attrs = list(dict.fromkeys((vocab.get(a).name if vocab.get(a) else a) for a in names))
            ((s2, _),) = self.model.generate([Turn(feats, prompts.stage2_user(sample.sport, attrs))], max_new_tokens=80)
        level, feedback = prompts.parse_stage2(s2, self.levels)
        out.update(llm_level=level, attributes=attrs, feedback=" ".join(feedback), llm_text=s2)
        return out


def _fingerprint(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def train_split_model(
    cfg: Any,
    train: list[Sample],
    folder: Path,
    levels: list[str],
    fingerprint: str,
    progress: Any = None,
    log: Log = print,
) -> Path:
    """Train one model through the recipe (skipped when ``folder`` holds one trained for ``fingerprint``)."""
    from crosstrainer.data.exercise_labels import default_vocabulary
    from crosstrainer.training.features import FeatureProvider
    from crosstrainer.training.recipe import Trainer, vocabulary_from_samples

    manifest = folder / "model.json"
    if manifest.is_file():
        trained = json.loads(manifest.read_text(encoding="utf-8")).get("train", {})
        if trained.get("eval_fingerprint") == fingerprint:
            log(f"  {folder.name}: already trained, reusing it")
            return folder
    work = folder.with_name(f".{folder.name}-work")
    stamp = work / "eval_fingerprint.txt"
    if work.exists() and (not stamp.is_file() or stamp.read_text().strip() != fingerprint):
        shutil.rmtree(work)  # a checkpoint of another split or config: never resume from it
    work.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)
    vocab = vocabulary_from_samples(train, base=default_vocabulary())
    if not vocab.attributes:  # no annotated attributes (run `crosstrainer discover` first); a saved model needs some
        log("  note: no training clip has skill-attributes; the model keeps the default exercise vocabulary")
        vocab = default_vocabulary()
    trainer = Trainer(
        cfg,
        train,
        work,
        provider=FeatureProvider(cfg.encoder, augment=cfg.augment),
        levels=levels,
        vocabulary=vocab,
        log=log,
    )
    report = trainer.fit(progress)
    info = {
        "eval_fingerprint": fingerprint,
        "stages": report,
        "n_train": len(train),
        "train_ids": [s.id for s in train],
    }
    card = f"# {cfg.name} (evaluation split model)\n\nTrained by `crosstrainer evaluate` on {len(train)} clips.\n"
    trainer.save(folder, metrics={}, model_card=card, train_info=info)
    shutil.rmtree(work, ignore_errors=True)
    return folder


# ------------------------------------------------------------------------------------------------ one split


def run_split(
    split: Split,
    by_id: dict[str, Sample],
    levels: list[str],
    opts: EvalOptions,
    split_dir: Path,
    raw: bl.RawFeatures,
    progress: Any = None,
    log: Log = print,
) -> dict[str, Any]:
    """Train and predict one split (or reload its finished predictions); returns the predictions record."""
    from crosstrainer.evaluation.metrics import frequent_attribute_sets
    from crosstrainer.training.config import TrainConfig

    split_dir.mkdir(parents=True, exist_ok=True)
    base_cfg = TrainConfig.load(opts.config, list(opts.overrides))
    train_cfg = dataclasses.replace(base_cfg, seed=split.seed)
    if opts.num_threads:
        train_cfg = dataclasses.replace(train_cfg, num_threads=opts.num_threads)
    model_fp = _fingerprint({"split": split.to_dict(), "config": train_cfg.to_dict(), "version": __version__})
    fp = _fingerprint(
        {
            "model": model_fp,
            "model_dir": str(opts.model_dir or ""),
            "no_llm": opts.no_llm,
            "e2e": opts.e2e and opts.model_dir is None,
            "levels": levels,
        }
    )
    pred_path = split_dir / "predictions.json"
    if pred_path.is_file():
        done = json.loads(pred_path.read_text(encoding="utf-8"))
        if done.get("fingerprint") == fp:
            log(f"{split.id}: finished earlier, reusing {pred_path}")
            return done
    _write_json(split_dir / "split.json", split.to_dict())
    train = [by_id[i] for i in split.train_ids]
    test = [by_id[i] for i in split.test_ids]
    log(f"{split.id}: {len(train)} training clips ({', '.join(split.train_sports)}), {len(test)} test clips")

    systems: dict[str, dict[str, Any]] = {}
    fitted = bl.RawBaselines.fit([raw(s) for s in train], train, levels, seed=split.seed)
    for s in test:
        for name, pred in fitted.predict(raw(s)).items():
            systems.setdefault(name, {})[s.id] = pred
    refs = [r for r in (bl.reference_attributes(s) for s in train) if r is not None]
    if refs:
        frequent = frequent_attribute_sets(refs, 1)[0]
        systems[bl.FREQUENT] = {s.id: {"attributes": frequent} for s in test}

    models: list[tuple[str, Path]] = []
    if opts.model_dir is not None:
        models.append((MODEL, Path(opts.model_dir)))
    else:
        folder = train_split_model(train_cfg, train, split_dir / "model", levels, model_fp, progress, log)
        models.append((MODEL, folder))
        if opts.e2e:
            e2e_cfg = dataclasses.replace(train_cfg, two_stage=False)
            e2e_fp = _fingerprint({"model": model_fp, "two_stage": False})
            folder = train_split_model(e2e_cfg, train, split_dir / "model_e2e", levels, e2e_fp, progress, log)
            models.append((E2E, folder))
    for name, folder in models:
        runner = ModelRunner(folder, opts.num_threads)
        if set(runner.levels) != set(levels):
            raise ModelError(f"{folder}: model levels {runner.levels} differ from the data's levels {levels}")
        task = progress.add_task(f"{split.id}: {name}", total=len(test)) if progress else None
        preds = {}
        for s in test:
            preds[s.id] = runner.predict(s, raw.per_second(s).astype(np.float32), generate=not opts.no_llm)
            if task is not None:
                progress.update(task, advance=1)
        systems[name] = preds
    record = {
        "fingerprint": fp,
        "split": split.to_dict(),
        "levels": levels,
        "systems": systems,
        "models": {name: str(folder) for name, folder in models},
    }
    _write_json(pred_path, record)
    return record


# ------------------------------------------------------------------------------------------------ scoring


def _ci_cell(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {k: row.get(k) for k in ("value", "low", "high")}


def _verdict(row: dict[str, Any] | None, baseline: float | None) -> str:
    if row is None or baseline is None or row.get("value") is None:
        return "-"
    if row.get("low") is not None and row["low"] > baseline:
        return "above"
    if row.get("high") is not None and row["high"] < baseline:
        return "below"
    return "within CI"


def split_label(split: Split, n_seeds: int) -> str:
    if split.protocol == "intra":
        label = "intra"
    else:
        label = f"held out {' + '.join(split.heldout)}"
        if split.protocol == "few-shot":
            label += f" ({len(split.shot_ids)} shots)"
    return f"{label} (seed {split.seed})" if n_seeds > 1 else label


def score(
    records: list[dict[str, Any]], by_id: dict[str, Sample], cfg: ProtocolConfig, opts: EvalOptions, plot_dir: Path
) -> tuple[dict[str, Any], dict[str, Path], dict[str, Any]]:
    """All tables, plots and details of a run from the splits' prediction records."""
    from crosstrainer.evaluation.bootstrap import accuracy, bootstrap_ci
    from crosstrainer.evaluation.metrics import attribute_metrics, feedback_metrics, proficiency_metrics
    from crosstrainer.evaluation.plots import plot_bars, plot_confusion, plot_transfer_heatmap
    from crosstrainer.evaluation.report import with_baselines

    boot = {"n_boot": opts.n_boot, "seed": 0}
    trainable_sports = {s.sport for s in by_id.values() if s.source not in cfg.eval_only_sources and s.sport}
    n_seeds = len({r["split"]["seed"] for r in records})
    acc_unseen, acc_seen, f1_rows, auroc_rows, attr_rows = {}, {}, {}, {}, {}
    feedback: dict[str, Any] = {}
    details: dict[str, Any] = {}
    heat: dict[str, dict[str, dict[str, float | None]]] = {MODEL: {}, bl.LINEAR: {}}
    bars: dict[str, tuple[float, float, float]] = {}
    bar_base: dict[str, float] = {}
    cm_true: list[str] = []
    cm_pred: list[str] = []
    levels: list[str] = records[0]["levels"] if records else []
    for rec in records:
        split = Split(**rec["split"])
        label = split_label(split, n_seeds)
        systems = rec["systems"]
        y_train = [by_id[i].proficiency for i in split.train_ids if by_id[i].proficiency in levels]
        groups: dict[str, list[Sample]] = {}
        for i in split.test_ids:
            s = by_id[i]
            groups.setdefault(report_group(s, cfg.eval_only_sources, trainable_sports), []).append(s)
        row_name = " + ".join(split.train_sports)
        unseen_fb: dict[str, list[Sample]] = {"unseen sports": [], "sports seen in training": []}
        for group, items in sorted(groups.items()):
            sport = items[0].sport
            seen = (
                "few-shot"
                if sport in split.heldout and split.shot_ids
                else ("yes" if sport in split.train_sports else "no")
            )
            key = f"{label} | test: {group}"
            y_true = [s.proficiency for s in items]
            rows: dict[str, Any] = {}
            for name in LEVEL_SYSTEMS:
                if name not in systems:
                    continue
                preds = [systems[name][s.id] for s in items]
                y_pred = [p.get("level") or levels[0] for p in preds]
                scores = None
                if len(levels) == 2:  # score of levels[1]: logit margin when known (probabilities saturate)
                    scores = np.array(
                        [p["logits"][1] - p["logits"][0] if "logits" in p else p["probs"][1] for p in preds]
                    )
                g = proficiency_metrics(y_true, y_pred, levels, y_train=y_train, scores=scores, **boot)
                rows[name] = g
                details.setdefault(key, {})[name] = g.to_dict()
                if name == MODEL and seen == "no":
                    cm_true += y_true
                    cm_pred += y_pred
            if MODEL in systems and not opts.no_llm and any("llm_level" in systems[MODEL][s.id] for s in items):
                yl = np.array([systems[MODEL][s.id].get("llm_level") or "" for s in items])
                ci = bootstrap_ci(accuracy, np.array(y_true), yl, n=opts.n_boot, seed=0)
                rows["llm"] = {
                    "value": round(100 * ci.point, 2),
                    "low": round(100 * ci.low, 2) if np.isfinite(ci.low) else None,
                    "high": round(100 * ci.high, 2) if np.isfinite(ci.high) else None,
                }
            base = rows[bl.LINEAR].rows["accuracy"]["baselines"] if bl.LINEAR in rows else {}
            acc = {n: _ci_cell(g.rows.get("accuracy")) for n, g in rows.items() if n != "llm"}
            table_row: dict[str, Any] = {"n": len(items), "sport in training": seen}
            table_row[f"{MODEL} (probe)"] = acc.get(MODEL)
            if "llm" in rows:
                table_row[f"{MODEL} (LLM-stated level)"] = rows["llm"]
            if E2E in acc:
                table_row[f"{E2E} (probe)"] = acc[E2E]
            table_row[bl.LINEAR] = acc.get(bl.LINEAR)
            table_row[bl.NN] = acc.get(bl.NN)
            table_row["majority"] = base.get("majority")
            table_row["random"] = base.get("random")
            table_row[f"{MODEL} vs majority"] = _verdict(acc.get(MODEL), base.get("majority"))
            table_row[f"{bl.LINEAR} vs majority"] = _verdict(acc.get(bl.LINEAR), base.get("majority"))
            (acc_unseen if seen != "yes" else acc_seen)[key] = table_row
            for metric, target in (("macro-F1", f1_rows), ("AUROC", auroc_rows)):
                mrow: dict[str, Any] = {"n": len(items), "sport in training": seen}
                for name, g in rows.items():
                    if name != "llm" and metric in g.rows:
                        mrow[name] = _ci_cell(g.rows[metric])
                if metric == "macro-F1":
                    mrow["majority"] = rows[bl.LINEAR].rows[metric]["baselines"].get("majority")
                mrow["random"] = (
                    rows[bl.LINEAR].rows[metric]["baselines"].get("random") if metric in rows[bl.LINEAR].rows else None
                )
                target[key] = mrow
            for name, cells in heat.items():
                if name in rows:
                    cells.setdefault(row_name, {})[group] = rows[name].rows["accuracy"]["value"]
            if seen != "yes" and MODEL in rows:
                bar_key = group if split.protocol != "intra" and n_seeds == 1 and len(split.heldout) == 1 else key
                a = rows[MODEL].rows["accuracy"]
                bars[bar_key] = (
                    a["value"],
                    a["low"] if a["low"] is not None else np.nan,
                    a["high"] if a["high"] is not None else np.nan,
                )
                bar_base[bar_key] = base.get("majority")
            # skill-attributes: only groups whose every clip is annotated (in gym_vn only the correct clips are,
            # with an empty set, and scoring that subset would reward predicting nothing)
            annotated = [s for s in items if bl.reference_attributes(s) is not None]
            if annotated and len(annotated) == len(items):
                refs = [bl.reference_attributes(s) or [] for s in annotated]
                arow: dict[str, Any] = {"n": len(annotated), "sport in training": seen}
                for name, field_, title in (
                    (MODEL, "attributes", f"{MODEL} (Stage I LLM)"),
                    (MODEL, "attributes_probe", f"{MODEL} (attribute probe)"),
                    (E2E, "attributes", f"{E2E} (Stage I LLM)"),
                    (bl.KNN_ATTR, "attributes", bl.KNN_ATTR),
                    (bl.NN, "attributes", bl.NN),
                    (bl.FREQUENT, "attributes", bl.FREQUENT),
                ):
                    if name not in systems or field_ not in systems[name][annotated[0].id]:
                        continue
                    g = attribute_metrics([systems[name][s.id][field_] for s in annotated], refs, **boot)
                    arow[title] = _ci_cell(g.rows["IoU@0.7"])
                    details.setdefault(key, {})[f"attributes: {title}"] = {"rows": g.rows}
                attr_rows[key] = arow
            unseen_fb["unseen sports" if seen != "yes" else "sports seen in training"] += items
        # feedback text (only when the LLM generated it): pooled per split over unseen / seen sports
        if not opts.no_llm and MODEL in systems:
            for part, items in unseen_fb.items():
                items = [s for s in items if bl.reference_feedback(s)]
                if not items or "feedback" not in systems[MODEL][items[0].id]:
                    continue
                refs_fb = [bl.reference_feedback(s) for s in items]
                groups_fb = {}
                for name in (MODEL, E2E, bl.NN):
                    if name in systems:
                        groups_fb[name] = feedback_metrics(
                            [systems[name][s.id].get("feedback", "") for s in items],
                            refs_fb,
                            tokenizer=opts.tokenizer,
                            meteor=opts.meteor,
                            **boot,
                        )
                main = groups_fb.pop(MODEL)
                section = with_baselines(main.rows, **{n: g for n, g in groups_fb.items()})
                feedback[f"{label}, {part} (n={len(items)})"] = section
                details.setdefault(f"{label} feedback {part}", {})["info"] = main.info

    metrics: dict[str, Any] = {}
    if acc_unseen:
        metrics["Proficiency accuracy: sports the model never trained on (transfer)"] = acc_unseen
    if acc_seen:
        metrics["Proficiency accuracy: sports seen in training (held-out clips)"] = acc_seen
    if f1_rows:
        metrics["Proficiency macro-F1"] = f1_rows
    if auroc_rows and any(len(r) > 3 for r in auroc_rows.values()):
        metrics["Proficiency AUROC (score of the better level)"] = auroc_rows
    if attr_rows:
        metrics["Skill-attributes IoU@0.7"] = attr_rows
    if feedback:
        metrics["Feedback text"] = feedback
    plots: dict[str, Path] = {}
    if cm_true:
        counts = np.zeros((len(levels), len(levels)), int)
        for t, p in zip(cm_true, cm_pred, strict=True):
            counts[levels.index(t), levels.index(p)] += 1
        metrics[f"Confusion matrix ({MODEL} probe, sports never trained on)"] = {
            "labels": levels,
            "counts": counts.tolist(),
        }
        plots["confusion matrix"] = plot_confusion(
            counts, levels, plot_dir / "confusion.png", title=f"{MODEL} probe, unseen sports"
        )
    if bars:
        plots["accuracy per held-out sport"] = plot_bars(
            bars,
            plot_dir / "per_sport.png",
            baseline=bar_base,
            baseline_label="majority",
            ylabel="accuracy (%)",
            title=f"{MODEL} probe on sports never trained on",
            ylim=(0, 105),
        )
    for name, cells in heat.items():
        if cells:
            cols = sorted({c for r in cells.values() for c in r})
            rows_ = list(cells)
            matrix = [[cells[r].get(c) for c in cols] for r in rows_]
            slug = "transfer_model" if name == MODEL else "transfer_linear_probe"
            plots[f"transfer heatmap: {name}"] = plot_transfer_heatmap(
                matrix,
                [f"trained on {r}" for r in rows_],
                cols,
                plot_dir / f"{slug}.png",
                title=f"Accuracy of {name} (rows: training sports)",
            )
    return metrics, plots, details


# ------------------------------------------------------------------------------------------------ the whole run


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
    num_threads: int | None = None,
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
    runner = ModelRunner(model_dir, num_threads)
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
    _write_json(path, data)
    info = {
        "path": str(path),
        "videos": len(videos),
        "exo": f"from {exo_features}" if exo_features else "same as ego (no --exo-features given)",
    }
    log(f"wrote Ego-Exo4D submission for {len(videos)} takes to {path} (exo predictions: {info['exo']})")
    return info


def run_evaluation(
    samples: list[Sample],
    protocol: ProtocolConfig | None,
    opts: EvalOptions,
    out: str | Path,
    progress: Any = None,
    log: Log = print,
    export: Path | None = None,
    exo_features: Path | None = None,
    data_specs: list[str] | None = None,
) -> dict[str, Any]:
    """Run ``protocol`` (None: no protocol, e.g. only the submission export) and write the run folder."""
    from crosstrainer.evaluation.report import write_run

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if opts.model_dir is not None and not (Path(opts.model_dir) / "model.json").is_file():
        raise ModelError(f"not a CrossTrainer model folder (no model.json): {opts.model_dir}")
    by_id = {s.id: s for s in samples}
    if len(by_id) != len(samples):
        raise UsageError("sample ids are not unique across --data: load each dataset once")
    encoder = "pose"
    if opts.model_dir is None:
        from crosstrainer.training.config import TrainConfig

        encoder = TrainConfig.load(opts.config, list(opts.overrides)).encoder
    raw = bl.RawFeatures(encoder)
    records: list[dict[str, Any]] = []
    splits: list[Split] = []
    labelled = [s for s in samples if s.proficiency]
    if protocol is not None:
        if not labelled:
            raise UsageError("no sample has a proficiency label: nothing to evaluate (use --protocol none to export)")
        splits = make_splits(labelled, protocol, log=log)
        if not splits:
            raise UsageError("the protocol produced no split that can be trained (see the notes above)")
        levels = levels_for(labelled)
        task = progress.add_task("splits", total=len(splits)) if progress else None
        for split in splits:
            split_dir = out / "splits" / split.folder_name
            records.append(run_split(split, by_id, levels, opts, split_dir, raw, progress, log))
            if task is not None:
                progress.update(task, advance=1)
    metrics: dict[str, Any] = {}
    plots: dict[str, Path] = {}
    details: dict[str, Any] = {}
    if records:
        metrics, plots, details = score(records, by_id, protocol, opts, out / "plots")
    export_info = None
    if export is not None:
        if opts.model_dir is None:
            raise UsageError("--export-egoexo-submission needs --model DIR (the model whose predictions are exported)")
        export_info = export_egoexo(samples, Path(opts.model_dir), export, raw, exo_features, opts.num_threads, log)
    summary = _summary(protocol, opts, splits, samples, data_specs, export_info)
    metrics = {"Summary": summary, **metrics}
    if splits:
        metrics["Splits"] = {
            split_label(sp, len(protocol.seeds)): {
                "trained on": ", ".join(sp.train_sports),
                "train clips": len(sp.train_ids),
                "test clips": len(sp.test_ids),
                "few-shot clips": len(sp.shot_ids),
            }
            for sp in splits
        }
    metrics["_details"] = details
    config = {
        "protocol": protocol.to_dict() if protocol else None,
        "options": dataclasses.asdict(opts),
        "data": data_specs or [],
        "command": opts.command,
        "crosstrainer": __version__,
    }
    write_run(out, metrics, plots, config, title="CrossTrainer evaluation")
    return {"metrics": metrics, "plots": plots, "records": records, "export": export_info}


def _summary(
    protocol: ProtocolConfig | None,
    opts: EvalOptions,
    splits: list[Split],
    samples: list[Sample],
    data_specs: list[str] | None,
    export_info: dict[str, Any] | None,
) -> str:
    parts = []
    if opts.command:
        parts.append(f"Command: `{opts.command}`.")
    parts.append(f"Data: {', '.join(data_specs or []) or 'given samples'} ({len(samples)} clips).")
    if protocol is None:
        parts.append("No protocol was run.")
    else:
        parts.append(
            f"Protocol {protocol.protocol}: {len(splits)} split(s), seeds {protocol.seeds}; clips of "
            f"{', '.join(protocol.eval_only_sources) or 'no source'} are never trained on."
        )
        if opts.model_dir:
            parts.append(
                f"Model: the given model {opts.model_dir} in every split (nothing trained; if it saw some "
                "test clips in training, its numbers are optimistic); no w/o two-stage baseline."
            )
        else:
            over = f" with {', '.join(opts.overrides)}" if opts.overrides else ""
            parts.append(
                f"Models: one two-stage CrossTrainer model per split, config `{opts.config}`{over}"
                + ("; plus the w/o two-stage baseline (two_stage=false)." if opts.e2e else ".")
            )
        parts.append(
            "LLM generation was skipped (--no-llm): proficiency comes from the probe on the projected "
            "features, attributes from the per-second attribute probe; no feedback text was scored."
            if opts.no_llm
            else "The LLM generated Stage-I attributes, the stated level and feedback."
        )
        parts.append(
            "Baselines: majority class (most frequent training label), random (uniform), linear probe on "
            "the raw mean-pooled encoder features, 1-NN retrieval in raw-feature space (its level, "
            "attributes and feedback), kNN attribute retrieval (closed set), frequent attributes. "
            "'vs majority' says whether the 95% CI lies above, below or around the majority baseline."
        )
    if export_info:
        parts.append(
            f"Ego-Exo4D submission: {export_info['videos']} takes written to {export_info['path']}; "
            f"exo predictions {export_info['exo']}."
        )
    return " ".join(parts)
