"""Is this a question for the city at all? A small logistic model on what the matcher already computed.

The fused score says how close the best entry is; it cannot tell "a city question" from "a question that
happens to hold a city word" ("à quelle heure ferme le Leclerc": "heure" and "ferme" are the town hall's
opening hours). What tells them apart is how much of the utterance the entry explains (coverage), how many
of its words the city's texts never use (unknown), whether it names another body (a referral), and the
margins to the next entry and to the nearest out-of-scope group. The model's weights are fitted by
`hotline kb calibrate` (scikit-learn, a dev dependency) and shipped in kb/calibration.json; using them is a
dot product.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from kb.lexical import LexicalIndex

FEATURES = (
    "score",  # the best entry's fused score
    "margin_next",  # over the second entry
    "margin_out_of_scope",  # over the nearest out-of-scope group
    "semantic",
    "lexical",
    "keyword",
    "coverage",  # IDF-weighted share of the utterance's words that the best entry's texts hold
    "unknown",  # share of its words that no entry and no out-of-scope group holds
    "out_of_scope_only",  # share found only among the out-of-scope groups
    "words",  # log(1 + number of content words)
    "referral",  # it names another body (kb/referrals.yaml)
)


@dataclass(frozen=True)
class ScopeModel:
    """Standardised features, one logistic unit; `threshold` on the probability that the best entry is right."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    features: tuple[str, ...] = FEATURES

    def probabilities(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """One probability per row of `x` (utterances × FEATURES)."""
        z = ((x - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef) + self.intercept
        p: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.clip(z, -700.0, 700.0)))
        return p

    def probability(self, x: npt.NDArray[np.float64]) -> float:
        return float(self.probabilities(x[np.newaxis, :])[0])

    def as_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ScopeModel:
        def floats(key: str) -> tuple[float, ...]:
            value = data[key]
            assert isinstance(value, list), key
            return tuple(float(v) for v in value)

        features = tuple(str(f) for f in data.get("features", FEATURES))  # type: ignore[attr-defined]
        if features != FEATURES:
            raise ValueError(f"calibration scope model has features {features}, this code computes {FEATURES}")
        model = cls(
            floats("mean"),
            floats("scale"),
            floats("coef"),
            float(data["intercept"]),  # type: ignore[arg-type]
            float(data["threshold"]),  # type: ignore[arg-type]
        )
        if not len(model.mean) == len(model.scale) == len(model.coef) == len(FEATURES):
            raise ValueError("calibration scope model: mean, scale and coef must have one value per feature")
        return model


class ScopeFeaturizer:
    """Computes FEATURES for one utterance from the matcher's per-target scores (entries, then groups)."""

    def __init__(self, lexical: LexicalIndex, entry_count: int) -> None:
        self.entry_count = entry_count
        self.entry_stems = lexical.target_stems[:entry_count]
        self.group_stems = lexical.target_stems[entry_count:]
        self.kb_vocabulary = frozenset().union(*self.entry_stems)
        self.group_count = Counter(s for stems in self.group_stems for s in stems)  # groups holding each stem

    def vector(
        self,
        query: Mapping[str, float],
        semantic: npt.NDArray[np.float32],
        lexical: npt.NDArray[np.float32],
        keyword: npt.NDArray[np.float32],
        fused: npt.NDArray[np.float32],
        names_referral: bool,
        leave_out_group: int | None = None,
    ) -> npt.NDArray[np.float64]:
        """`query`: the utterance's stems and IDF weights. `leave_out_group` scores an out-of-scope group's own
        example as if that group were not there (for fitting: no example may see itself)."""
        n = self.entry_count
        entries = fused[:n]
        order = np.argsort(-entries, kind="stable")
        best = int(order[0])
        second = float(entries[order[1]]) if n > 1 else 0.0
        groups = fused[n:].astype(np.float64)
        if leave_out_group is not None:
            groups = np.delete(groups, leave_out_group)
        nearest_group = float(groups.max()) if len(groups) else -1.0
        total = sum(query.values())
        left_out = self.group_stems[leave_out_group] if leave_out_group is not None else frozenset()

        def in_groups(stem: str) -> bool:
            return self.group_count.get(stem, 0) - (stem in left_out) > 0

        covered = unknown = groups_only = 0.0
        for stem, weight in query.items():
            in_kb = stem in self.kb_vocabulary
            covered += weight if stem in self.entry_stems[best] else 0.0
            unknown += weight if not in_kb and not in_groups(stem) else 0.0
            groups_only += weight if not in_kb and in_groups(stem) else 0.0
        share = (lambda w: w / total) if total else (lambda w: 0.0)
        return np.array(
            [
                float(entries[best]),
                float(entries[best]) - second,
                float(entries[best]) - nearest_group,
                float(semantic[best]),
                float(lexical[best]),
                float(keyword[best]),
                share(covered),
                share(unknown),
                share(groups_only),
                math.log1p(len(query)),
                float(names_referral),
            ]
        )
