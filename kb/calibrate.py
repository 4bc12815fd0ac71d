"""Fit the fusion weights, the acceptance threshold and the out-of-scope margin on the calibration half of
the labelled set.

The objective is the most correct answers on in-scope utterances while false accepts on out-of-scope ones
stay at or under TARGET_FALSE_ACCEPT, leaving room under the 5 % the product promises.
"""

from __future__ import annotations

import itertools

import numpy as np

from kb.evaluation import Utterance
from kb.matcher import Calibration, Features, Matcher

TARGET_FALSE_ACCEPT = 0.03
WEIGHT_STEP = 0.05
THRESHOLDS = np.round(np.arange(0.20, 0.90, 0.01), 3)
MARGINS = np.round(np.arange(-0.20, 0.151, 0.025), 3)


def fit(matcher: Matcher, utterances: list[Utterance]) -> tuple[Calibration, float, float]:
    """Returns the calibration and its accuracy and false-accept rate on the given utterances."""
    ids = matcher.ids
    n = len(ids)
    feats: list[Features] = [matcher.features(u.text) for u in utterances]
    sem = np.stack([np.clip(f.semantic, 0, 1) for f in feats])
    lex = np.stack([f.lexical for f in feats])
    kw = np.stack([f.keyword for f in feats])
    expected = np.array([ids.index(u.expected) if u.expected in ids else -1 for u in utterances])
    in_scope = np.array([u.expected is not None for u in utterances])
    out_count, in_count = max(1, int((~in_scope).sum())), max(1, int(in_scope.sum()))
    best: tuple[tuple[float, float], Calibration, float] | None = None
    steps = np.round(np.arange(0, 1 + 1e-9, WEIGHT_STEP), 3)
    for ws, wl in itertools.product(steps, steps):
        wk = round(1 - ws - wl, 3)
        if wk < 0:
            continue
        fused = ws * sem + wl * lex + wk * kw
        entries = fused[:, :n]
        top = entries.argmax(axis=1)
        top_score = entries[np.arange(len(top)), top]
        oos_score = fused[:, n:].max(axis=1) if fused.shape[1] > n else np.full(len(top), -np.inf)
        right = (top == expected) & in_scope
        for margin in MARGINS if fused.shape[1] > n else [0.0]:
            not_rejected = oos_score < top_score + margin
            keys: list[tuple[float, float]] = []
            for t in THRESHOLDS:
                accepted = (top_score >= t) & not_rejected
                fa = float((accepted & ~in_scope).sum() / out_count)
                acc = float((right & accepted).sum() / in_count)
                # Accuracy first, then fewer false accepts; over the target is out.
                keys.append((acc, -fa) if fa <= TARGET_FALSE_ACCEPT else (-1.0, 0.0))
            top_key = max(keys)
            if top_key[0] < 0 or (best is not None and top_key <= best[0]):
                continue
            # The middle of the thresholds that tie: the most room on both sides for unseen wording.
            tied = [float(t) for t, k in zip(THRESHOLDS, keys, strict=True) if k == top_key]
            threshold = tied[len(tied) // 2]
            best = (top_key, Calibration(float(ws), float(wl), float(wk), threshold, float(margin)), -top_key[1])
    if best is None:
        raise RuntimeError("no weights and threshold keep false accepts under the target")
    (acc, _), calibration, fa = best
    return calibration, acc, fa
