"""``crosstrainer evaluate``: protocols (intra / zero-shot / few-shot), baselines and the run report.

    crosstrainer evaluate --data exercise_correction:../shared/data --data gym_exercise_correction_vn:../shared/data \\
        --protocol zero-shot --config embedded --out runs/eval1
    crosstrainer evaluate --data egoexo:/data/egoexo?split=test --features feats/ --model runs/m1 --protocol none \\
        --export-egoexo-submission runs/submission.json --out runs/export
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)


def _ints(text: str, what: str) -> list[int]:
    from crosstrainer.errors import UsageError

    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise UsageError(f"{what} must be comma-separated integers, got {text!r}") from None


def evaluate(
    data: list[str] = typer.Option(..., "--data", help="Dataset spec (repeatable): exercise_correction:../shared/data"),
    out: Path = typer.Option(..., help="Run folder (metrics.json, report.md, plots/, splits/); rerun to resume."),
    protocol: str = typer.Option("zero-shot", help="intra, zero-shot, few-shot, or none (no protocol: export only)."),
    protocol_config: Path | None = typer.Option(None, help="YAML with protocol settings (see docs/evaluation.md)."),
    sports: str | None = typer.Option(None, help="Comma-separated sports in play (default: all in the data)."),
    holdout: list[str] = typer.Option([], help="A held-out sport set, sports joined by '+' (repeatable)."),
    k: str | None = typer.Option(None, "--k", help="Leave-k-sports-out sizes, comma-separated (default 1)."),
    shots: int | None = typer.Option(None, help="Few-shot: clips of each held-out sport added to training."),
    seeds: str | None = typer.Option(None, help="Comma-separated seeds: one split and model per seed (default 0)."),
    subject_folds: int | None = typer.Option(
        None, help="Zero/few-shot: also keep the test people out of training, dealt into this many folds (>= 2)."
    ),
    config: str = typer.Option("embedded", help="Training preset (embedded, tiny, research) or YAML path."),
    set_: list[str] = typer.Option([], "--set", help="Override a training config field: key=value (repeatable)."),
    model: Path | None = typer.Option(None, help="Evaluate this trained model in every split instead of training."),
    no_llm: bool = typer.Option(False, "--no-llm", help="Skip generation: probes and LLM-free baselines only."),
    no_e2e: bool = typer.Option(False, "--no-e2e", help="Do not train the w/o two-stage baseline."),
    heads_only: bool = typer.Option(
        False, "--heads-only", help="Fit only the model's proficiency head per split (fast transfer measurement)."
    ),
    features: Path | None = typer.Option(
        None,
        help="Folder of per-take feature files (<take_uid>_<cam>_<stream>.pt as Ego-Exo4D ships them, or "
        "<take_uid>.pt/.npy/.npz), as train and assess read them.",
    ),
    features_fps: float | None = typer.Option(
        None, help="Rows per second of the --features files when their family is not known (see docs/data.md)."
    ),
    vocabulary: Path | None = typer.Option(
        None,
        help="Vocabulary file (crosstrainer discover --out): canonical attribute names and synonyms, and the base "
        "vocabulary of every split model (default: the exercise vocabulary).",
    ),
    exo_features: Path | None = typer.Option(None, help="Folder of exo-view features for the Ego-Exo4D export."),
    export_egoexo_submission: Path | None = typer.Option(
        None, help="Write an Ego-Exo4D proficiency submission JSON (needs --model)."
    ),
    submission_format: str = typer.Option(
        "eval-script",
        help="Submission layout: eval-script (what the benchmark's eval_script.py checks: ego 4 logits, exo 4x4) "
        "or readme (videos + predicted level names).",
    ),
    submission_videos: Path | None = typer.Option(
        None, help="The benchmark's video list (JSON list of take names, e.g. demonstrator_proficiency_test_v2.json)."
    ),
    n_boot: int = typer.Option(1000, help="Bootstrap resamples per confidence interval."),
    threads: int | None = typer.Option(None, help="torch CPU threads."),
) -> None:
    """Evaluate like the paper: train per split, run every baseline, write metrics.json + report.md + plots."""
    from rich.console import Console

    from crosstrainer.commands import use_threads
    from crosstrainer.data.registry import load_samples
    from crosstrainer.errors import UsageError
    from crosstrainer.evaluation.protocols import ProtocolConfig
    from crosstrainer.evaluation.runner import EvalOptions, run_evaluation
    from crosstrainer.evaluation.submission import SubmissionTarget
    from crosstrainer.progress import progress_bar

    use_threads(threads)
    target = None
    if export_egoexo_submission is not None:
        target = SubmissionTarget(export_egoexo_submission, submission_format, submission_videos)
    console = Console(stderr=True)
    samples = []
    for spec in data:
        samples += load_samples(spec)
    if features is not None:
        from crosstrainer.commands.train import attach_features

        attach_features(samples, features, features_fps)
    if vocabulary is not None:  # discovered names and synonyms are canonical, as in `crosstrainer train --vocabulary`
        from crosstrainer.attributes.vocabulary import Vocabulary
        from crosstrainer.training.recipe import canonicalize_attributes

        samples = canonicalize_attributes(samples, Vocabulary.load(vocabulary))
    proto = None
    if protocol.lower() != "none":
        proto = ProtocolConfig.load(
            protocol_config,
            protocol=protocol,
            sports=[x.strip() for x in sports.split(",") if x.strip()] if sports else None,
            holdout=[[x.strip() for x in h.split("+") if x.strip()] for h in holdout] or None,
            k=_ints(k, "--k") if k else None,
            shots=shots,
            seeds=_ints(seeds, "--seeds") if seeds else None,
            subject_folds=subject_folds,
        )
    elif export_egoexo_submission is None:
        raise UsageError("--protocol none does nothing without --export-egoexo-submission")
    opts = EvalOptions(
        config=config,
        overrides=list(set_),
        model_dir=model,
        no_llm=no_llm,
        e2e=not no_e2e,
        heads_only=heads_only,
        vocabulary=vocabulary,
        n_boot=n_boot,
        command="crosstrainer " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    )
    progress = progress_bar(console=console)
    with progress:
        result = run_evaluation(
            samples,
            proto,
            opts,
            out,
            progress=progress,
            log=console.print,
            export=target,
            exo_features=exo_features,
            data_specs=list(data),
        )
    console.print(f"[green]wrote[/] {out / 'report.md'} and {out / 'metrics.json'} ({len(result['plots'])} plots)")
