"""The embedded language model (SmolLM2-135M-Instruct) as a comment-level praise gate, measured leave-one-set-out.

Each comment gets the log-odds ``log P(" correction") - log P(" praise")`` for the next token after a few-shot
prompt of six example comments written for this script (from none of the labelled sets)::

    Coach comment: Great depth on that squat, chest stayed up the whole time.
    Type: praise
    ...
    Coach comment: <the comment>
    Type:

ROC AUC of that score, correcting comments against praise-only ones, per set. Gate: a comment whose score is below
a threshold gets no attribute (praise). The threshold is chosen on the other four sets (the largest, on a 0.1 grid,
that gates at most 0.5 % of their correcting comments) and the held-out set is scored by
``benchmarks/bench_discover.py`` (precision, recall, praise-as-fault) with the current extractor.

Result (not shipped, see docs/attributes.md): AUC 0.99 / 0.996 / 0.994 / 0.979 / 0.901 (dev / seen / blind /
blind2 / blind3), but blind3's seven praise-as-fault comments are not in the low tail (7/50 unchanged), and recall
drops on seen (0.989 -> 0.979) and blind (0.991 -> 0.981).

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/praise_llm_gate_loso.py      # about 4 minutes on 2 cores
"""

from __future__ import annotations

import os
import sys

import numpy as np

SET_NAMES = ("dev", "seen", "blind", "blind2", "blind3")
SHOTS = (
    ("Great depth on that squat, chest stayed up the whole time.", "praise"),
    ("Your knees are caving in on the way up, push them out.", "correction"),
    ("Lovely line on the entry, barely a ripple.", "praise"),
    ("Don't rush the approach, you're taking off too early.", "correction"),
    ("Feet were quiet on every hold, exactly what I want to see.", "praise"),
    ("Arms are bending on the serve, keep them long.", "correction"),
)
GRID = [round(float(x), 1) for x in np.arange(-4.5, -2.95, 0.1)]
MAX_CORRECTING_GATED = 0.005
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def correction_log_odds(texts: list[str], batch: int = 16) -> list[float]:
    """``log P(" correction") - log P(" praise")`` after the few-shot prompt, per comment."""
    import torch

    from crosstrainer.model.llm import load_causal_lm

    model, tok = load_causal_lm("smollm2")
    tok.padding_side = "left"
    head = "".join(f"Coach comment: {t}\nType: {label}\n\n" for t, label in SHOTS)
    praise, correction = tok.encode(" praise")[0], tok.encode(" correction")[0]
    scores: list[float] = []
    for i in range(0, len(texts), batch):
        enc = tok([f"{head}Coach comment: {t}\nType:" for t in texts[i : i + batch]], return_tensors="pt", padding=True)
        with torch.inference_mode():
            log_probs = model(**enc).logits[:, -1].float().log_softmax(-1)
        scores += (log_probs[:, correction] - log_probs[:, praise]).tolist()
    return scores


def main() -> int:
    import praise_clause_loso as clause  # scripts/ is on sys.path when a script here runs
    from sklearn.metrics import roc_auc_score

    from crosstrainer.discover import DiscoverConfig
    from crosstrainer.discover.offline import OfflineExtractor

    bench = clause._bench()
    cfg = DiscoverConfig(min_count=1)
    extractor = OfflineExtractor(cfg)
    sets = {n: bench.load_labelled(bench.SETS[n]) for n in SET_NAMES}
    score = {n: correction_log_odds([r["text"] for r in rows]) for n, rows in sets.items()}

    def threshold(train: list[str]) -> float:
        correcting = [s for n in train for s, r in zip(score[n], sets[n]) if r["faults"]]
        ok = [t for t in GRID if sum(s < t for s in correcting) <= MAX_CORRECTING_GATED * len(correcting)]
        return max(ok) if ok else min(GRID) - 1

    print(f"{'held out':8} {'auc':>5} {'t':>5}  {'none: P / R / praise->fault':30} gated: P / R / praise->fault")
    for held in SET_NAMES:
        rows = sets[held]
        judged = [(s, bool(r["faults"])) for s, r in zip(score[held], rows) if r["faults"] or r["praise"]]
        auc = roc_auc_score([c for _, c in judged], [s for s, _ in judged])
        t = threshold([n for n in SET_NAMES if n != held])
        ext, record = clause.fault_clauses(extractor, rows)
        cells = []
        for cut in (-np.inf, t):
            gated = np.asarray([1.0 if s < cut else 0.0 for s, rec in zip(score[held], record) for _ in rec])
            m, _ = clause.gated_predict(bench, ext, record, rows, cfg, gated, 0.5)
            paf = f"{m['n_praise_as_fault']}/{m['n_praise_comments']}"
            cells.append(f"{m['precision']:.3f} / {m['recall']:.3f} / {paf}")
        print(f"{held:8} {auc:5.3f} {t:5.1f}  {cells[0]:30} {cells[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
