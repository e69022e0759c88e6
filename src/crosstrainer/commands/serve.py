"""``crosstrainer serve``: the local web app (upload a clip, watch progress, read the report).

crosstrainer serve                       # http://127.0.0.1:8000, the shipped model
crosstrainer serve --port 8080 --model runs/my_model --max-jobs 1 --max-upload-mb 200
crosstrainer serve --state-dir /srv/crosstrainer     # where jobs, reports and uploads are kept across restarts

The state folder defaults to ``$CROSSTRAINER_CACHE/server/port-<port>`` (``~/.cache/crosstrainer/...``): a restart on
the same port finds its jobs again, and reports those it interrupted as failed. ``--workdir DIR`` keeps nothing: a
temporary state folder inside DIR, removed at shutdown.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from crosstrainer.errors import UsageError


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option(
            "127.0.0.1", "--host", help="Address to bind; 0.0.0.0 exposes the app to your network."
        ),
        port: int = typer.Option(8000, "--port", help="TCP port."),
        model: Path | None = typer.Option(None, "--model", help="Model folder (default: the shipped model)."),
        max_jobs: int = typer.Option(1, "--max-jobs", help="Assessments that run at the same time."),
        queue_size: int = typer.Option(8, "--queue-size", help="Uploads that may wait; more get HTTP 429."),
        max_upload_mb: float = typer.Option(200, "--max-upload-mb", help="Largest accepted upload, in MB (else 413)."),
        state_dir: Path | None = typer.Option(
            None,
            "--state-dir",
            help="Where jobs, reports and uploads are kept across restarts (default: "
            "$CROSSTRAINER_CACHE/server/port-PORT, i.e. ~/.cache/crosstrainer/server/port-PORT).",
        ),
        workdir: Path | None = typer.Option(
            None,
            "--workdir",
            help="Keep nothing across restarts: a temporary state folder inside this folder, removed at shutdown.",
        ),
        preload: bool = typer.Option(
            True, "--preload/--lazy", help="Load the model at startup (in the background) or on the first upload."
        ),
        features: Path | None = typer.Option(
            None,
            "--features",
            help="Models trained on precomputed features: the folder of per-take feature files; an upload is "
            "matched to its take's file by name.",
        ),
        clip_checkpoint: Path | None = typer.Option(
            None, "--clip-checkpoint", help="Models trained on CLIP features: the local CLIP checkpoint folder."
        ),
    ) -> None:
        """Run the local web app and its JSON API (schema at /openapi.json). Stop it with Ctrl+C."""
        if not 0 < port < 65536:
            raise UsageError(f"--port must be between 1 and 65535, not {port}")
        if max_jobs < 1 or queue_size < 0 or max_upload_mb <= 0:
            raise UsageError("--max-jobs must be >= 1, --queue-size >= 0 and --max-upload-mb > 0")
        if model is not None and not model.exists():
            from crosstrainer.errors import InputNotFoundError

            raise InputNotFoundError(f"model folder not found: {model}")
        if workdir is not None and state_dir is not None:
            raise UsageError("give --state-dir (kept across restarts) or --workdir (temporary), not both")
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
        elif state_dir is None:
            cache = Path(os.environ.get("CROSSTRAINER_CACHE") or Path.home() / ".cache" / "crosstrainer")
            state_dir = cache / "server" / f"port-{port}"

        factory = None
        if model is not None or features is not None:  # the model's encoder is checked now: a missing piece fails
            from crosstrainer.api import DEFAULT_MODEL_DIR, _model_encoder
            from crosstrainer.model.checkpoint import read_manifest

            folder = model or DEFAULT_MODEL_DIR
            if clip_checkpoint is None or features is not None:  # (CLIP weights are loaded by the app, not here)
                _model_encoder(read_manifest(folder), folder, features, clip_checkpoint)
        if features is not None or clip_checkpoint is not None:

            def factory():
                from crosstrainer.api import Assessor

                return Assessor.load(model, features=features, clip_checkpoint=clip_checkpoint)

        import uvicorn

        from crosstrainer.server.app import create_app

        try:
            web = create_app(
                factory,
                max_upload_mb=max_upload_mb,
                max_jobs=max_jobs,
                queue_size=queue_size,
                workdir=workdir,
                state_dir=state_dir,
                model_dir=str(model) if model is not None else None,
                preload=preload,
            )
        except OSError as exc:
            folder = state_dir if state_dir is not None else workdir
            raise UsageError(f"cannot use {folder} as the server's folder ({exc.strerror or exc})") from None
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"CrossTrainer web app on http://{shown}:{port}/  (Ctrl+C to stop)", err=True)
        recovered = len(web.state.jobs.recovered)
        if recovered:
            typer.echo(f"{recovered} job(s) were unfinished when the server last stopped: reported failed", err=True)
        uvicorn.run(web, host=host, port=port, log_level="warning", access_log=False)
