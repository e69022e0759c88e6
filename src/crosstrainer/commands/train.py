"""``crosstrainer train``: the training recipes.

    crosstrainer train default --data ../shared/data --out src/crosstrainer/models/default
    crosstrainer train run --config embedded --data exercise_correction:../shared/data --out runs/m1
    crosstrainer train stage1 --config research --data egoexo:/data/egoexo?split=train --features feats/ --out runs/s1
    accelerate launch --num_processes 2 -m crosstrainer train run --config tiny ...   # several processes / GPUs
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

train_app = typer.Typer(help="Train CrossTrainer models (two-stage recipe, resumable).", no_args_is_help=True)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


@train_app.command("default")
def default(
    data: Path = typer.Option(Path("../shared/data"), help="Folder holding exercise_correction/ (and gym_exercise_correction_vn/ for transfer)."),
    out: Path = typer.Option(Path("src/crosstrainer/models/default"), help="Model folder to write."),
    config: str = typer.Option("embedded", help="Preset name or YAML path."),
    set_: list[str] = typer.Option([], "--set", help="Override a config field: key=value (repeatable)."),
    work_dir: Path | None = typer.Option(None, help="Checkpoints and logs (default: next to --out); rerun to resume."),
) -> None:
    """Retrain the embedded default model on exercise_correction, evaluate it, write its model card."""
    from rich.console import Console

    from crosstrainer.training.config import TrainConfig
    from crosstrainer.training.default_model import train_default

    cfg = TrainConfig.load(config, set_)
    console = Console(stderr=True)
    command = "crosstrainer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with _progress() as progress:
        result = train_default(data, out, cfg, work_dir, command=command, progress=progress, log=console.print)
    h = result["metrics"]["heldout"]["proficiency_probe"]
    console.print(f"[green]saved[/] {out}  held-out probe accuracy {h['accuracy']:.3f} "
                  f"(majority {h['majority_accuracy']:.3f}); see {out / 'MODEL_CARD.md'}")


def _run(stage: str, config: str, data: str, out: Path, features: Path | None, set_: list[str],
         work_dir: Path | None) -> None:
    from rich.console import Console

    from crosstrainer.data.registry import load_samples
    from crosstrainer.training.config import TrainConfig
    from crosstrainer.training.features import FeatureProvider
    from crosstrainer.training.recipe import Trainer

    overrides = list(set_)
    if stage == "e2e":
        overrides.append("two_stage=false")
    cfg = TrainConfig.load(config, overrides)
    console = Console(stderr=True)
    samples = load_samples(data)
    samples = [s for s in samples if s.split in (None, "train")] or samples
    provider = FeatureProvider(cfg.encoder, feature_cache=features, augment=cfg.augment)
    work = work_dir or out.parent / f".{out.name}-work"
    trainer = Trainer(cfg, samples, work, provider=provider, log=console.print)
    with _progress() as progress:
        if stage == "stage1":
            stage1, _ = __import__("crosstrainer.training.recipe", fromlist=["build_items"]).build_items(samples, cfg)
            report = {"stage1": trainer.run_stage(1, stage1, [], progress)}
            trainer.proficiency_probe, trainer.attribute_probe = trainer.fit_probes()
        else:
            report = trainer.fit(progress)
    if trainer.acc.is_main_process:
        command = "crosstrainer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        info = {"command": command, "stages": report, "data": data, "n_samples": len(samples)}
        card = (f"# {cfg.name}\n\nTrained by `{command}` on {len(samples)} samples from `{data}`, seed {cfg.seed}.\n\n"
                f"Stages: {report}\n")
        trainer.save(out, metrics={"train": report}, model_card=card, train_info=info)
        console.print(f"[green]saved[/] {out}")


@train_app.command("run")
def run(
    data: str = typer.Option(..., help="Dataset spec, e.g. exercise_correction:../shared/data or egoexo:/data/egoexo"),
    out: Path = typer.Option(..., help="Model folder to write."),
    config: str = typer.Option("embedded", help="Preset name (embedded, research, tiny) or YAML path."),
    features: Path | None = typer.Option(None, help="Feature cache written by `crosstrainer extract`."),
    set_: list[str] = typer.Option([], "--set", help="Override a config field: key=value (repeatable)."),
    work_dir: Path | None = typer.Option(None, help="Checkpoints and metrics.jsonl; rerun to resume."),
) -> None:
    """Stage I then Stage II (the full two-stage recipe)."""
    _run("both", config, data, out, features, set_, work_dir)


@train_app.command("stage1")
def stage1(
    data: str = typer.Option(...), out: Path = typer.Option(...), config: str = typer.Option("embedded"),
    features: Path | None = typer.Option(None), set_: list[str] = typer.Option([], "--set"),
    work_dir: Path | None = typer.Option(None),
) -> None:
    """Stage I only: projector + LoRA learn to generate the attributes of each commentary window."""
    _run("stage1", config, data, out, features, set_, work_dir)


@train_app.command("stage2")
def stage2(
    data: str = typer.Option(...), out: Path = typer.Option(...), config: str = typer.Option("embedded"),
    features: Path | None = typer.Option(None), set_: list[str] = typer.Option([], "--set"),
    work_dir: Path | None = typer.Option(None),
) -> None:
    """Stage I (resumed if already done in --work-dir) then Stage II with the proficiency probe."""
    _run("both", config, data, out, features, set_, work_dir)


@train_app.command("e2e")
def e2e(
    data: str = typer.Option(...), out: Path = typer.Option(...), config: str = typer.Option("embedded"),
    features: Path | None = typer.Option(None), set_: list[str] = typer.Option([], "--set"),
    work_dir: Path | None = typer.Option(None),
) -> None:
    """Stage II only from scratch: the paper's "w/o two-stage" ablation."""
    _run("e2e", config, data, out, features, set_, work_dir)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
