"""``crosstrainer extract``: per-second features of every clip of a dataset into the feature cache."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command(
        "extract",
        help="Extract per-second video features of a dataset into a cache folder (resumable; failures are reported).",
        epilog="Examples:\n\n"
        "crosstrainer extract egoexo:/data/egoexo4d?split=train --encoder precomputed --features-root "
        "/data/egovlpv2 --cache cache/\n\n"
        "crosstrainer extract qevd:/data/qevd --encoder clip --clip-checkpoint /models/clip-vit-b32 --cache cache/\n\n"
        "accelerate launch --num_processes 4 -m crosstrainer.cli extract ... (each process takes its shard)\n\n"
        "crosstrainer extract ui_prmd:/data/ui_prmd --engine ray --cache cache/ (a local Ray instance; "
        "--address auto for a running cluster; needs the ray extra)",
    )(extract)


def extract(
    dataset: str = typer.Argument(..., help="Dataset spec NAME:PATH[?opt=val] or a path (see docs/data.md)."),
    encoder: str = typer.Option("pose", "--encoder", "-e", help="pose | clip | precomputed."),
    cache: Path = typer.Option(Path("features"), "--cache", "-c", help="Cache folder (created if missing)."),
    clip_checkpoint: Path | None = typer.Option(None, "--clip-checkpoint", help="Local CLIP checkpoint folder."),
    features_root: Path | None = typer.Option(
        None, "--features-root", help="Folder of precomputed .pt/.npy files, one per take."
    ),
    features_fps: float | None = typer.Option(None, "--features-fps", help="Rows per second of precomputed files."),
    shard: str | None = typer.Option(None, "--shard", help="I/N: this process takes shard I of N (default: RANK)."),
    engine: str = typer.Option(
        "local",
        "--engine",
        help="local (this process) | ray (Ray Data workers; needs the ray extra, see docs/data.md).",
    ),
    address: str | None = typer.Option(
        None, "--address", help="--engine ray: a running Ray cluster (auto, HEAD:6379, ray://HEAD:10001)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="--engine ray: worker processes (default: one per CPU of the instance)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Re-extract clips that are already cached."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    from rich.console import Console

    from crosstrainer.data.registry import load_samples
    from crosstrainer.encoders.registry import build_encoder
    from crosstrainer.errors import PartialFailure, UsageError
    from crosstrainer.features.extract import extract_features, extract_features_ray, import_ray, parse_shard

    options: dict[str, object] = {}
    if encoder == "clip":
        options["checkpoint"] = clip_checkpoint
    elif clip_checkpoint is not None:
        raise UsageError("--clip-checkpoint is only for --encoder clip")
    if encoder == "precomputed":
        options.update(root=features_root, fps=features_fps)
    elif features_root is not None or features_fps is not None:
        raise UsageError("--features-root/--features-fps are only for --encoder precomputed")

    if engine not in ("local", "ray"):
        raise UsageError(f"--engine must be local or ray, not {engine!r}")
    if engine == "local" and (address is not None or workers is not None):
        raise UsageError("--address/--workers are only for --engine ray")
    if engine == "ray":
        import_ray()  # before reading the dataset: a missing extra is a one-line error (exit 9)

    console = Console(stderr=True, soft_wrap=True)
    samples = load_samples(dataset)
    if engine == "ray":
        import functools

        report = extract_features_ray(
            samples,
            functools.partial(build_encoder, encoder, **options),
            cache,
            address=address,
            workers=workers,
            shard=parse_shard(shard) if shard else None,
            progress=progress,
            overwrite=overwrite,
        )
    else:
        report = extract_features(
            samples,
            build_encoder(encoder, **options),
            cache,
            shard=parse_shard(shard) if shard else None,
            progress=progress,
            overwrite=overwrite,
        )
    index, count = report.shard
    shard_text = f" (shard {index}/{count})" if count > 1 else ""
    console.print(
        f"extract{shard_text}: {report.total} clips, {report.extracted} extracted, {report.cached} already cached, "
        f"{len(report.failures)} failed, {report.seconds:.1f} s -> {report.cache_dir}"
    )
    if report.failures:
        for failure in report.failures[:5]:
            console.print(f"  failed {failure.id}: {failure.reason}", markup=False, highlight=False)
        more = f" (first 5 above; all in {report.cache_dir}/failures*.jsonl)"
        raise PartialFailure(f"{len(report.failures)} of {report.total} clips failed{more}")
