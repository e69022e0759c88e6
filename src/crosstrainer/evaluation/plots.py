"""Report plots as PNG files (matplotlib, Agg backend): confusion matrix, per-group bars with CIs, transfer heatmap.

Each function writes one PNG and returns its path::

    plot_confusion([[8, 2], [1, 9]], ["incorrect", "correct"], "run/confusion.png")
    plot_bars({"push-up": (62.0, 55.1, 69.3), "squat": (71.5, 66.0, 77.2)}, "run/per_exercise.png",
              baseline={"push-up": 50.0, "squat": 48.3}, ylabel="accuracy (%)")
    plot_transfer_heatmap([[80.1, 55.0], [60.2, 77.7]], ["squat", "lunge"], ["squat", "lunge"], "run/transfer.png")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from crosstrainer.errors import UsageError

_DPI = 150


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _text_color(value: float, vmin: float, vmax: float, cmap: str) -> str:
    """Black or white, whichever reads better on the cell colour."""
    if not np.isfinite(value) or vmax <= vmin:
        return "black"
    r, g, b, _ = plt.get_cmap(cmap)((value - vmin) / (vmax - vmin))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def plot_confusion(
    counts: Sequence[Sequence[int]] | np.ndarray,
    labels: Sequence[str],
    path: str | Path,
    title: str = "Confusion matrix",
    cmap: str = "Blues",
) -> Path:
    """Confusion matrix (rows = true label, columns = predicted) coloured by row share, each cell annotated
    with its count and its share of the row."""
    cm = np.asarray(counts, dtype=float)
    k = len(labels)
    if cm.shape != (k, k):
        raise UsageError(f"confusion matrix has shape {cm.shape}, expected ({k}, {k}) for labels {list(labels)}")
    row_sum = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, row_sum, out=np.zeros_like(cm), where=row_sum > 0)
    size = max(4.0, 1.0 + 0.9 * k)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(share, cmap=cmap, vmin=0.0, vmax=1.0)
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                f"{int(cm[i, j])}\n{100 * share[i, j]:.0f}%",
                ha="center",
                va="center",
                fontsize=10 if k <= 6 else 8,
                color=_text_color(share[i, j], 0.0, 1.0, cmap),
            )
    ax.set_xticks(range(k), [str(x) for x in labels], rotation=30 if k > 3 else 0, ha="right" if k > 3 else "center")
    ax.set_yticks(range(k), [str(x) for x in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} (n={int(cm.sum())})")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    return _save(fig, path)


def plot_bars(
    values: Mapping[str, tuple[float, float, float] | Sequence[float]],
    path: str | Path,
    baseline: float | Mapping[str, float] | None = None,
    baseline_label: str = "baseline",
    ylabel: str = "score",
    title: str = "",
    ylim: tuple[float, float] | None = None,
) -> Path:
    """Bars of ``{group: (point, low, high)}`` with 95% CI error bars and a dashed baseline marker per bar.

    ``baseline``: one number for all groups or ``{group: number}`` (e.g. the majority-class accuracy of each sport).
    """
    names = list(values)
    if not names:
        raise UsageError("plot_bars needs at least one group")
    pts = np.array([float(values[n][0]) for n in names])
    lows = np.array([float(values[n][1]) if len(values[n]) > 2 else np.nan for n in names])
    highs = np.array([float(values[n][2]) if len(values[n]) > 2 else np.nan for n in names])
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(names) + 2), 4.2))
    ax.bar(x, pts, width=0.6, color="#4C72B0", label="model", zorder=2)
    has_ci = np.isfinite(lows) & np.isfinite(highs)
    if has_ci.any():
        err = np.vstack([pts - lows, highs - pts])[:, has_ci]
        ax.errorbar(
            x[has_ci],
            pts[has_ci],
            yerr=np.clip(err, 0, None),
            fmt="none",
            ecolor="black",
            capsize=5,
            lw=1.2,
            label="95% CI",
            zorder=3,
        )
    if baseline is not None:
        base = baseline if isinstance(baseline, Mapping) else dict.fromkeys(names, float(baseline))
        drawn = False
        for xi, n in zip(x, names, strict=True):
            if n in base and base[n] is not None:
                ax.hlines(
                    float(base[n]),
                    xi - 0.42,
                    xi + 0.42,
                    colors="#C44E52",
                    linestyles="dashed",
                    lw=2,
                    label=baseline_label if not drawn else None,
                    zorder=4,
                )
                drawn = True
    top = np.nanmax(np.concatenate([pts, highs[has_ci]])) if len(pts) else 1.0
    for xi, p, h in zip(x, pts, np.where(has_ci, highs, pts), strict=True):
        ax.text(xi, h + 0.02 * max(top, 1e-9), f"{p:.1f}", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, names, rotation=20 if len(names) > 4 else 0, ha="right" if len(names) > 4 else "center")
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    else:
        ax.set_ylim(0, top * 1.15 if top > 0 else 1)
    if title:
        ax.set_title(title)
    ax.grid(axis="y", alpha=0.3, zorder=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)


def plot_transfer_heatmap(
    matrix: Sequence[Sequence[float | None]] | np.ndarray,
    train_names: Sequence[str],
    test_names: Sequence[str],
    path: str | Path,
    title: str = "Cross-sport transfer",
    value_label: str = "accuracy (%)",
    cmap: str = "viridis",
    fmt: str = "{:.1f}",
    counts: Sequence[Sequence[int | None]] | np.ndarray | None = None,
) -> Path:
    """Heatmap of ``matrix[i][j]`` = score of the model trained on ``train_names[i]`` tested on ``test_names[j]``;
    every cell annotated (with ``n=<clips>`` under the value when ``counts`` gives the clips behind each cell);
    missing cells (None/NaN) shown grey as "-"; in-domain cells (same name) outlined."""
    m = np.array([[np.nan if v is None else float(v) for v in row] for row in matrix], dtype=float)
    if m.shape != (len(train_names), len(test_names)):
        raise UsageError(f"transfer matrix has shape {m.shape}, expected ({len(train_names)}, {len(test_names)})")
    n = None
    if counts is not None:
        n = [[None if c is None else int(c) for c in row] for row in counts]
        if (len(n), len(n[0]) if n else 0) != m.shape:
            raise UsageError(f"transfer counts do not match the matrix's shape {m.shape}")
    finite = m[np.isfinite(m)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmax <= vmin:
        vmin, vmax = vmin - 1.0, vmax + 1.0
    fig, ax = plt.subplots(figsize=(max(4.5, 1.0 * len(test_names) + 2.5), max(3.5, 0.7 * len(train_names) + 1.8)))
    cm = plt.get_cmap(cmap).with_extremes(bad="#DDDDDD")
    im = ax.imshow(np.ma.masked_invalid(m), cmap=cm, vmin=vmin, vmax=vmax, aspect="auto")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            txt = fmt.format(m[i, j]) if np.isfinite(m[i, j]) else "-"
            if n is not None and n[i][j] is not None:
                txt += f"\nn={n[i][j]}"
            ax.text(j, i, txt, ha="center", va="center", fontsize=10, color=_text_color(m[i, j], vmin, vmax, cmap))
            if str(train_names[i]) == str(test_names[j]):  # in-domain cell: outlined
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="black", lw=1.5))
    rot = len(test_names) > 3
    ax.set_xticks(range(len(test_names)), list(test_names), rotation=30 if rot else 0, ha="right" if rot else "center")
    ax.set_yticks(range(len(train_names)), list(train_names))
    ax.set_xlabel("test on")
    ax.set_ylabel("train on")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label=value_label)
    return _save(fig, path)


def plot_reliability(
    curves: Mapping[str, Mapping[str, Sequence[float]]], path: str | Path, title: str = "Reliability of the verdict"
) -> Path:
    """Reliability diagram: per curve, mean confidence (x) against accuracy (y) of its confidence bins, as returned by
    :func:`crosstrainer.model.calibration.reliability` (``{"confidence", "accuracy", "count"}``); the diagonal is
    perfect calibration, and marker area follows the bin's count."""
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="calibrated")
    for name, r in curves.items():
        sizes = 8 + 120 * np.asarray(r["count"], float) / max(1.0, float(np.max(r["count"]) if len(r["count"]) else 1))
        ax.plot(r["confidence"], r["accuracy"], marker="o", lw=1.2, label=name)
        ax.scatter(r["confidence"], r["accuracy"], s=sizes, alpha=0.3)
    ax.set_xlim(0.45, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("confidence of the chosen level")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)
