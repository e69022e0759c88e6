"""``crosstrainer assess``: the main job. One or many inputs (videos, keypoint files, folders) -> assessments.

crosstrainer assess examples/sample_bicep_curl.mp4
crosstrainer assess clip.mp4 --sport "bicep curl" --json result.json --report report.html
crosstrainer assess keypoints.npy --skeleton coco17 --fps 30 --json -
crosstrainer assess videos/ --out-dir results/          # one JSON per input, model loaded once
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from crosstrainer.commands import raise_if_interrupted, use_threads
from crosstrainer.errors import (
    CrossTrainerError,
    InputNotFoundError,
    Interrupted,
    PartialFailure,
    UsageError,
    file_access_error,
)
from crosstrainer.fileio import atomic_write_text, unwritable_reason


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files as given; folders expanded to the videos and keypoint files directly inside them (sorted)."""
    from crosstrainer.keypoints.io import KEYPOINT_SUFFIXES
    from crosstrainer.video.decode import VIDEO_SUFFIXES

    out: list[Path] = []
    for p in inputs:
        if p.is_dir() and not any(p.glob("*_keypoints.json")):
            found = sorted(
                f
                for f in p.iterdir()
                if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES + KEYPOINT_SUFFIXES and not f.name.startswith(".")
            )
            if not found:
                raise InputNotFoundError(f"no videos or keypoint files in folder {p}")
            out += found
        else:
            out.append(p)
    return out


def check_outputs(
    files: list[Path], json_out: str | None, report: str | None, out_dir: Path | None, batch: bool
) -> None:
    """Every output path can be written: checked before the model loads, so a bad one fails at once (exit 2)."""
    checks: list[tuple[str, Path, bool]] = []
    if batch:
        checks.append(("--out-dir", out_dir or Path("."), True))
    else:
        if json_out and json_out != "-":
            checks.append(("--json", Path(json_out), False))
        if report == "auto":
            checks.append(("--report auto", Path(files[0].with_suffix(".html").name), False))
        elif report:
            checks.append(("--report", Path(report), False))
    for option, path, folder in checks:
        reason = unwritable_reason(path, folder=folder)
        if reason:
            raise UsageError(f"{option} {path}: {reason}")


def output_names(files: list[Path]) -> dict[Path, str]:
    """Each input's output name: its stem, or its full name where two inputs share a stem (clip.mp4, clip.mov)."""
    stems = [f.stem for f in files]
    return {f: f.stem if stems.count(f.stem) == 1 else f.name for f in files}


def assess_command(
    inputs: list[Path] = typer.Argument(
        ..., help="Video(s) (mp4, mov, avi, webm, mkv), keypoint files (.npy, .json) or folders."
    ),
    json_out: str | None = typer.Option(
        None, "--json", help="Write the assessment JSON here ('-' for stdout). One input only."
    ),
    out_dir: Path | None = typer.Option(
        None, "--out-dir", help="Write <stem>.json per input here (and <stem>.html with --report)."
    ),
    report: str | None = typer.Option(
        None, "--report", help="Write a self-contained HTML report ('auto' with --out-dir)."
    ),
    model: Path | None = typer.Option(None, "--model", help="Model folder (default: the bundled embedded model)."),
    sport: str | None = typer.Option(
        None, "--sport", help="Name of the sport or exercise, if known (e.g. 'bicep curl')."
    ),
    kind: str = typer.Option("auto", "--kind", help="auto | video | keypoints."),
    skeleton: str | None = typer.Option(
        None, "--skeleton", help="Keypoint layout: mediapipe33 | coco17 | openpose18 | openpose25 | openpose25b."
    ),
    fps: float | None = typer.Option(
        None, "--fps", help="Frame rate of a keypoint file that does not say (default 30)."
    ),
    channels: str | None = typer.Option(
        None, "--channels", help="Values per joint of a .npy/JSON keypoint file: xy | xyc | xyz | xyzc."
    ),
    max_frames: int | None = typer.Option(
        None, "--max-frames", help="Refuse keypoint files with more frames (default 108000: 1 h at 30 fps)."
    ),
    max_duration: float | None = typer.Option(
        None, "--max-duration", help="Refuse keypoint files longer than this many seconds (default 3600)."
    ),
    sample_fps: float = typer.Option(10.0, "--sample-fps", help="Video frames per second given to the pose estimator."),
    features: Path | None = typer.Option(
        None,
        "--features",
        help="Models trained on precomputed features: the folder of per-take feature files "
        "(<take_uid>_<cam>_<stream>.pt or <take_uid>.pt); inputs are then take uids, videos or feature files.",
    ),
    clip_checkpoint: Path | None = typer.Option(
        None, "--clip-checkpoint", help="Models trained on CLIP features: the local CLIP checkpoint folder."
    ),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads for the language model."),
    batch_size: int = typer.Option(
        32, "--batch-size", min=1, help="Several inputs: how many go through the language model together."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No terminal report (errors still go to stderr)."),
) -> None:
    """Assess how well a person performs: proficiency level, skill-attributes to improve (and when), feedback."""
    from rich.console import Console

    from crosstrainer.keypoints.io import set_read_defaults

    use_threads(threads)
    set_read_defaults(max_frames, max_duration, channels)  # bounds and channels for every keypoint file read below
    console = Console(stderr=True)
    files = expand_inputs(inputs)
    batch = len(files) > 1 or out_dir is not None
    if batch and json_out:
        raise UsageError("--json takes one input; use --out-dir for several")
    if batch and report and report != "auto" and len(files) > 1:
        raise UsageError("--report PATH takes one input; with --out-dir use --report auto")
    check_outputs(files, json_out, report, out_dir, batch)  # an unwritable output fails before the model loads
    from crosstrainer.api import Assessor, PoseReadJob, preflight  # heavier imports once the options are good

    failures: list[tuple[Path, CrossTrainerError]] = []
    first_kind = None
    if not batch:
        first_kind = preflight(files[0], kind, skeleton, fps, features, model)  # a bad input fails before the load
    else:
        for f in files:  # the same cheap checks per input: a batch of only bad inputs never loads the model
            try:
                preflight(f, kind, skeleton, fps, features, model)
            except CrossTrainerError as exc:
                failures.append((f, exc))
                console.print(f"[red]error[/] {f}: {exc} (exit code {exc.exit_code})")
        if len(failures) == len(files):
            _raise_failures(failures, files)
    from crosstrainer.report.terminal import render_assessment

    early = job = None
    if first_kind == "video" and features is None and PoseReadJob.worth_it(files[0], model):
        job = PoseReadJob(files[0], model, kind, skeleton, fps, sample_fps)  # the pose runs while the model loads
    elif not batch and features is None:  # else read first: a short video with nobody in it fails before the load
        from crosstrainer.api import read_pose_early

        with console.status("reading the input...", spinner="dots"):
            early = read_pose_early(files[0], model, kind, skeleton, fps, sample_fps)
    with console.status(
        "loading model..." if job is None else "reading the video and loading model...", spinner="dots"
    ):
        assessor = Assessor.load(model, sample_fps=sample_fps, features=features, clip_checkpoint=clip_checkpoint)
        raise_if_interrupted()  # a Ctrl-C during the model's imports may have been swallowed by a library callback
        if job is not None:
            early = job.result()
    if not batch:
        result = assessor.assess(files[0], kind=kind, skeleton=skeleton, fps=fps, sport=sport, read=early)
        raise_if_interrupted()
        _emit(result, json_out, report, quiet, console, render_assessment)
        return
    from crosstrainer.progress import progress_bar

    assert out_dir is not None or len(files) > 1
    target = out_dir or Path(".")
    names = output_names(files)
    failed = {f for f, _ in failures}
    done = 0
    with progress_bar(console=console) as progress:
        task = progress.add_task("assessing", total=len(files))
        progress.advance(task, len(failed))
        try:
            todo = [f for f in files if f not in failed]
            progress.update(task, description=f"assessing, {batch_size} at a time")
            # inputs go through the language model batch_size at a time: the same JSON as one by one, faster
            for f, result in assessor.assess_many(
                todo, kind=kind, skeleton=skeleton, fps=fps, sport=sport, batch=batch_size
            ):
                raise_if_interrupted()
                if isinstance(result, CrossTrainerError):
                    failures.append((f, result))
                    progress.console.print(f"[red]error[/] {f}: {result} (exit code {result.exit_code})")
                else:
                    atomic_write_text(target / f"{names[f]}.json", result.assessment.to_json() + "\n")
                    if report:
                        from crosstrainer.report.html import write_report

                        write_report(result, target / f"{names[f]}.html")
                    done += 1
                    a = result.assessment
                    progress.console.print(
                        f"[green]ok[/] {f.name}: {a.proficiency.level} ({a.proficiency.score:.2f}), "
                        f"{len(a.attributes)} attribute(s) -> {target / (names[f] + '.json')}"
                    )
                progress.advance(task)
        except KeyboardInterrupt:
            raise Interrupted(
                f"interrupted after {done} of {len(files)} inputs; their outputs are kept in {target}"
            ) from None
        except OSError as exc:  # a full disk or a lost permission stops the batch: the next writes would fail too
            err = file_access_error(exc)
            if err is None:
                raise
            raise err.__class__(f"{err}; {done} of {len(files)} outputs were written to {target}") from exc
    if failures:
        _raise_failures(failures, files)


def _raise_failures(failures: list[tuple[Path, CrossTrainerError]], files: list[Path]) -> None:
    raise PartialFailure(
        f"{len(failures)} of {len(files)} inputs failed: "
        + "; ".join(f"{f.name} ({e.__class__.__name__})" for f, e in failures)
    )


def _emit(result, json_out, report, quiet, console, render) -> None:
    from rich.console import Console

    if json_out == "-":
        sys.stdout.write(result.assessment.to_json() + "\n")
    elif json_out:
        atomic_write_text(Path(json_out), result.assessment.to_json() + "\n")
    if report:
        from crosstrainer.report.html import write_report

        path = Path(result.source_path).with_suffix(".html").name if report == "auto" else report
        write_report(result, path)
        if not quiet:
            console.print(f"report: {path}")
    if not quiet:
        render(result, Console(file=sys.stderr if json_out == "-" else sys.stdout))


def register(app: typer.Typer) -> None:
    app.command("assess")(assess_command)
