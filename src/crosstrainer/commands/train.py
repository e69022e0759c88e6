"""``crosstrainer train``: the training recipes.

    crosstrainer train default --data ../shared/data --out src/crosstrainer/models/default
    crosstrainer train run --config embedded --data exercise_correction:../shared/data --out runs/m1
    crosstrainer train stage1 --config research --data egoexo:/data/egoexo?split=train --cache cache/ --out runs/s1
    crosstrainer train run --config research --data egoexo:/data/egoexo?split=train --features /data/egoexo/features \\
        --out runs/r1                                # per-take files <take_uid>_aria01_rgb.pt, read as they are
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


def _is_cache(folder: Path) -> bool:
    """A feature cache written by ``crosstrainer extract`` (``<encoder>/<setup>/encoder.json``)?"""
    return folder.is_dir() and any(folder.glob("*/*/encoder.json"))


def attach_features(samples: list, folder: Path, fps: float | None = None, view: str | None = None) -> dict:
    """Point every sample without keypoints or a feature file at its file in ``folder`` (``--features``: one file
    per take, ``<take_uid>_<cam>_<stream>.pt`` or ``<take_uid>.pt``, as ``evaluate`` and ``assess`` read them).
    Returns what the model's manifest records of them (``train.features``: family, rate, view), so that
    ``crosstrainer assess --features`` reads the same files the same way."""
    from crosstrainer.encoders.precomputed import PrecomputedEncoder

    enc = PrecomputedEncoder(folder, fps=fps, view=view)
    rate = fps or (enc.family.rate_hz if enc.family else None)
    for s in samples:
        if s.pose is None and not s.features:
            s.features = str(enc.input_for(s))
            if rate:  # read at this rate wherever the file is opened (the files store none)
                s.meta["features_fps"] = rate
    return {
        "folder": str(folder.resolve()),
        "tag": enc.tag,
        "family": enc.family.name if enc.family else None,
        "fps": rate,
        "view": view,
    }


def model_identity(cfg, out: Path, overrides: list[str], config: str, data: str) -> tuple[str, str]:
    """(name, version) of a model ``train run`` writes: ``--set name=``/``version=`` or the YAML file's when given;
    else the ``--out`` folder's name (never a preset's name, which is the shipped model's) and the crosstrainer
    version plus 8 hex digits of the config and data (``0.1.0+3f9a1c2e``)."""
    import hashlib
    import json

    from crosstrainer import __version__
    from crosstrainer.training.config import PRESET_DIR
    from crosstrainer.yamlio import read_yaml_mapping

    own: dict = {}
    if Path(config).suffix:  # the user's YAML file may name its model
        own = read_yaml_mapping(Path(config), "training config")
    own.update({k.split("=", 1)[0].strip(): True for k in overrides if "=" in k})
    name = cfg.name if "name" in own else out.resolve().name
    presets = {p.stem for p in PRESET_DIR.glob("*.yaml")}
    if "name" not in own and name in presets:
        name = f"{name}-model"
    digest = hashlib.sha256(json.dumps([cfg.to_dict(), data], sort_keys=True, default=str).encode()).hexdigest()[:8]
    version = cfg.version if "version" in own and cfg.version else f"{__version__}+{digest}"
    return name, version


def _run(
    stage: str,
    config: str,
    data: str,
    out: Path,
    features: Path | None,
    set_: list[str],
    work_dir: Path | None,
    vocabulary: Path | None = None,
    cache: Path | None = None,
    features_fps: float | None = None,
) -> None:
    from rich.console import Console

    from crosstrainer.attributes.vocabulary import Vocabulary
    from crosstrainer.commands import use_threads
    from crosstrainer.data.registry import load_samples
    from crosstrainer.errors import UsageError
    from crosstrainer.training.config import TrainConfig
    from crosstrainer.training.recipe import canonicalize_attributes, recipe_main, vocabulary_from_samples

    overrides = list(set_) + (["two_stage=false"] if stage == "e2e" else [])
    cfg = TrainConfig.load(config, overrides)
    use_threads(cfg.num_threads)
    console = Console(stderr=True)
    if features is not None and _is_cache(features):  # the old meaning of --features: kept, with a warning
        if cache is not None:
            raise UsageError("--features DIR is a feature cache here and --cache is given too: pass one --cache")
        console.print(
            f"[yellow]warning[/] --features {features} is a feature cache (crosstrainer extract --cache): "
            "use --cache for it; --features now means a folder of per-take feature files, as in evaluate and assess"
        )
        features, cache = None, features
    cfg.name, cfg.version = model_identity(cfg, out, overrides, config, data)
    samples = load_samples(data)
    samples = [s for s in samples if s.split in (None, "train")] or samples
    info: dict = {}
    if features is not None:
        info["features"] = attach_features(samples, features, features_fps)
    vocab = None
    if vocabulary is not None:  # e.g. written by `crosstrainer discover`: its names and synonyms are canonical
        base = Vocabulary.load(vocabulary)
        samples = canonicalize_attributes(samples, base)
        vocab = vocabulary_from_samples(samples, base=base)
    from crosstrainer import __version__

    command = "crosstrainer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    info.update(command=command, data=data, vocabulary=str(vocabulary) if vocabulary else None)
    info["crosstrainer_version"] = __version__
    card = (
        f"# {cfg.name} {cfg.version}\n\nTrained by `{command}` on {len(samples)} samples from `{data}`, "
        f"seed {cfg.seed}, config `{config}` (crosstrainer {__version__}).\n"
    )
    with _progress() as progress:
        result = recipe_main(
            cfg,
            samples,
            out,
            vocab,
            work_dir=work_dir,
            feature_cache=cache,
            stages="stage1" if stage == "stage1" else "all",
            train_info=info,
            model_card=lambda i: card + f"\nStages: {i['stages']}\n",
            progress=progress,
            log=console.print,
        )
    if result["main_process"]:
        console.print(f"[green]saved[/] {out} ({cfg.name} {cfg.version})")


# Options shared by run / stage1 / stage2 / e2e.
_DATA = typer.Option(..., help="Dataset spec: egoexo:/data/egoexo?split=train, samples:FILE, synthetic:16 ...")
_OUT = typer.Option(..., help="Model folder to write.")
_CONFIG = typer.Option("embedded", help="Preset name (embedded, research, tiny) or YAML path.")
_FEATURES = typer.Option(
    None,
    help="Folder of per-take feature files (<take_uid>_<cam>_<stream>.pt or <take_uid>.pt), as evaluate and assess "
    "read them. (A feature cache given here is read as --cache, with a warning.)",
)
_CACHE = typer.Option(None, help="Feature cache written by `crosstrainer extract --cache`.")
_FEATURES_FPS = typer.Option(
    None, help="Rows per second of the --features files when their family is not known (see docs/data.md)."
)
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
        cache: Path | None = _CACHE,
        features_fps: float | None = _FEATURES_FPS,
    ) -> None:
        _run(stage, config, data, out, features, set_, work_dir, vocabulary, cache, features_fps)

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
