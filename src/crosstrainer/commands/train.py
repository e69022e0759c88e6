"""``crosstrainer train``: the training recipes.

    crosstrainer train default --data ../shared/data --out src/crosstrainer/models/default
    crosstrainer train run --config embedded --data exercise_correction:../shared/data --out runs/m1
    crosstrainer train stage1 --config research --data egoexo:/data/egoexo?split=train --features feats/ --out runs/s1
    crosstrainer train run --config tiny --data synthetic:16 --out runs/tiny --set encoder=precomputed   # smoke test
    crosstrainer train run --data samples:disc.samples.jsonl --vocabulary vocab.json --out runs/m2  # after discover
    accelerate launch --num_processes 2 --cpu -m crosstrainer train run --config tiny ...   # several processes / GPUs

Checkpoints and ``metrics.jsonl`` go to ``--work-dir`` (default ``.<out name>-work`` beside ``--out``); rerunning
the same command resumes from the last checkpoint there.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

train_app = typer.Typer(help="Train CrossTrainer models (two-stage recipe, resumable).", no_args_is_help=True)


def _progress():
    """A rich progress bar, shown by the main process only (``RANK`` 0 under accelerate/torchrun)."""
    import os

    from crosstrainer.progress import progress_bar

    return progress_bar(disable=int(os.environ.get("RANK", "0")) != 0)


def _fields_help() -> str:
    """Every training field with its type, default and documentation, for ``--help`` (litgpt style)."""
    from crosstrainer.training.config import TrainConfig

    return "Config fields (--set key=value):\n\n\b\n" + TrainConfig.help_text()


_FIELDS_HELP = _fields_help()


@train_app.command("default", epilog=_FIELDS_HELP)
def default(
    data: Path | None = typer.Option(
        None,
        help="Folder holding exercise_correction/, ui_prmd/ (and gym_exercise_correction_vn/ for transfer), e.g. "
        "../shared/data. Required unless --card-only.",
    ),
    out: Path = typer.Option(..., help="Model folder to write (the shipped one: src/crosstrainer/models/default)."),
    config: str = typer.Option("embedded", help="Preset name or YAML path."),
    set_: list[str] = typer.Option([], "--set", help="Override a config field: key=value (repeatable)."),
    work_dir: Path | None = typer.Option(None, help="Checkpoints and logs (default .<out>-work); rerun resumes."),
    transfer_run: Path | None = typer.Option(
        None, help="A finished leave-one-movement-out `crosstrainer evaluate` run: its table goes into the card."
    ),
    card_only: bool = typer.Option(
        False, "--card-only", help="Only rewrite MODEL_CARD.md of --out from its model.json (nothing retrained)."
    ),
) -> None:
    """Retrain the embedded default model on exercise_correction + UI-PRMD, evaluate it, write its model card."""
    from rich.console import Console

    from crosstrainer.commands import use_threads
    from crosstrainer.training.config import TrainConfig
    from crosstrainer.training.default_model import rewrite_card, train_default

    if card_only:
        Console(stderr=True).print(f"[green]wrote[/] {rewrite_card(out, transfer_run)}")
        return
    if data is None:
        from crosstrainer.errors import UsageError

        raise UsageError("train default needs --data (e.g. --data ../shared/data)")
    cfg = TrainConfig.load(config, set_)
    use_threads(cfg.num_threads)
    console = Console(stderr=True)
    command = "crosstrainer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with _progress() as progress:
        result = train_default(
            data, out, cfg, work_dir, command=command, progress=progress, log=console.print, transfer_run=transfer_run
        )
    h = result["metrics"]["heldout"]["verdict"]
    console.print(
        f"[green]saved[/] {out}  held-out probe accuracy {h['accuracy']:.3f} "
        f"(majority {h['majority_accuracy']:.3f}); see {out / 'MODEL_CARD.md'}"
    )


def _run(
    stage: str,
    config: str,
    data: str,
    out: Path,
    features: Path | None,
    set_: list[str],
    work_dir: Path | None,
    vocabulary: Path | None = None,
) -> None:
    from rich.console import Console

    from crosstrainer.attributes.vocabulary import Vocabulary
    from crosstrainer.commands import use_threads
    from crosstrainer.data.registry import load_samples
    from crosstrainer.training.config import TrainConfig
    from crosstrainer.training.recipe import canonicalize_attributes, recipe_main, vocabulary_from_samples

    overrides = list(set_) + (["two_stage=false"] if stage == "e2e" else [])
    cfg = TrainConfig.load(config, overrides)
    use_threads(cfg.num_threads)
    console = Console(stderr=True)
    samples = load_samples(data)
    samples = [s for s in samples if s.split in (None, "train")] or samples
    vocab = None
    if vocabulary is not None:  # e.g. written by `crosstrainer discover`: its names and synonyms are canonical
        base = Vocabulary.load(vocabulary)
        samples = canonicalize_attributes(samples, base)
        vocab = vocabulary_from_samples(samples, base=base)
    command = "crosstrainer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    info = {"command": command, "data": data, "vocabulary": str(vocabulary) if vocabulary else None}
    card = f"# {cfg.name}\n\nTrained by `{command}` on {len(samples)} samples from `{data}`, seed {cfg.seed}.\n"
    with _progress() as progress:
        result = recipe_main(
            cfg,
            samples,
            out,
            vocab,
            work_dir=work_dir,
            feature_cache=features,
            stages="stage1" if stage == "stage1" else "all",
            train_info=info,
            model_card=lambda i: card + f"\nStages: {i['stages']}\n",
            progress=progress,
            log=console.print,
        )
    if result["main_process"]:
        console.print(f"[green]saved[/] {out}")


# Options shared by run / stage1 / stage2 / e2e.
_DATA = typer.Option(..., help="Dataset spec: egoexo:/data/egoexo?split=train, samples:FILE, synthetic:16 ...")
_OUT = typer.Option(..., help="Model folder to write.")
_CONFIG = typer.Option("embedded", help="Preset name (embedded, research, tiny) or YAML path.")
_FEATURES = typer.Option(None, help="Feature cache written by `crosstrainer extract`.")
_SET = typer.Option([], "--set", help="Override a config field: key=value (repeatable).")
_WORK = typer.Option(None, help="Checkpoints and metrics.jsonl (default .<out>-work); rerun to resume.")
_VOCAB = typer.Option(None, help="Vocabulary file (crosstrainer discover --out): attribute names and synonyms.")


def _recipe_command(stage: str, doc: str):
    """One ``crosstrainer train <verb>``: the verbs differ only in which stages they run."""

    def command(
        data: str = _DATA,
        out: Path = _OUT,
        config: str = _CONFIG,
        features: Path | None = _FEATURES,
        set_: list[str] = _SET,
        work_dir: Path | None = _WORK,
        vocabulary: Path | None = _VOCAB,
    ) -> None:
        _run(stage, config, data, out, features, set_, work_dir, vocabulary)

    command.__doc__ = doc
    return command


for _verb, _stage, _doc in (
    ("run", "both", "Stage I then Stage II (the full two-stage recipe)."),
    ("stage1", "stage1", "Stage I only: projector + LoRA learn to generate the attributes of each commentary window."),
    ("stage2", "both", "Stage I (resumed if already done in --work-dir) then Stage II with the proficiency probe."),
    ("e2e", "e2e", 'Stage II only from scratch: the paper\'s "w/o two-stage" ablation.'),
):
    train_app.command(_verb, epilog=_FIELDS_HELP)(_recipe_command(_stage, _doc))


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
