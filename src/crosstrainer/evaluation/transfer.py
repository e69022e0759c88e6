"""The transfer headline: per held-out movement AUROC, accuracy and macro-F1 from a ``crosstrainer evaluate`` run.

Reads the run's ``metrics.json`` (a zero/few-shot protocol) and keeps, for every split, the test groups of the
movement held out of it (``held out plank | test: plank`` and ``... | test: plank (gym_exercise_correction_vn)``,
not the evaluation-only clips every split also tests). One row per group::

    {"group": "plank", "n": 25, "auroc": {"CrossTrainer": {"value": 41.2, "low": 16.7, "high": 63.6}, ...},
     "accuracy": {...}, "macro_f1": {...}, "majority": 32.0}

Used by ``scripts/transfer_table.py`` (docs/evaluation.md, README) and the default model's card, so the three show
the same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crosstrainer.errors import InputNotFoundError, UsageError

MODEL = "CrossTrainer"
ACCURACY = "Proficiency accuracy: sports the model never trained on (transfer)"
AUROC = "Proficiency AUROC (score of the better level)"
F1 = "Proficiency macro-F1"
SYSTEMS = (MODEL, "linear probe (raw)", "best single feature (raw)", "1-NN retrieval (raw)")


def load_run(run: str | Path) -> dict[str, Any]:
    """``metrics.json`` of an evaluate run folder (or the file itself)."""
    path = Path(run)
    path = path / "metrics.json" if path.is_dir() else path
    if not path.is_file():
        raise InputNotFoundError(f"no metrics.json in {run}: run `crosstrainer evaluate ... --out {run}` first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not valid JSON ({exc})") from None


def _held(key: str) -> tuple[str, str] | None:
    """``("plank", "plank (gym_exercise_correction_vn)")`` from ``held out plank | test: plank (gym...)``."""
    if not key.startswith("held out ") or " | test: " not in key:
        return None
    held, group = key[len("held out ") :].split(" | test: ", 1)
    return held.split(" (")[0], group


def transfer_rows(run: str | Path | dict[str, Any]) -> list[dict[str, Any]]:
    """One row per held-out movement's test group (see the module docstring), sorted by group."""
    data = run if isinstance(run, dict) else load_run(run)
    metrics = data.get("metrics", data)
    if AUROC not in metrics or ACCURACY not in metrics:
        raise UsageError("the run has no transfer AUROC table (a zero-shot protocol with two levels is needed)")
    rows = []
    for key, auroc in metrics[AUROC].items():
        parsed = _held(key)
        if parsed is None or parsed[1].split(" (")[0] not in parsed[0].split(" + "):
            continue
        acc = metrics[ACCURACY].get(key, {})
        f1 = metrics.get(F1, {}).get(key, {})

        def cells(row: dict[str, Any], suffix: str = "") -> dict[str, Any]:
            return {s: row.get(s + suffix) or row.get(s) for s in SYSTEMS if (row.get(s + suffix) or row.get(s))}

        rows.append(
            {
                "group": parsed[1],
                "n": auroc.get("n"),
                "auroc": cells(auroc),
                "accuracy": cells(acc, " (verdict)"),
                "macro_f1": cells(f1),
                "majority": acc.get("majority"),
            }
        )
    return sorted(rows, key=lambda r: r["group"])


def _cell(c: dict[str, Any] | None) -> str:
    if not c or c.get("value") is None:
        return "-"
    ci = f" [{c['low']:.1f}, {c['high']:.1f}]" if c.get("low") is not None and c.get("high") is not None else ""
    return f"{c['value']:.1f}{ci}"


def summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and min AUROC (0-100) per system over the rows, with the group of the min."""
    out: dict[str, dict[str, Any]] = {}
    for system in SYSTEMS:
        vals = [(r["auroc"][system]["value"], r["group"]) for r in rows if r["auroc"].get(system)]
        if vals:
            low = min(vals)
            out[system] = {"mean": sum(v for v, _ in vals) / len(vals), "min": low[0], "min_group": low[1]}
    return out


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The headline table (AUROC of every system, accuracy and macro-F1 of CrossTrainer, majority accuracy)."""
    head = (
        "| held-out movement (test clips) | n | AUROC: CrossTrainer head | AUROC: raw linear probe | "
        "AUROC: best single feature | AUROC: 1-NN | accuracy: CrossTrainer | accuracy: majority | "
        "macro-F1: CrossTrainer |\n|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        a = r["auroc"]
        lines.append(
            f"| {r['group']} | {r['n']} | {_cell(a.get(MODEL))} | {_cell(a.get(SYSTEMS[1]))} | "
            f"{_cell(a.get(SYSTEMS[2]))} | {_cell(a.get(SYSTEMS[3]))} | {_cell(r['accuracy'].get(MODEL))} | "
            f"{r['majority'] if r['majority'] is not None else '-'} | {_cell(r['macro_f1'].get(MODEL))} |"
        )
    s = summary(rows)
    means = "; ".join(
        f"{name} {v['mean']:.1f} (min {v['min']:.1f}, {v['min_group']})" for name, v in s.items() if name in s
    )
    lines.append("")
    lines.append(f"Mean AUROC over the {len(rows)} held-out test groups: {means}.")
    return "\n".join(lines)
