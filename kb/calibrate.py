"""Fit the fusion weights and the acceptance threshold on the calibration half of the labelled set.

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
THRESHOLDS = np.round(np.arange(0.20, 0.90, 0.005), 3)


def fit(matcher: Matcher, utterances: list[Utterance]) -> tuple[Calibration, float, float]:
    """Returns the calibration and its accuracy and false-accept rate on the given utterances."""
    ids = matcher.ids
    feats: list[Features] = [matcher.features(u.text) for u in utterances]
    sem = np.stack([np.clip(f.semantic, 0, 1) for f in feats])
    lex = np.stack([f.lexical for f in feats])
    kw = np.stack([f.keyword for f in feats])
    expected = np.array([ids.index(u.expected) if u.expected in ids else -1 for u in utterances])
    in_scope = np.array([u.expected is not None for u in utterances])
    best: tuple[float, float, Calibration, float] | None = None
    steps = np.round(np.arange(0, 1 + 1e-9, WEIGHT_STEP), 3)
    for ws, wl in itertools.product(steps, steps):
        wk = round(1 - ws - wl, 3)
        if wk < 0:
            continue
        fused = ws * sem + wl * lex + wk * kw
        top = fused.argmax(axis=1)
        top_score = fused[np.arange(len(top)), top]
        right = (top == expected) & in_scope
        for t in THRESHOLDS:
            accepted = top_score >= t
            fa = float((accepted & ~in_scope).sum() / max(1, (~in_scope).sum()))
            if fa > TARGET_FALSE_ACCEPT:
                continue
            acc = float((right & accepted).sum() / max(1, in_scope.sum()))
            # Prefer accuracy, then fewer false accepts, then the lower threshold of a tie.
            key = (acc, -fa)
            if best is None or key > (best[0], best[1]):
                best = (acc, -fa, Calibration(float(ws), float(wl), float(wk), float(t)), fa)
    if best is None:
        raise RuntimeError("no weights and threshold keep false accepts under the target")
    acc, _, calibration, fa = best
    return calibration, acc, fa
