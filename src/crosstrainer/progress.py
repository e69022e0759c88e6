"""The one progress bar every long command shows (rich): label, bar, done/total, elapsed, remaining."""

from __future__ import annotations

from typing import Any


def progress_bar(label: str = "{task.description}", **options: Any) -> Any:
    """A ``rich.progress.Progress``; ``options`` go to it (``console``, ``transient``, ``disable``)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), **options
    )
