"""Fit the fusion weights, the acceptance threshold and the out-of-scope margin on the calibration half of
the labelled set.

The objective is the most correct answers on in-scope utterances while false accepts on out-of-scope ones
stay at or under TARGET_FALSE_ACCEPT, leaving room under the 5 % the product promises.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kb.evaluation import Utterance
from kb.matcher import Calibration, Features, Matcher
from kb.scope import ScopeModel

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


# --- The scope model (kb.scope): is the best entry a right answer to a city question?

SCOPE_TARGET_FALSE_ACCEPT = 0.05  # pooled over every out-of-scope kind, each scored by a model that never saw it
SCOPE_THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.01), 3)
SCOPE_C = 1.0  # scikit-learn's default L2 strength: the features are few and standardised
_PLAIN_TAGS = frozenset({"out_of_scope", "asr", "clean", "independent"})


@dataclass(frozen=True)
class ScopeRow:
    vector: npt.NDArray[np.float64]
    right: bool  # in scope and the best entry is the expected one
    in_scope: bool
    group: str  # a whole kind of question: the entry's topic, or the out-of-scope kind
    passes_threshold: bool  # the fused rule (threshold and out-of-scope margin) accepts it


@dataclass(frozen=True)
class ScopeReport:
    """Figures of the chosen threshold, each row scored by a model fitted without its group."""

    rows: int
    groups: int
    top1: float
    false_accepts: float
    false_accepts_by_source: dict[str, float]


def _kind(u: Utterance) -> str:
    if u.expected is not None:
        return u.expected.split(".")[0]
    return "out-of-scope:" + next((t for t in u.tags if t not in _PLAIN_TAGS), "other")


def scope_rows(matcher: Matcher, utterances: list[Utterance]) -> list[ScopeRow]:
    """The labelled utterances, then each out-of-scope group's examples as if that group were not there."""
    n = len(matcher.ids)
    rows: list[ScopeRow] = []

    def row(text: str, expected: str | None, group: str, leave_out: int | None) -> ScopeRow:
        features = matcher.features(text)
        fused = matcher.fuse(features)
        if leave_out is not None:
            fused = fused.copy()
            fused[n + leave_out] = -1.0  # below any score: the group is not there
        decision = matcher.decide(fused)  # the fused rule only: without the features, no scope model
        right = expected is not None and matcher.ids[decision.best_entry] == expected
        vector = matcher.scope_vector(features, fused, leave_out)
        return ScopeRow(vector, right, expected is not None, group, decision.accepted)

    rows += [row(u.text, u.expected, _kind(u), None) for u in utterances]
    for index, group in enumerate(matcher.out_of_scope):
        rows += [row(text, None, f"out-of-scope:{group.name}", index) for text in group.examples]
    return rows


def _fit_logistic(rows: list[ScopeRow], threshold: float = 0.5) -> ScopeModel:
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
    except ModuleNotFoundError as exc:  # a dev dependency: the product only reads the fitted weights
        raise RuntimeError("fitting the scope model needs scikit-learn: pip install -e '.[dev]'") from exc
    x = np.stack([r.vector for r in rows])
    y = np.array([r.right for r in rows], dtype=int)
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=SCOPE_C, max_iter=5000).fit(scaler.transform(x), y)
    return ScopeModel(
        tuple(map(float, scaler.mean_)),
        tuple(map(float, scaler.scale_)),
        tuple(map(float, model.coef_[0])),
        float(model.intercept_[0]),
        threshold,
    )


def fit_scope(matcher: Matcher, utterances: list[Utterance]) -> tuple[ScopeModel, ScopeReport]:
    """Fit the scope model on `utterances` and the out-of-scope groups' examples; choose its threshold by
    cross-validation over groups (a whole kind of question left out at a time): the most right answers with
    the pooled false accepts at or under SCOPE_TARGET_FALSE_ACCEPT."""
    rows = scope_rows(matcher, utterances)
    groups = sorted({r.group for r in rows})
    held_out = np.zeros(len(rows))
    for group in groups:
        inside = [i for i, r in enumerate(rows) if r.group == group]
        rest = [r for r in rows if r.group != group]
        held_out[inside] = _fit_logistic(rest).probabilities(np.stack([rows[i].vector for i in inside]))
    passes = np.array([r.passes_threshold for r in rows])
    right = np.array([r.right for r in rows])
    in_scope = np.array([r.in_scope for r in rows])
    eval_out = ~in_scope & (np.arange(len(rows)) < len(utterances))
    best: tuple[float, float, float] | None = None
    for t in SCOPE_THRESHOLDS:
        accepted = passes & (held_out >= t)
        false_accepts = float((accepted & ~in_scope).sum() / max(1, (~in_scope).sum()))
        top1 = float((accepted & right).sum() / max(1, in_scope.sum()))
        if false_accepts <= SCOPE_TARGET_FALSE_ACCEPT and (best is None or top1 > best[1]):
            best = (float(t), top1, false_accepts)
    if best is None:
        raise RuntimeError("no scope threshold keeps the cross-validated false accepts under the target")
    threshold, top1, false_accepts = best
    accepted = passes & (held_out >= threshold)
    by_source = {
        "labelled set": float((accepted & eval_out).sum() / max(1, eval_out.sum())),
        "out-of-scope groups": float((accepted & ~in_scope & ~eval_out).sum() / max(1, (~in_scope & ~eval_out).sum())),
    }
    return _fit_logistic(rows, threshold), ScopeReport(len(rows), len(groups), top1, false_accepts, by_source)
