"""A built-in synthetic dataset, so every training entry point runs without real data (open_clip's idea).

``load_samples("synthetic:8?dim=32&seed=0")`` makes 8 samples whose per-second features are random ``.npy`` files
(written once into ``root``, by default ``$CROSSTRAINER_CACHE/synthetic/v1-n8-d32-s0``) and whose commentary,
skill-attributes, windows and proficiency levels are drawn from small fixed tables. Everything depends only on
``(n, dim, seed, annotated)``, so two calls give identical samples and identical feature files.

The features carry a learnable signal: each level and each attribute has a fixed random direction that is added
to the seconds of the clip (level) and of the commentary window (attribute), on top of unit Gaussian noise.

One sample (JSON, as ``save_samples`` writes it)::

    {"id": "synthetic/0003", "source": "synthetic", "sport": "basketball", "participant": "p3",
     "features": "/home/me/.cache/crosstrainer/synthetic/v1-n8-d32-s0/0003.npy",
     "commentary": [{"text": "Your back is rounded and you lean back too much. Keep your chest up.",
                     "time_s": 7.0, "attributes": ["posture"], "window": [3.0, 7.0]}],
     "proficiency": "Early Expert", "split": "train", "meta": {"duration_s": 12, "synthetic": true}}

Options: ``dim`` (feature size, 32), ``seed`` (0), ``annotated`` (true; false leaves ``attributes`` and
``window`` empty for ``crosstrainer discover`` to fill), ``test_fraction`` (0.25 of the samples, the last ones,
get ``split: test``), ``root`` (feature folder).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crosstrainer.data.sample import EGOEXO_LEVELS, Commentary, Sample
from crosstrainer.errors import UsageError
from crosstrainer.fileio import atomic_write

SPORTS = ["soccer", "basketball", "rock climbing", "squat"]
LEVELS = list(EGOEXO_LEVELS)
# attribute -> (what the coach saw, what to do); names are seed-vocabulary names so discovery maps them back.
ATTRIBUTES: dict[str, tuple[str, str]] = {
    "balance": ("You wobble too much on the landing and lose balance.", "Keep your weight centred over your feet."),
    "posture": ("Your back is rounded and you lean back too much.", "Keep your chest up."),
    "knee alignment": ("Your knees cave in too much.", "Push your knees out over your toes."),
    "hand positioning": ("Your hands are too far apart on the grip.", "Set your hands shoulder width."),
    "timing": ("Your timing is too late on the release.", "Release at the top of the jump."),
}
WINDOW_S = 4.0
VERSION = 1  # bump when the generator changes: the default feature folder is keyed by it


def default_root(n: int, dim: int, seed: int, annotated: bool) -> Path:
    from crosstrainer.model.llm import cache_dir

    return cache_dir() / "synthetic" / f"v{VERSION}-n{n}-d{dim}-s{seed}{'' if annotated else '-raw'}"


def load_synthetic(
    path: str | int,
    dim: int = 32,
    seed: int = 0,
    annotated: bool = True,
    test_fraction: float = 0.25,
    root: str | None = None,
) -> list[Sample]:
    """``path`` is the number of samples (the ``N`` of ``synthetic:N``)."""
    try:
        n = int(str(path).strip() or "16")
    except ValueError as exc:
        raise UsageError(f"synthetic:N needs a number of samples, got {path!r}") from exc
    if n < 1 or dim < 1:
        raise UsageError(f"synthetic:{path}: need at least 1 sample and dim >= 1 (dim={dim})")
    folder = Path(root) if root else default_root(n, dim, seed, annotated)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, n, dim])
    level_dirs = rng.normal(0.0, 1.0, (len(LEVELS), dim)).astype(np.float32)
    attr_names = list(ATTRIBUTES)
    attr_dirs = rng.normal(0.0, 1.5, (len(attr_names), dim)).astype(np.float32)
    n_test = round(test_fraction * n) if n >= 4 else 0
    samples = []
    for i in range(n):
        r = np.random.default_rng([seed, n, dim, i])
        duration = int(r.integers(8, 17))
        level = int(r.integers(len(LEVELS)))
        feats = r.normal(0.0, 1.0, (duration, dim)).astype(np.float32) + level_dirs[level]
        commentary = []
        for _ in range(int(r.integers(1, 3))):
            t = float(r.integers(int(WINDOW_S), duration + 1))
            picked = sorted(r.choice(len(attr_names), size=int(r.integers(1, 3)), replace=False).tolist())
            names = [attr_names[k] for k in picked]
            a, b = int(t - WINDOW_S), int(t)
            for k in picked:
                feats[a:b] += attr_dirs[k]
            text = " ".join(f"{ATTRIBUTES[name][0]} {ATTRIBUTES[name][1]}" for name in names)
            commentary.append(
                Commentary(
                    text=text,
                    time_s=t,
                    attributes=names if annotated else None,
                    window=(t - WINDOW_S, t) if annotated else None,
                )
            )
        feature_path = folder / f"{i:04d}.npy"
        if not feature_path.is_file():
            with atomic_write(feature_path, "wb") as fh:
                np.save(fh, feats)
        samples.append(
            Sample(
                id=f"synthetic/{i:04d}",
                source="synthetic",
                sport=SPORTS[i % len(SPORTS)],
                participant=f"p{i % 5}",
                features=str(feature_path),
                commentary=commentary,
                proficiency=LEVELS[level],
                split="test" if i >= n - n_test else "train",
                meta={"duration_s": duration, "synthetic": True},
            )
        )
    return samples
