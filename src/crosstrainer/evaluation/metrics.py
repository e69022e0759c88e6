"""Evaluation metrics of the paper with bootstrap CIs and baselines beside them (definitions: docs/evaluation.md).

Three groups, each a :class:`MetricGroup` whose ``rows`` feed :func:`crosstrainer.evaluation.report.write_run`:

* feedback text: :func:`feedback_metrics` -> BLEU@4, METEOR, ROUGE-L, CIDEr (pycocoevalcap 1.2, 0-100 scale);
* skill-attributes: :func:`attribute_metrics` -> IoU@0.7, precision, recall, F1 (embedding-matched sets);
* proficiency: :func:`proficiency_metrics` -> accuracy, macro-F1, AUROC, confusion matrix, random/majority baselines.

A row looks like ``{"value": 53.1, "low": 48.0, "high": 58.2, "baselines": {"random": 25.0, "majority": 31.1}}``.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crosstrainer.attributes.vocabulary import normalise_name
from crosstrainer.errors import MissingResourceError, UsageError
from crosstrainer.evaluation.bootstrap import (
    CI,
    accuracy,
    auroc_binary,
    bootstrap_ci,
    macro_f1_codes,
    mean,
    ratio_of_sums,
)

TEXT_METRICS = ("BLEU@4", "METEOR", "ROUGE-L", "CIDEr")
DEFAULT_TEMPLATES: tuple[str, ...] = (
    "the feedback is:",
    "feedback:",
    "assistant:",
    "answer:",
    "response:",
    "expert feedback:",
    "expert commentary:",
    "commentary:",
    "coach:",
    "output:",
)
_SPECIAL_TOKENS = re.compile(r"<\|[^|<>]{1,40}\|>|</?s>|\[/?INST\]|<pad>|<eos>|<bos>|<unk>", re.IGNORECASE)
NO_JAVA = "java not found on PATH: {what} skipped (install a Java runtime, e.g. `apt-get install default-jre-headless`)"


@dataclass
class MetricGroup:
    """Scores of one metric group.

    ``rows``: metric name -> ``{"value", "low", "high", "baselines": {name: value}}`` (0-100 scale);
    ``per_item``: metric name -> per-item array (what the bootstrap resamples); ``info``: JSON-friendly details
    (tokenizer, what was stripped, skipped metrics with the reason, confusion matrix...).
    """

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    per_item: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "info": self.info}


def _row(ci: CI, scale: float = 100.0, baselines: dict[str, float | None] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = ci.as_dict(scale=scale)
    if baselines:
        row["baselines"] = {k: (None if v is None else round(float(v), 2)) for k, v in baselines.items()}
    return row


# ============================================================ feedback text ==========================================


def _norm_word(w: str) -> str:
    return re.sub(r"^\W+|\W+$", "", w.lower())


def strip_templates(
    preds: Sequence[str],
    refs: Sequence[str | Sequence[str]],
    templates: Sequence[str] = DEFAULT_TEMPLATES,
    min_share: float = 0.9,
    min_items: int = 10,
) -> tuple[list[str], list[list[str]], dict[str, Any]]:
    """Remove prompt templates and answer prefixes shared by predictions and references before scoring.

    1. chat special tokens (``<|eot_id|>``, ``</s>``, ``[INST]``...) anywhere;
    2. any of ``templates`` at the start of a text, case-insensitive, repeatedly (``"Assistant: The feedback is:"``);
    3. the longest leading word sequence (compared lower-case, punctuation at word ends ignored) that starts at least
       ``min_share`` of the predictions AND ``min_share`` of all reference strings; only with ``>= min_items`` items,
       since with few items any shared opening would qualify.

    >>> p, r, info = strip_templates(["Assistant: Keep your back straight."], [["The feedback is: Bend knees."]])
    >>> p, r, info["shared_prefix"]
    (['Keep your back straight.'], [['Bend knees.']], None)

    Returns the stripped predictions, the stripped references (always a list of lists) and what was removed.
    """
    ref_lists = _as_ref_lists(refs)
    tmpl = sorted({t.strip().lower() for t in templates if t.strip()}, key=len, reverse=True)
    removed = 0

    def clean(text: str) -> str:
        nonlocal removed
        text = _SPECIAL_TOKENS.sub(" ", str(text)).strip()
        again = True
        while again:
            again = False
            for t in tmpl:
                if text.lower().startswith(t):
                    text, again = text[len(t) :].lstrip(), True
                    removed += 1
                    break
        return text

    out_p = [clean(p) for p in preds]
    out_r = [[clean(r) for r in rs] for rs in ref_lists]
    flat_r = [r for rs in out_r for r in rs]

    prefix: tuple[str, ...] = ()
    if len(out_p) >= min_items and flat_r:
        words_p = [[_norm_word(w) for w in p.split()] for p in out_p]
        words_r = [[_norm_word(w) for w in r.split()] for r in flat_r]
        k = 1
        while True:
            counts = Counter(tuple(w[:k]) for w in words_p if len(w) > k)
            if not counts:
                break
            cand, n_p = counts.most_common(1)[0]
            n_r = sum(1 for w in words_r if len(w) > k and tuple(w[:k]) == cand)
            if n_p < min_share * len(words_p) or n_r < min_share * len(words_r):
                break
            prefix, k = cand, k + 1

    n_cut = {"preds": 0, "refs": 0}

    def cut(text: str, kind: str) -> str:
        words = text.split()
        if prefix and len(words) > len(prefix) and tuple(_norm_word(w) for w in words[: len(prefix)]) == prefix:
            n_cut[kind] += 1
            return " ".join(words[len(prefix) :])
        return text

    out_p = [cut(p, "preds") for p in out_p]
    out_r = [[cut(r, "refs") for r in rs] for rs in out_r]
    info = {
        "templates_removed": removed,
        "shared_prefix": " ".join(prefix) if prefix else None,
        "shared_prefix_stripped_from": n_cut,
    }
    return out_p, out_r, info


def _as_ref_lists(refs: Sequence[str | Sequence[str]]) -> list[list[str]]:
    out = []
    for i, r in enumerate(refs):
        rs = [r] if isinstance(r, str) else [str(x) for x in r]
        if not rs:
            raise UsageError(f"feedback item {i} has no reference text")
        out.append(rs)
    return out


_PTB_DROP = {"''", "'", "``", "`", "-lrb-", "-rrb-", "-lcb-", "-rcb-", ".", "?", "!", ",", ":", "-", "--", "...", ";"}
_CONTRACTION = re.compile(r"(?<=[a-z])(n't)\b|(?<=[a-z])('(?:s|re|ve|ll|d|m))\b")
_TOKEN = re.compile(r"n't|'(?:s|re|ve|ll|d|m)\b|[a-z0-9]+(?:[.\-/'][a-z0-9]+)*|[%&@#$+=<>*]")


def simple_tokenize(text: str) -> str:
    """Pure-Python stand-in for the COCO PTB tokenizer: lower-case, split contractions, drop punctuation.

    >>> simple_tokenize("Don't lean back; keep your elbows tucked!")
    "do n't lean back keep your elbows tucked"

    Matches PTBTokenizer + pycocoevalcap's punctuation filter on ordinary sentences; it differs on brackets (PTB keeps
    ``-lrb-``/``-rrb-`` tokens, a case quirk of pycocoevalcap) and trailing abbreviation dots (``e.g.``).
    """
    text = _CONTRACTION.sub(lambda m: " " + (m.group(1) or m.group(2)), text.lower())
    return " ".join(t for t in _TOKEN.findall(text) if t not in _PTB_DROP)


def _ptb_tokenize(texts: list[str]) -> list[str]:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    data = {i: [{"caption": re.sub(r"\s+", " ", t)}] for i, t in enumerate(texts)}
    out = PTBTokenizer().tokenize(data)
    if len(out) != len(texts):  # pragma: no cover - PTB line count mismatch
        raise MissingResourceError(f"PTBTokenizer returned {len(out)} lines for {len(texts)} texts")
    return [out[i][0] for i in range(len(texts))]


def tokenize(texts: Sequence[str], method: str = "auto") -> tuple[list[str], str]:
    """Tokenise like the COCO caption evaluation; returns ``(tokenised texts, method used)``.

    ``method``: ``"ptb"`` (Stanford PTBTokenizer through Java, what COCO uses), ``"simple"`` (:func:`simple_tokenize`),
    ``"auto"`` (ptb when ``java`` is on PATH, else simple).
    """
    if method not in ("auto", "ptb", "simple"):
        raise UsageError(f"unknown tokenizer {method!r}: use auto, ptb or simple")
    texts = [str(t).replace("|||", " ") for t in texts]
    if method == "auto":
        method = "ptb" if shutil.which("java") else "simple"
    if method == "ptb":
        if not shutil.which("java"):
            raise MissingResourceError(NO_JAVA.format(what="PTB tokenisation"))
        return _ptb_tokenize(texts), "ptb"
    return [simple_tokenize(t) for t in texts], "simple"


def bleu_stats(preds: Sequence[str], refs: Sequence[Sequence[str]], n: int = 4) -> np.ndarray:
    """Per-item BLEU sufficient statistics ``(N, 2 + 2n)``: test length, closest reference length, guesses, matches.

    Computed with pycocoevalcap's own ``cook_refs``/``cook_test``; summing rows and calling :func:`bleu_from_stats`
    reproduces ``Bleu(4).compute_score`` (corpus BLEU), which makes an exact vectorised bootstrap possible.
    """
    from pycocoevalcap.bleu.bleu_scorer import cook_refs, cook_test

    rows = []
    for p, rs in zip(preds, refs, strict=True):
        c = cook_test(p, cook_refs(rs, n=n), eff="closest", n=n)
        rows.append([c["testlen"], c["reflen"], *c["guess"], *c["correct"]])
    return np.asarray(rows, dtype=float).reshape(len(rows), 2 + 2 * n)


def bleu_from_stats(stats: np.ndarray, n: int = 4) -> np.ndarray | float:
    """Corpus BLEU@n from summed statistics (last axis as in :func:`bleu_stats`); pycocoevalcap's formula."""
    small, tiny = 1e-9, 1e-15
    testlen, reflen = stats[..., 0], stats[..., 1]
    guess, correct = stats[..., 2 : 2 + n], stats[..., 2 + n : 2 + 2 * n]
    log_p = np.log((correct + tiny) / (guess + small)).sum(axis=-1)
    bleu = np.exp(log_p / n)
    ratio = (testlen + tiny) / (reflen + small)
    return np.where(ratio < 1, bleu * np.exp(1 - 1 / ratio), bleu)


def _bleu_batched(stats: np.ndarray) -> np.ndarray | float:
    return bleu_from_stats(np.sum(stats, axis=-2))


# METEOR 1.5 English defaults: (alpha, beta, gamma, delta) and module weights (exact, stem, synonym, paraphrase)
_METEOR_PARAMS = (0.85, 0.2, 0.6, 0.75)
_METEOR_WEIGHTS = np.array([1.0, 0.6, 0.8, 0.6])


def meteor_from_stats(stats: np.ndarray) -> np.ndarray | float:
    """METEOR 1.5 score from (summed) 23-number sufficient statistics, as ``MeteorScorer.computeMetrics`` does it.

    Layout: test len, ref len, test function words, ref function words, 4 modules x (test content, ref content,
    test function, ref function) matches, chunks, test word matches, ref word matches.
    """
    alpha, beta, gamma, delta = _METEOR_PARAMS
    s = np.asarray(stats, dtype=float)
    tl, rl, tf, rf = s[..., 0], s[..., 1], s[..., 2], s[..., 3]
    st = s[..., 4:20].reshape((*s.shape[:-1], 4, 4))
    t_match = st[..., 0].sum(-1) + st[..., 2].sum(-1)
    r_match = st[..., 1].sum(-1) + st[..., 3].sum(-1)
    t_w = (_METEOR_WEIGHTS * (delta * st[..., 0] + (1 - delta) * st[..., 2])).sum(-1)
    r_w = (_METEOR_WEIGHTS * (delta * st[..., 1] + (1 - delta) * st[..., 3])).sum(-1)
    chunks, twm, rwm = s[..., 20], s[..., 21], s[..., 22]
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = t_w / (delta * (tl - tf) + (1 - delta) * tf)
        rec = r_w / (delta * (rl - rf) + (1 - delta) * rf)
        fmean = 1.0 / ((1 - alpha) / prec + alpha / rec)
        frag = np.where((t_match == tl) & (r_match == rl) & (chunks == 1), 0.0, chunks / ((twm + rwm) / 2))
        score = fmean * (1 - gamma * frag**beta)
    return np.maximum(np.nan_to_num(score, nan=0.0), 0.0)


def _meteor_aggregable(stats: np.ndarray) -> np.ndarray:
    """Per-item stats as METEOR aggregates them: a perfect segment (one chunk, all words matched) adds no chunk."""
    s = np.array(stats, dtype=float)
    st = s[:, 4:20].reshape(-1, 4, 4)
    perfect = (
        (st[:, :, 0].sum(1) + st[:, :, 2].sum(1) == s[:, 0])
        & (st[:, :, 1].sum(1) + st[:, :, 3].sum(1) == s[:, 1])
        & (s[:, 20] == 1)
    )
    s[perfect, 20] = 0.0
    return s


def _meteor_batched(stats: np.ndarray) -> np.ndarray | float:
    return meteor_from_stats(np.sum(stats, axis=-2))


def meteor_scores(preds: Sequence[str], refs: Sequence[Sequence[str]]) -> tuple[float, np.ndarray, np.ndarray]:
    """Run pycocoevalcap's METEOR 1.5 once for all pairs: ``(corpus score, per-item scores, per-item stats (N, 23))``.

    Same protocol as ``Meteor().compute_score`` (one ``SCORE`` line per item, then one ``EVAL`` line), keeping the
    statistics so the bootstrap can re-aggregate resamples in Python. Needs ``java`` (about 6 s to start).
    """
    if not shutil.which("java"):
        raise MissingResourceError(NO_JAVA.format(what="METEOR"))
    from pycocoevalcap.meteor.meteor import Meteor

    m = Meteor()
    try:
        with m.lock:
            stats = [m._stat(p, list(rs)) for p, rs in zip(preds, refs, strict=True)]
            m.meteor_p.stdin.write(("EVAL ||| " + " ||| ".join(stats) + "\n").encode())
            m.meteor_p.stdin.flush()
            per_item = [float(m.meteor_p.stdout.readline().strip()) for _ in stats]
            corpus = float(m.meteor_p.stdout.readline().strip())
    finally:
        m.meteor_p.stdin.close()
        m.meteor_p.kill()
        m.meteor_p.wait()
    return corpus, np.asarray(per_item), np.asarray([[float(x) for x in s.split()] for s in stats])


def feedback_metrics(
    preds: Sequence[str],
    refs: Sequence[str | Sequence[str]],
    *,
    metrics: Sequence[str] = TEXT_METRICS,
    tokenizer: str = "auto",
    strip: bool = True,
    templates: Sequence[str] = DEFAULT_TEMPLATES,
    meteor: bool | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> MetricGroup:
    """BLEU@4, METEOR, ROUGE-L and CIDEr(-D) of feedback texts against one or more references per item (0-100).

    ``preds[i]`` is one generated text, ``refs[i]`` a reference string or a list of them. Steps: strip templates and
    shared prefixes (:func:`strip_templates`, unless ``strip=False``), tokenise (:func:`tokenize`), score with
    pycocoevalcap. ``meteor``: None = run it if ``java`` is on PATH (else skip, reason in ``info["skipped"]``),
    True = required, False = skip. CIs: BLEU@4 and METEOR re-aggregate per-item sufficient statistics for every
    resample (exact corpus scores); ROUGE-L and CIDEr-D average per-item scores (CIDEr's IDF is kept from all items).
    """
    ref_lists = _as_ref_lists(refs)
    if len(preds) != len(ref_lists):
        raise UsageError(f"{len(preds)} predictions but {len(ref_lists)} reference items")
    unknown = [m for m in metrics if m not in TEXT_METRICS]
    if unknown:
        raise UsageError(f"unknown feedback metric(s) {unknown}: choose from {list(TEXT_METRICS)}")
    info: dict[str, Any] = {"n_items": len(preds), "skipped": {}}
    if strip:
        preds, ref_lists, info["stripped"] = strip_templates(preds, ref_lists, templates)
    group = MetricGroup(info=info)
    if not preds:
        return group
    flat = list(preds) + [r for rs in ref_lists for r in rs]
    tokens, info["tokenizer"] = tokenize(flat, tokenizer)
    tok_p, pos = tokens[: len(preds)], len(preds)
    tok_r = []
    for rs in ref_lists:
        tok_r.append(tokens[pos : pos + len(rs)])
        pos += len(rs)
    gts = {i: tok_r[i] for i in range(len(preds))}
    res = {i: [tok_p[i]] for i in range(len(preds))}
    boot = {"n": n_boot, "seed": seed, "level": level}

    if "BLEU@4" in metrics:
        from pycocoevalcap.bleu.bleu import Bleu

        score, per = Bleu(4).compute_score(gts, res, verbose=0)
        stats = bleu_stats(tok_p, tok_r)
        ci = bootstrap_ci(_bleu_batched, stats, batched=True, **boot)
        group.rows["BLEU@4"] = _row(CI(score[3], ci.low, ci.high))
        group.per_item["BLEU@4"] = np.asarray(per[3])  # sentence-level BLEU@4 (for inspection)
    if "METEOR" in metrics:
        if meteor is False:
            info["skipped"]["METEOR"] = "disabled (meteor=False)"
        elif meteor is None and not shutil.which("java"):
            info["skipped"]["METEOR"] = NO_JAVA.format(what="METEOR")
        else:
            corpus, per, mstats = meteor_scores(tok_p, tok_r)
            ci = bootstrap_ci(_meteor_batched, _meteor_aggregable(mstats), batched=True, **boot)
            group.rows["METEOR"] = _row(CI(corpus, ci.low, ci.high))
            group.per_item["METEOR"] = per
    if "ROUGE-L" in metrics:
        from pycocoevalcap.rouge.rouge import Rouge

        score, per = Rouge().compute_score(gts, res)
        ci = bootstrap_ci(mean, np.asarray(per, dtype=float), batched=True, **boot)
        group.rows["ROUGE-L"] = _row(CI(float(score), ci.low, ci.high))
        group.per_item["ROUGE-L"] = np.asarray(per, dtype=float)
    if "CIDEr" in metrics:
        from pycocoevalcap.cider.cider import Cider

        score, per = Cider().compute_score(gts, res)
        ci = bootstrap_ci(mean, np.asarray(per, dtype=float), batched=True, **boot)
        group.rows["CIDEr"] = _row(CI(float(score), ci.low, ci.high))
        group.per_item["CIDEr"] = np.asarray(per, dtype=float)
    return group


# ============================================================ skill-attributes =======================================


normalise_attribute = normalise_name
"""``"  Body  Posture "`` -> ``"body posture"``: the vocabulary's own :func:`normalise_name`."""


def match_attributes(
    pred: Sequence[str], ref: Sequence[str], sim: np.ndarray, threshold: float = 0.7
) -> list[tuple[int, int, float]]:
    """One-to-one greedy matching: take pairs by descending similarity while both sides are free and sim >= threshold.

    ``sim[i, j]`` is the cosine similarity of ``pred[i]`` and ``ref[j]``; identical strings count as similarity 1.
    Ties are broken by (pred index, ref index). Returns ``[(pred index, ref index, similarity), ...]``.
    """
    sim = np.array(sim, dtype=float).reshape(len(pred), len(ref))
    for i, p in enumerate(pred):
        for j, r in enumerate(ref):
            if p == r:
                sim[i, j] = max(sim[i, j], 1.0)
    ii, jj = np.nonzero(sim >= threshold)
    order = sorted(zip(ii.tolist(), jj.tolist(), strict=True), key=lambda ij: (-sim[ij], ij[0], ij[1]))
    used_p: set[int] = set()
    used_r: set[int] = set()
    out = []
    for i, j in order:
        if i not in used_p and j not in used_r:
            used_p.add(i)
            used_r.add(j)
            out.append((i, j, float(sim[i, j])))
    return out


def _micro_f1(m: np.ndarray, n_pred: np.ndarray, n_ref: np.ndarray) -> np.ndarray | float:
    return ratio_of_sums(2 * np.asarray(m), np.asarray(n_pred) + np.asarray(n_ref))


def attribute_metrics(
    preds: Sequence[Sequence[str]],
    refs: Sequence[Sequence[str]],
    *,
    threshold: float = 0.7,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> MetricGroup:
    """Precision, recall, F1 and IoU@threshold of predicted vs reference skill-attribute SETS (0-100).

    Per item, names are normalised (:func:`normalise_attribute`) and de-duplicated into sets P and R, embedded with
    ``embed`` (default :func:`crosstrainer.text.embed`, MiniLM, L2-normalised rows) and matched one-to-one by
    :func:`match_attributes` (a pair matches when cosine similarity >= ``threshold``; identical names always match).
    With m matched pairs: precision = m/|P|, recall = m/|R|, F1 = 2m/(|P|+|R|), IoU = m/(|P|+|R|-m). Both sets empty
    scores 1 on all four; exactly one empty scores 0. Rows: item means (``IoU@0.7``, ``precision``, ``recall``,
    ``F1``) and pooled counts (``micro precision`` = sum m / sum |P|, ``micro recall``, ``micro F1``).

    >>> toy = lambda texts: np.eye(3)[[{"posture": 0, "body posture": 0}.get(t, 2 - (t == "balance")) for t in texts]]
    >>> g = attribute_metrics([["balance", "posture"]], [["body posture"]], embed=toy, n_boot=0)
    >>> g.rows["IoU@0.7"]["value"], g.info["matches"]
    (50.0, [[('posture', 'body posture', 1.0)]])
    """
    if len(preds) != len(refs):
        raise UsageError(f"{len(preds)} predicted attribute sets but {len(refs)} reference sets")
    sets_p = [list(dict.fromkeys(normalise_attribute(a) for a in p if normalise_attribute(a))) for p in preds]
    sets_r = [list(dict.fromkeys(normalise_attribute(a) for a in r if normalise_attribute(a))) for r in refs]
    vocab = sorted({a for s in sets_p + sets_r for a in s})
    if vocab:
        if embed is None:
            from crosstrainer.text import embed as default_embed

            embed = default_embed
        vecs = np.asarray(embed(vocab), dtype=float)
        if vecs.shape[0] != len(vocab):
            raise UsageError(f"embed returned {vecs.shape[0]} vectors for {len(vocab)} texts")
        vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    row_of = {a: i for i, a in enumerate(vocab)}

    matched, n_p, n_r, matches = [], [], [], []
    for p, r in zip(sets_p, sets_r, strict=True):
        sim = vecs[[row_of[a] for a in p]] @ vecs[[row_of[a] for a in r]].T if p and r else np.zeros((len(p), len(r)))
        pairs = match_attributes(p, r, sim, threshold)
        matches.append([(p[i], r[j], round(s, 4)) for i, j, s in pairs])
        matched.append(len(pairs))
        n_p.append(len(p))
        n_r.append(len(r))
    m, npr, nrf = (np.asarray(x, dtype=float) for x in (matched, n_p, n_r))
    both_empty = (npr == 0) & (nrf == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = {
            f"IoU@{threshold:g}": np.where(both_empty, 1.0, np.nan_to_num(m / (npr + nrf - m))),
            "precision": np.where(both_empty, 1.0, np.nan_to_num(m / npr)),
            "recall": np.where(both_empty, 1.0, np.nan_to_num(m / nrf)),
            "F1": np.where(both_empty, 1.0, np.nan_to_num(2 * m / (npr + nrf))),
        }
    group = MetricGroup(per_item=per, info={"n_items": len(preds), "threshold": threshold, "matches": matches})
    boot = {"n": n_boot, "seed": seed, "level": level}
    for name, values in per.items():
        group.rows[name] = _row(bootstrap_ci(mean, values, batched=True, **boot))
    group.rows["micro precision"] = _row(bootstrap_ci(ratio_of_sums, m, npr, batched=True, **boot))
    group.rows["micro recall"] = _row(bootstrap_ci(ratio_of_sums, m, nrf, batched=True, **boot))
    group.rows["micro F1"] = _row(bootstrap_ci(_micro_f1, m, npr, nrf, batched=True, **boot))
    return group


def frequent_attribute_sets(train_refs: Sequence[Sequence[str]], n_items: int, k: int | None = None) -> list[list[str]]:
    """Majority-style attribute baseline: the ``k`` most frequent training attributes for every test item.

    ``k`` defaults to the median training set size (at least 1). Score it with :func:`attribute_metrics`.
    """
    counts = Counter(normalise_attribute(a) for r in train_refs for a in set(r) if normalise_attribute(a))
    if k is None:
        k = max(1, int(np.median([len(set(r)) for r in train_refs]))) if train_refs else 1
    top = [a for a, _ in counts.most_common(k)]
    return [list(top) for _ in range(n_items)]


# ============================================================ proficiency ============================================


def _codes(values: Sequence[Any], labels: list[Any], what: str) -> np.ndarray:
    index = {lab: i for i, lab in enumerate(labels)}
    unknown = sorted({str(v) for v in values if v not in index})
    if unknown:
        raise UsageError(f"{what} contains labels not in {labels}: {unknown[:5]}")
    return np.asarray([index[v] for v in values], dtype=np.int64)


def chance_baselines(y_true_codes: np.ndarray, n_classes: int, majority_code: int) -> dict[str, dict[str, float]]:
    """Random-chance and majority-class baselines for accuracy and macro-F1 (fractions, not percent).

    Uniform random over K labels: expected accuracy 1/K; large-sample macro-F1 = mean over the K labels of
    2 p_c / (1 + K p_c) with p_c the test frequency of label c. Majority: always predict ``majority_code`` (the
    most frequent TRAINING label), scored exactly like a model.
    """
    k = n_classes
    p = np.bincount(y_true_codes, minlength=k) / max(1, len(y_true_codes))
    const = np.full_like(y_true_codes, majority_code)
    present = np.union1d(np.unique(y_true_codes), [majority_code])
    return {
        "random": {"accuracy": 1.0 / k, "macro_f1": float(np.mean(2 * p / (1 + k * p)))},
        "majority": {
            "accuracy": float(np.mean(y_true_codes == majority_code)),
            "macro_f1": float(macro_f1_codes(y_true_codes, const, k, present)),
        },
    }


def proficiency_metrics(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    labels: Sequence[Any],
    *,
    y_train: Sequence[Any] | None = None,
    scores: np.ndarray | None = None,
    positive: Any = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> MetricGroup:
    """Top-1 accuracy, macro-F1 (and AUROC for two labels with ``scores``) with CIs and chance baselines (0-100).

    ``labels`` fixes the class order of the confusion matrix (rows = true, columns = predicted). ``y_train`` gives the
    majority class (without it the test majority is used and ``info["majority_from"]`` says so). Macro-F1 averages
    over the labels present in ``y_true`` or ``y_pred`` (sklearn's default). ``scores``: for AUROC, the score of the
    ``positive`` label (default ``labels[1]``), shape (N,), or per-label scores (N, 2).

    >>> g = proficiency_metrics(["good", "bad", "good"], ["good", "good", "good"], ["bad", "good"], n_boot=0)
    >>> g.rows["accuracy"]["value"], g.rows["accuracy"]["baselines"], g.info["confusion_matrix"]["counts"]
    (66.67, {'random': 50.0, 'majority': 66.67}, [[0, 1], [0, 2]])
    """
    labels = list(labels)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise UsageError(f"proficiency labels must be at least 2 distinct values, got {labels}")
    if len(y_true) != len(y_pred):
        raise UsageError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    k = len(labels)
    yt, yp = _codes(y_true, labels, "y_true"), _codes(y_pred, labels, "y_pred")
    info: dict[str, Any] = {"n_items": len(yt), "labels": labels}
    if y_train is not None and len(y_train):
        ytr = _codes(y_train, labels, "y_train")
        info["majority_from"] = "train"
        info["train_label_counts"] = dict(zip(map(str, labels), np.bincount(ytr, minlength=k).tolist(), strict=True))
    else:
        ytr = yt
        info["majority_from"] = "test (no training labels given)"
    majority = int(np.argmax(np.bincount(ytr, minlength=k)))
    info["majority_label"] = labels[majority]
    info["test_label_counts"] = dict(zip(map(str, labels), np.bincount(yt, minlength=k).tolist(), strict=True))
    counts = np.zeros((k, k), dtype=int)
    np.add.at(counts, (yt, yp), 1)
    info["confusion_matrix"] = {"labels": [str(x) for x in labels], "counts": counts.tolist()}
    group = MetricGroup(info=info, per_item={"correct": (yt == yp).astype(float)})
    if len(yt) == 0:
        return group

    base = chance_baselines(yt, k, majority)
    boot = {"n": n_boot, "seed": seed, "level": level}
    present = np.union1d(np.unique(yt), np.unique(yp))

    def macro(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
        return macro_f1_codes(a, b, k, present)

    group.rows["accuracy"] = _row(
        bootstrap_ci(accuracy, yt, yp, batched=True, **boot),
        baselines={name: 100 * b["accuracy"] for name, b in base.items()},
    )
    group.rows["macro-F1"] = _row(
        bootstrap_ci(macro, yt, yp, batched=True, **boot),
        baselines={name: 100 * b["macro_f1"] for name, b in base.items()},
    )
    if scores is not None:
        if k != 2:
            raise UsageError(f"AUROC needs exactly 2 labels (binary correct/incorrect), got {k}")
        pos = labels.index(positive) if positive is not None and positive in labels else 1
        s = np.asarray(scores, dtype=float)
        if s.ndim == 2:
            s = s[:, pos]
        if s.shape != (len(yt),):
            raise UsageError(f"AUROC scores have shape {np.shape(scores)}, expected ({len(yt)},) or ({len(yt)}, 2)")
        info["auroc_positive"] = str(labels[pos])
        group.rows["AUROC"] = _row(
            bootstrap_ci(auroc_binary, (yt == pos).astype(int), s, batched=True, **boot),
            baselines={"random": 50.0, "majority": 50.0},
        )
    return group
