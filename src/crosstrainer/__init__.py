"""CrossTrainer: transferable skill assessment from video.

>>> import crosstrainer
>>> result = crosstrainer.assess("examples/sample_bicep_curl.mp4")  # doctest: +SKIP
>>> result.proficiency.level  # doctest: +SKIP
'good form'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from crosstrainer.schema import Assessment


def assess(path: str, **kwargs: Any) -> Assessment:
    """Assess one video or keypoint file with the bundled default model (see :func:`crosstrainer.api.assess`)."""
    from crosstrainer.api import assess as _assess

    return _assess(path, **kwargs)


__all__ = ["__version__", "assess"]
