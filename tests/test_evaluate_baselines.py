"""LLM-free baselines, scoring of prediction records, and the Ego-Exo4D submission format, on SYNTHETIC data:
precomputed per-second features in .npy files whose first 4 features encode the label."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crosstrainer.data.sample import Commentary, Sample
from crosstrainer.errors import UsageError
from crosstrainer.evaluation import baselines as bl
from crosstrainer.evaluation.protocols import ProtocolConfig, make_splits
from crosstrainer.evaluation.runner import EvalOptions
from crosstrainer.evaluation.scoring import E2E, MODEL, score
from crosstrainer.evaluation.submission import egoexo_submission
from crosstrainer.evaluation.systems import levels_for

LEVELS = ["needs improvement", "good form"]
FEEDBACK = {"good form": "Good form: keep your back straight.", "needs improvement": "Lift your hips higher."}


def _samples(tmp_path, n_per_sport=12, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for sport in ("plank", "lunge", "squat"):
        for i in range(n_per_sport):
            good = i % 2 == 0
            feats = rng.normal(size=(3, 6)).astype(np.float32) * 0.3
            feats[:, :4] += 2.0 if good else -2.0  # the label dominates features 0-3 (2 noise features)
            path = tmp_path / f"{sport}_{i}.npy"
            np.save(path, feats)
            level = "good form" if good else "needs improvement"
            out.append(
                Sample(
                    id=f"syn/{sport}/{i}",
                    source="synthetic",
                    sport=sport,
                    proficiency=level,
                    features=str(path),
                    meta={"label": "C" if good else "L"},
                    commentary=[Commentary(text=FEEDBACK[level], attributes=[] if good else ["hip alignment"])],
                )
            )
    return out


def test_raw_baselines_fit_and_predict(tmp_path):
    samples = _samples(tmp_path)
    train, test = samples[:24], samples[24:]
    raw = bl.RawFeatures(encoder="synthetic")
    fitted = bl.RawBaselines.fit([raw(s) for s in train], train, LEVELS)
    preds = [fitted.predict(raw(s)) for s in test]
    acc = np.mean([p[bl.LINEAR]["level"] == s.proficiency for p, s in zip(preds, test, strict=True)])
    nn_acc = np.mean([p[bl.NN]["level"] == s.proficiency for p, s in zip(preds, test, strict=True)])
    assert acc == 1.0 and nn_acc == 1.0  # separable by construction
    for p, s in zip(preds, test, strict=True):
        assert np.isclose(sum(p[bl.LINEAR]["probs"]), 1.0)
        assert p[bl.NN]["feedback"] == FEEDBACK[s.proficiency]  # retrieved from a training clip of the same label
        assert p[bl.NN]["neighbour"] in {t.id for t in train}
        assert p[bl.KNN_ATTR]["attributes"] == ([] if s.proficiency == "good form" else ["hip alignment"])


def test_linear_probe_with_one_training_label_predicts_it(tmp_path):
    samples = [s for s in _samples(tmp_path) if s.proficiency == "good form"]
    raw = bl.RawFeatures(encoder="synthetic")
    fitted = bl.RawBaselines.fit([raw(s) for s in samples], samples, LEVELS)
    assert fitted.predict(raw(samples[0]))[bl.LINEAR] == {"level": "good form", "probs": [0.0, 1.0]}


def test_reference_helpers():
    s = Sample(id="a", commentary=[Commentary(text=" Keep going. "), Commentary(text="Brace.", attributes=["core"])])
    assert bl.reference_feedback(s) == "Keep going. Brace."
    assert bl.reference_attributes(s) == ["core"]
    assert bl.reference_attributes(Sample(id="b", commentary=[Commentary(text="x")])) is None
    assert levels_for([Sample(id="c", proficiency="Novice")]) == [
        "Novice",
        "Early Expert",
        "Intermediate Expert",
        "Late Expert",
    ]


def _record(samples, split, model_right: bool):
    """A prediction record as run_split writes it, with a fake model (always right or always wrong)."""
    raw = bl.RawFeatures(encoder="synthetic")
    by_id = {s.id: s for s in samples}
    train = [by_id[i] for i in split.train_ids]
    fitted = bl.RawBaselines.fit([raw(s) for s in train], train, LEVELS)
    systems: dict = {}
    for i in split.test_ids:
        s = by_id[i]
        for name, p in fitted.predict(raw(s)).items():
            systems.setdefault(name, {})[i] = p
        level = s.proficiency if model_right else LEVELS[1 - LEVELS.index(s.proficiency)]
        probs = [1.0, 0.0] if level == LEVELS[0] else [0.0, 1.0]
        pred = {
            "level": level,
            "probs": probs,
            "attributes_probe": [],
            "llm_level": level,
            "attributes": bl.reference_attributes(s),
            "feedback": FEEDBACK[level],
        }
        systems.setdefault(MODEL, {})[i] = pred
        systems.setdefault(E2E, {})[i] = {**pred, "feedback": "Try harder."}
        systems.setdefault(bl.FREQUENT, {})[i] = {"attributes": ["hip alignment"]}
    return {"split": split.to_dict(), "levels": LEVELS, "systems": systems}


def test_score_builds_tables_plots_and_baselines(tmp_path):
    samples = _samples(tmp_path)
    cfg = ProtocolConfig(protocol="zero-shot", holdout=[["plank"], ["squat"]], eval_only_sources=[])
    splits = make_splits(samples, cfg)
    records = [_record(samples, splits[0], True), _record(samples, splits[1], False)]
    opts = EvalOptions(n_boot=50, tokenizer="simple", meteor=False)
    metrics, plots, details = score(records, {s.id: s for s in samples}, cfg, opts, tmp_path / "plots")
    unseen = metrics["Proficiency accuracy: sports the model never trained on (transfer)"]
    right, wrong = unseen["held out plank | test: plank"], unseen["held out squat | test: squat"]
    assert right[f"{MODEL} (verdict)"]["value"] == 100.0 and wrong[f"{MODEL} (verdict)"]["value"] == 0.0
    assert right[f"{MODEL} vs majority"] == "above" and wrong[f"{MODEL} vs majority"] == "below"
    assert right["random"] == 50.0 and right["majority"] == 50.0 and right["sport in training"] == "no"
    assert right[f"{MODEL} (LLM-stated level)"]["value"] == 100.0
    seen = metrics["Proficiency accuracy: sports seen in training (held-out clips)"]
    assert all(r["sport in training"] == "yes" for r in seen.values())
    attrs = metrics["Skill-attributes IoU@0.7"]["held out plank | test: plank"]
    assert attrs[f"{MODEL} (Stage I LLM)"]["value"] == 100.0  # the fake model echoes the references
    assert attrs[bl.FREQUENT]["value"] < 100.0
    fb = metrics["Feedback text"]
    key = next(k for k in fb if k.startswith("held out plank, unseen"))
    assert fb[key]["BLEU@4"]["value"] == 100.0 and fb[key]["BLEU@4"]["baselines"][E2E] < 10
    assert set(plots) == {
        "confusion matrix",
        "accuracy per held-out sport",
        f"transfer heatmap: {MODEL}",
        "transfer heatmap: linear probe (raw)",
    }
    assert all(p.is_file() for p in plots.values())
    assert metrics[f"Confusion matrix ({MODEL} verdict, sports never trained on)"]["counts"] == [[6, 6], [6, 6]]
    assert details


def test_egoexo_submission_schema():
    sub = egoexo_submission(["take1", "take2"], [[0.1, 0.2, 0.3, 0.4]] * 2, [[[0.25] * 4] * 4] * 2)
    assert set(sub) == {"videos", "ego_model_predictions", "exo_model_predictions"}
    json.dumps(sub)
    with pytest.raises(UsageError, match="4 values"):
        egoexo_submission(["t"], [[0.5, 0.5]], [[[0.5, 0.5]] * 4])
    with pytest.raises(UsageError, match="4 views x 4 values"):  # eval_script.py wants 4 exo views per video
        egoexo_submission(["t"], [[0.25] * 4], [[0.25] * 4])
    with pytest.raises(UsageError, match="rows differ"):
        egoexo_submission(["t", "u"], [[0.25] * 4], [[[0.25] * 4] * 4])
