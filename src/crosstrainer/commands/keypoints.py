"""``crosstrainer keypoints VIDEO OUT``: run the pose estimator once and save the keypoints (JSON or .npy).

The file can then be assessed without the video (``crosstrainer assess OUT``) and gives the same features.
"""

from __future__ import annotations

from pathlib import Path

import typer


def keypoints_command(
    video: Path = typer.Argument(..., help="Video file."),
    out: Path = typer.Argument(..., help="Output: .json (CrossTrainer keypoints JSON, CT17) or .npy (MediaPipe-33)."),
    sample_fps: float = typer.Option(10.0, "--sample-fps", help="Frames per second given to the pose estimator."),
) -> None:
    """Extract MediaPipe pose keypoints from a video into a file."""
    from crosstrainer.errors import UsageError
    from crosstrainer.keypoints.io import save_keypoints
    from crosstrainer.video.pose import PoseEstimator

    if out.suffix.lower() not in (".json", ".npy"):
        raise UsageError(f"output must end in .json or .npy, not {out.name}")
    pose = PoseEstimator(sample_fps=sample_fps).estimate(video)
    save_keypoints(pose, out)
    detected, frames = pose.meta.get("detected_frames"), pose.meta.get("frames")
    fps_note = f" (load it with --fps {pose.fps:.3f})" if out.suffix.lower() == ".npy" else ""
    typer.echo(f"{out}: {len(pose)} frames at {pose.fps:.2f} fps, person found in {detected}/{frames}{fps_note}")


def register(app: typer.Typer) -> None:
    app.command("keypoints")(keypoints_command)
