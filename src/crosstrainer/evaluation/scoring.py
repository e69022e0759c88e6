"""Score a run: the tables, plots and details of ``metrics.json`` from the splits' prediction records.

Tables are dicts of rows ``{row label: {column: cell}}`` where a cell is ``{"value", "low", "high"}`` (percent, 95%
bootstrap CI) or a plain value; columns are the systems of :class:`crosstrainer.evaluation.systems.System`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crosstrainer.data.sample import Sample
from crosstrainer.evaluation import baselines as bl
from crosstrainer.evaluation.protocols import ProtocolConfig, Split, report_group
from crosstrainer.evaluation.systems import LEVEL_SYSTEMS, System

MODEL, E2E = System.MODEL.value, System.E2E.value


def _ci_cell(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {k: row.get(k) for k in ("value", "low", "high")}


def _verdict(row: dict[str, Any] | None, baseline: float | None) -> str:
    if row is None or baseline is None or row.get("value") is None:
        return "-"
    if row.get("low") is not None and row["low"] > baseline:
        return "above"
    if row.get("high") is not None and row["high"] < baseline:
        return "below"
    return "within CI"


def split_label(split: Split, n_seeds: int) -> str:
    if split.protocol == "intra":
        label = "intra"
    else:
        label = f"held out {' + '.join(split.heldout)}"
        if split.protocol == "few-shot":
            label += f" ({len(split.shot_ids)} shots)"
    if split.subject_fold:
        label += f" (subjects {split.subject_fold})"
    return f"{label} (seed {split.seed})" if n_seeds > 1 else label


def pool_subject_folds(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (held-out set, seed): the subject folds of a subject-disjoint protocol merged.

    Folds partition the people, so every test clip is predicted by exactly one fold's model and the merged record
    tests each clip once; its training ids are the union of the folds' (used only for the majority baseline).
    """
    pooled: dict[tuple, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for rec in records:
        split = rec["split"]
        if not split.get("subject_fold"):
            out.append(rec)
            continue
        key = (split["protocol"], split["seed"], tuple(split["heldout"]))
        if key not in pooled:
            merged = {**rec, "split": {**split, "subject_fold": "", "id": split["id"].rsplit("/subjects=", 1)[0]}}
            merged["systems"] = {name: dict(preds) for name, preds in rec["systems"].items()}
            pooled[key] = merged
            out.append(merged)
            continue
        merged = pooled[key]
        ms = merged["split"]
        ms["test_ids"] = ms["test_ids"] + split["test_ids"]
        ms["train_ids"] = list(dict.fromkeys(ms["train_ids"] + split["train_ids"]))
        ms["shot_ids"] = ms["shot_ids"] + split["shot_ids"]
        ms["train_sports"] = sorted(set(ms["train_sports"]) | set(split["train_sports"]))
        for name, preds in rec["systems"].items():
            merged["systems"].setdefault(name, {}).update(preds)
    return out


def score(
    records: list[dict[str, Any]], by_id: dict[str, Sample], cfg: ProtocolConfig, opts: Any, plot_dir: Path
) -> tuple[dict[str, Any], dict[str, Path], dict[str, Any]]:
    """All tables, plots and details of a run from the splits' prediction records."""
    from crosstrainer.evaluation.bootstrap import accuracy, bootstrap_ci
    from crosstrainer.evaluation.metrics import attribute_metrics, feedback_metrics, proficiency_metrics
    from crosstrainer.evaluation.plots import plot_bars, plot_confusion, plot_transfer_heatmap
    from crosstrainer.evaluation.report import with_baselines

    boot = {"n_boot": opts.n_boot, "seed": 0}
    records = pool_subject_folds(records)
    trainable_sports = {s.sport for s in by_id.values() if s.source not in cfg.eval_only_sources and s.sport}
    n_seeds = len({r["split"]["seed"] for r in records})
    acc_unseen, acc_seen, f1_rows, auroc_rows, attr_rows = {}, {}, {}, {}, {}
    feedback: dict[str, Any] = {}
    details: dict[str, Any] = {}
    heat: dict[str, dict[str, dict[str, float | None]]] = {MODEL: {}, bl.LINEAR: {}}
    heat_n: dict[str, dict[str, int]] = {}  # clips behind each heatmap cell
    bars: dict[str, tuple[float, float, float]] = {}
    bar_base: dict[str, float] = {}
    cm_true: list[str] = []
    cm_pred: list[str] = []
    levels: list[str] = records[0]["levels"] if records else []
    for rec in records:
        split = Split(**rec["split"])
        label = split_label(split, n_seeds)
        systems = rec["systems"]
        y_train = [by_id[i].proficiency for i in split.train_ids if by_id[i].proficiency in levels]
        groups: dict[str, list[Sample]] = {}
        for i in split.test_ids:
            s = by_id[i]
            groups.setdefault(report_group(s, cfg.eval_only_sources, trainable_sports), []).append(s)
        row_name = " + ".join(split.train_sports)
        unseen_fb: dict[str, list[Sample]] = {"unseen sports": [], "sports seen in training": []}
        for group, items in sorted(groups.items()):
            sport = items[0].sport
            seen = (
                "few-shot"
                if sport in split.heldout and split.shot_ids
                else ("yes" if sport in split.train_sports else "no")
            )
            key = f"{label} | test: {group}"
            y_true = [s.proficiency for s in items]
            rows: dict[str, Any] = {}
            for name in (s.value for s in LEVEL_SYSTEMS):
                if name not in systems:
                    continue
                preds = [systems[name][s.id] for s in items]
                y_pred = [p.get("level") or levels[0] for p in preds]
                scores = None
                if len(levels) == 2:  # score of levels[1]: logit margin when known (probabilities saturate)
                    scores = np.array(
                        [p["logits"][1] - p["logits"][0] if "logits" in p else p["probs"][1] for p in preds]
                    )
                g = proficiency_metrics(y_true, y_pred, levels, y_train=y_train, scores=scores, **boot)
                rows[name] = g
                details.setdefault(key, {})[name] = g.to_dict()
                if name == MODEL and seen == "no":
                    cm_true += y_true
                    cm_pred += y_pred
            if MODEL in systems and not opts.no_llm and any("llm_level" in systems[MODEL][s.id] for s in items):
                yl = np.array([systems[MODEL][s.id].get("llm_level") or "" for s in items])
                ci = bootstrap_ci(accuracy, np.array(y_true), yl, n=opts.n_boot, seed=0)
                rows["llm"] = {
                    "value": round(100 * ci.point, 2),
                    "low": round(100 * ci.low, 2) if np.isfinite(ci.low) else None,
                    "high": round(100 * ci.high, 2) if np.isfinite(ci.high) else None,
                }
            base = rows[bl.LINEAR].rows["accuracy"]["baselines"] if bl.LINEAR in rows else {}
            acc = {n: _ci_cell(g.rows.get("accuracy")) for n, g in rows.items() if n != "llm"}
            table_row: dict[str, Any] = {"n": len(items), "sport in training": seen}
            table_row[f"{MODEL} (verdict)"] = acc.get(MODEL)
            if System.PROBE.value in acc:
                table_row[System.PROBE.value] = acc[System.PROBE.value]
            if "llm" in rows:
                table_row[f"{MODEL} (LLM-stated level)"] = rows["llm"]
            if E2E in acc:
                table_row[f"{E2E} (verdict)"] = acc[E2E]
            table_row[bl.LINEAR] = acc.get(bl.LINEAR)
            table_row[bl.NN] = acc.get(bl.NN)
            if bl.BEST_FEATURE in acc:
                table_row[bl.BEST_FEATURE] = acc[bl.BEST_FEATURE]
            table_row["majority"] = base.get("majority")
            table_row["random"] = base.get("random")
            table_row[f"{MODEL} vs majority"] = _verdict(acc.get(MODEL), base.get("majority"))
            table_row[f"{bl.LINEAR} vs majority"] = _verdict(acc.get(bl.LINEAR), base.get("majority"))
            (acc_unseen if seen != "yes" else acc_seen)[key] = table_row
            for metric, target in (("macro-F1", f1_rows), ("AUROC", auroc_rows)):
                mrow: dict[str, Any] = {"n": len(items), "sport in training": seen}
                for name, g in rows.items():
                    if name != "llm" and metric in g.rows:
                        mrow[name] = _ci_cell(g.rows[metric])
                if metric == "macro-F1":
                    mrow["majority"] = rows[bl.LINEAR].rows[metric]["baselines"].get("majority")
                mrow["random"] = (
                    rows[bl.LINEAR].rows[metric]["baselines"].get("random") if metric in rows[bl.LINEAR].rows else None
                )
                target[key] = mrow
            for name, cells in heat.items():
                if name in rows:
                    cells.setdefault(row_name, {})[group] = rows[name].rows["accuracy"]["value"]
            heat_n.setdefault(row_name, {})[group] = len(items)
            if seen != "yes" and MODEL in rows:
                bar_key = group if split.protocol != "intra" and n_seeds == 1 and len(split.heldout) == 1 else key
                a = rows[MODEL].rows["accuracy"]
                bars[bar_key] = (
                    a["value"],
                    a["low"] if a["low"] is not None else np.nan,
                    a["high"] if a["high"] is not None else np.nan,
                )
                bar_base[bar_key] = base.get("majority")
            # skill-attributes: only groups whose every clip is annotated (in gym_vn only the correct clips are,
            # with an empty set, and scoring that subset would reward predicting nothing)
            annotated = [s for s in items if bl.reference_attributes(s) is not None]
            if annotated and len(annotated) == len(items):
                refs = [bl.reference_attributes(s) or [] for s in annotated]
                arow: dict[str, Any] = {"n": len(annotated), "sport in training": seen}
                for name, field_, title in (
                    (MODEL, "attributes", f"{MODEL} (Stage I LLM)"),
                    (MODEL, "attributes_probe", f"{MODEL} (attribute probe)"),
                    (E2E, "attributes", f"{E2E} (Stage I LLM)"),
                    (bl.KNN_ATTR, "attributes", bl.KNN_ATTR),
                    (bl.NN, "attributes", bl.NN),
                    (bl.FREQUENT, "attributes", bl.FREQUENT),
                ):
                    if name not in systems or field_ not in systems[name][annotated[0].id]:
                        continue
                    g = attribute_metrics([systems[name][s.id][field_] for s in annotated], refs, **boot)
                    arow[title] = _ci_cell(g.rows["IoU@0.7"])
                    details.setdefault(key, {})[f"attributes: {title}"] = {"rows": g.rows}
                attr_rows[key] = arow
            unseen_fb["unseen sports" if seen != "yes" else "sports seen in training"] += items
        # feedback text (only when the LLM generated it): pooled per split over unseen / seen sports
        if not opts.no_llm and MODEL in systems:
            for part, items in unseen_fb.items():
                items = [s for s in items if bl.reference_feedback(s)]
                if not items or "feedback" not in systems[MODEL][items[0].id]:
                    continue
                refs_fb = [bl.reference_feedback(s) for s in items]
                groups_fb = {}
                for name in (MODEL, E2E, bl.NN):
                    if name in systems:
                        groups_fb[name] = feedback_metrics(
                            [systems[name][s.id].get("feedback", "") for s in items],
                            refs_fb,
                            tokenizer=opts.tokenizer,
                            meteor=opts.meteor,
                            **boot,
                        )
                main = groups_fb.pop(MODEL)
                section = with_baselines(main.rows, **{n: g for n, g in groups_fb.items()})
                feedback[f"{label}, {part} (n={len(items)})"] = section
                details.setdefault(f"{label} feedback {part}", {})["info"] = main.info

    metrics: dict[str, Any] = {}
    if acc_unseen:
        metrics["Proficiency accuracy: sports the model never trained on (transfer)"] = acc_unseen
    if acc_seen:
        metrics["Proficiency accuracy: sports seen in training (held-out clips)"] = acc_seen
    if f1_rows:
        metrics["Proficiency macro-F1"] = f1_rows
    if auroc_rows and any(len(r) > 3 for r in auroc_rows.values()):
        metrics["Proficiency AUROC (score of the better level)"] = auroc_rows
    if attr_rows:
        metrics["Skill-attributes IoU@0.7"] = attr_rows
    if feedback:
        metrics["Feedback text"] = feedback
    plots: dict[str, Path] = {}
    if cm_true:
        counts = np.zeros((len(levels), len(levels)), int)
        for t, p in zip(cm_true, cm_pred, strict=True):
            counts[levels.index(t), levels.index(p)] += 1
        metrics[f"Confusion matrix ({MODEL} verdict, sports never trained on)"] = {
            "labels": levels,
            "counts": counts.tolist(),
        }
        plots["confusion matrix"] = plot_confusion(
            counts, levels, plot_dir / "confusion.png", title=f"{MODEL} verdict, unseen sports"
        )
    if bars:
        plots["accuracy per held-out sport"] = plot_bars(
            bars,
            plot_dir / "per_sport.png",
            baseline=bar_base,
            baseline_label="majority",
            ylabel="accuracy (%)",
            title=f"{MODEL} verdict on sports never trained on",
            ylim=(0, 105),
        )
    for name, cells in heat.items():
        if cells:
            cols = sorted({c for r in cells.values() for c in r})
            rows_ = list(cells)
            matrix = [[cells[r].get(c) for c in cols] for r in rows_]
            counts = [[heat_n.get(r, {}).get(c) for c in cols] for r in rows_]
            slug = "transfer_model" if name == MODEL else "transfer_linear_probe"
            plots[f"transfer heatmap: {name}"] = plot_transfer_heatmap(
                matrix,
                [f"trained on {r}" for r in rows_],
                cols,
                plot_dir / f"{slug}.png",
                title=f"Accuracy of {name} (rows: training sports)",
                counts=counts,
            )
    return metrics, plots, details
