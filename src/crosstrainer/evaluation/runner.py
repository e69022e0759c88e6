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
from crosstrainer.evaluation.protocols import ProtocolConfig, Split, make_splits
from crosstrainer.evaluation.scoring import score, split_label
from crosstrainer.evaluation.submission import export_egoexo
from crosstrainer.evaluation.systems import ModelRunner, System, head_prediction, levels_for
from crosstrainer.fileio import atomic_write_json, atomic_write_text

MODEL, E2E = System.MODEL.value, System.E2E.value
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
    heads_only: bool = False
    """Fit only the model's proficiency head per split (no language model): the fast transfer measurement."""
    vocabulary: Path | None = None
    """Vocabulary file (``crosstrainer discover --out``): the base vocabulary of every split model instead of the
    default exercise vocabulary."""
    n_boot: int = 1000
    tokenizer: str = "auto"
    meteor: bool | None = None
    """None: METEOR when java is on PATH."""
    command: str = ""


# ------------------------------------------------------------------------------------------------ models


def _fingerprint(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def train_split_model(
    cfg: Any,
    train: list[Sample],
    folder: Path,
    levels: list[str],
    fingerprint: str,
    progress: Any = None,
    log: Log = print,
    vocabulary: Path | None = None,
) -> Path:
    """Train one model through the recipe (skipped when ``folder`` holds one trained for ``fingerprint``).
    ``vocabulary``: a vocabulary file to start from (default: the exercise vocabulary)."""
    from crosstrainer.data.exercise_labels import default_vocabulary
    from crosstrainer.training.recipe import recipe_main, vocabulary_from_samples

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
    atomic_write_text(stamp, fingerprint)
    from crosstrainer.attributes.vocabulary import Vocabulary

    base = Vocabulary.load(vocabulary) if vocabulary is not None else default_vocabulary()
    vocab = vocabulary_from_samples(train, base=base)
    if not vocab.attributes:  # no annotated attributes (run `crosstrainer discover` first); a saved model needs some
        what = f"the vocabulary of {vocabulary}" if vocabulary is not None else "the default exercise vocabulary"
        log(f"  note: no training clip has skill-attributes; the model keeps {what}")
        vocab = base
    info = {"eval_fingerprint": fingerprint, "train_ids": [s.id for s in train]}
    # its own name and version (never the shipped model's): <preset name>-<split folder>, <crosstrainer>+<fingerprint>
    cfg = dataclasses.replace(
        cfg, name=f"{cfg.name}-{folder.parent.name}", version=cfg.version or f"{__version__}+{fingerprint[:8]}"
    )
    card = f"# {cfg.name} (evaluation split model)\n\nTrained by `crosstrainer evaluate` on {len(train)} clips.\n"
    recipe_main(
        cfg,
        train,
        folder,
        vocab,
        work_dir=work,
        levels=levels,
        train_info=info,
        model_card=card,
        progress=progress,
        log=log,
    )
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
    model_key = {"split": split.to_dict(), "config": train_cfg.to_dict(), "version": __version__}
    if opts.vocabulary is not None:
        model_key["vocabulary"] = _fingerprint(Path(opts.vocabulary).read_text(encoding="utf-8"))
    model_fp = _fingerprint(model_key)
    fp = _fingerprint(
        {
            "model": model_fp,
            "model_dir": str(opts.model_dir or ""),
            "no_llm": opts.no_llm,
            "heads_only": opts.heads_only,
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
    atomic_write_json(split_dir / "split.json", split.to_dict())
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
    if opts.heads_only:  # the model's verdict is its attribute head: fit it alone, no language model
        from crosstrainer.training.recipe import fit_head

        head, _ = fit_head(train, levels, raw.provider, seed=split.seed, log=log)
        if head is not None:
            systems[MODEL] = {s.id: head_prediction(head, raw.per_second(s), levels) for s in test}
    elif opts.model_dir is not None:
        models.append((MODEL, Path(opts.model_dir)))
    else:
        folder = train_split_model(
            train_cfg, train, split_dir / "model", levels, model_fp, progress, log, opts.vocabulary
        )
        models.append((MODEL, folder))
        if opts.e2e:
            e2e_cfg = dataclasses.replace(train_cfg, two_stage=False)
            e2e_fp = _fingerprint({"model": model_fp, "two_stage": False})
            folder = train_split_model(
                e2e_cfg, train, split_dir / "model_e2e", levels, e2e_fp, progress, log, opts.vocabulary
            )
            models.append((E2E, folder))
    for name, folder in models:
        runner = ModelRunner(folder)
        if set(runner.levels) != set(levels):
            raise ModelError(f"{folder}: model levels {runner.levels} differ from the data's levels {levels}")
        task = progress.add_task(f"{split.id}: {name}", total=len(test)) if progress else None
        preds = {}
        for s in test:
            preds[s.id] = runner.predict(s, raw.per_second(s).astype(np.float32), generate=not opts.no_llm)
            if task is not None:
                progress.update(task, advance=1)
        systems[name] = preds
        if name == MODEL and all("probe" in p for p in preds.values()):
            systems[System.PROBE.value] = {i: p.pop("probe") for i, p in preds.items()}
    record = {
        "fingerprint": fp,
        "split": split.to_dict(),
        "levels": levels,
        "systems": systems,
        "models": {name: str(folder) for name, folder in models},
    }
    atomic_write_json(pred_path, record)
    return record


# ------------------------------------------------------------------------------------------------ scoring


# ------------------------------------------------------------------------------------------------ the whole run


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
        export_info = export_egoexo(samples, Path(opts.model_dir), export, raw, exo_features, log)
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
        if protocol.subject_folds:
            parts.append(
                f"Subject-disjoint: people dealt into {protocol.subject_folds} folds; each split tests one fold's "
                "people and trains only on the others (clips without a participant id count as their own person); "
                "the folds of a held-out set are pooled in the tables, so every clip is tested once."
            )
        if opts.heads_only:
            from crosstrainer.features.provider import HEAD_VIEWS

            parts.append(
                "Model: only CrossTrainer's proficiency head (calibrated logistic regression on the kinematic "
                f"features grouped by skill-attribute; 3-D clips seen from the virtual camera(s) "
                f"{', '.join(HEAD_VIEWS)})"
                " fitted per split on its training clips; no language model (--heads-only): no attributes or feedback "
                "were scored."
            )
        elif opts.model_dir:
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
            ""
            if opts.heads_only
            else "LLM generation was skipped (--no-llm): proficiency comes from the probe on the projected "
            "features, attributes from the per-second attribute probe; no feedback text was scored."
            if opts.no_llm
            else "The LLM generated Stage-I attributes, the stated level and feedback."
        )
        parts.append(
            "Baselines: majority class (most frequent training label), random (uniform), linear probe on "
            "the raw mean-pooled encoder features, 1-NN retrieval in raw-feature space (its level, "
            "attributes and feedback), kNN attribute retrieval (closed set), frequent attributes, and the "
            "best single raw feature (with its sign and threshold) chosen on the training clips. "
            "'vs majority' says whether the 95% CI lies above, below or around the majority baseline."
        )
    if export_info:
        parts.append(
            f"Ego-Exo4D submission: {export_info['videos']} takes written to {export_info['path']}; "
            f"exo predictions {export_info['exo']}."
        )
    return " ".join(parts)
