"""Match what a caller said to a KB entry: a lexical and a semantic score, fused, against a calibrated threshold,
then a check that it is a question for the city at all (kb.scope).

Below the threshold, or out of scope, the result is "no match", which the IVR turns into an offer of a human
(and, when the question names another body, where to turn: kb.referrals).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kb.embeddings import CachedEmbedder, Embedder, UseEmbedder, default_cache_dir
from kb.lexical import EntryTexts, LexicalIndex
from kb.loader import KnowledgeBase, OutOfScopeGroup, load_out_of_scope
from kb.normalize import normalize
from kb.referrals import REFERRALS_FILE, Referrals, load_referrals
from kb.scope import ScopeFeaturizer, ScopeModel

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
ALTERNATIVES = 3  # the IVR offers at most this many "did you mean" topics
# Crisis mode's pinned entry wins within this much of the best fused score and of the threshold (scores 0-1; the
# threshold is about 0.3): close calls go to the crisis, clear answers elsewhere stay theirs.
PIN_MARGIN = 0.06


@dataclass(frozen=True)
class Calibration:
    """Fusion weights and the acceptance threshold, fitted by `hotline kb calibrate`."""

    semantic_weight: float = 0.6
    lexical_weight: float = 0.3
    keyword_weight: float = 0.1
    threshold: float = 0.5
    # An out-of-scope group beating the best entry by this much (or more) means "no match".
    out_of_scope_margin: float = 0.0
    fitted_on: str = "defaults"
    scope: ScopeModel | None = None  # None: every match over the threshold is taken as a city question

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> Calibration:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if isinstance(fields.get("scope"), dict):
            fields["scope"] = ScopeModel.from_dict(fields["scope"])
        return cls(**fields)

    def save(self, path: Path = CALIBRATION_FILE) -> None:
        data = asdict(self)
        data["scope"] = self.scope.as_dict() if self.scope is not None else None
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Candidate:
    faq_id: str
    score: float


@dataclass(frozen=True)
class MatchResult:
    """The command contract of `hotline kb match --json`."""

    text: str
    faq_id: str | None
    score: float
    alternatives: list[Candidate] = field(default_factory=list)
    in_scope: float | None = None  # the scope model's probability that the best entry is right (None: no model)
    out_of_scope: bool = False  # judged not a question for the city (not merely unsure which entry)
    referral: str | None = None  # the other body it names, when no entry answers it (kb/referrals.yaml)

    def as_json(self) -> dict[str, object]:
        return {
            "text": self.text,
            "faq_id": self.faq_id,
            "score": round(self.score, 4),
            "alternatives": [{"faq_id": c.faq_id, "score": round(c.score, 4)} for c in self.alternatives],
            "in_scope": None if self.in_scope is None else round(self.in_scope, 4),
            "out_of_scope": self.out_of_scope,
            "referral": self.referral,
        }


@dataclass(frozen=True)
class Features:
    """Per-target scores for one utterance, before fusion (used by calibration). Targets are the KB entries
    followed by the out-of-scope groups."""

    semantic: npt.NDArray[np.float32]
    lexical: npt.NDArray[np.float32]
    keyword: npt.NDArray[np.float32]
    query: Mapping[str, float] = field(default_factory=dict)  # the utterance's stems and their IDF weights
    referral: str | None = None  # the other body it names, if any


@dataclass(frozen=True)
class Decision:
    """Where the fused scores point: the best entry, its score, and whether it is accepted."""

    best_entry: int
    score: float
    accepted: bool
    in_scope: float | None = None  # the scope model's probability (None: no model)
    out_of_scope: bool = False  # the scope model turned the best entry down


class Matcher:
    """Built once per KB; `match` is thread-safe and does no I/O."""

    def __init__(
        self,
        kb: KnowledgeBase,
        embedder: Embedder | CachedEmbedder,
        calibration: Calibration | None = None,
        out_of_scope: tuple[OutOfScopeGroup, ...] = (),
        referrals: Referrals | None = None,
    ) -> None:
        self.kb = kb
        self.ids = kb.ids()
        self._positions = {faq_id: i for i, faq_id in enumerate(self.ids)}
        self.out_of_scope = out_of_scope
        self.referrals = referrals or Referrals(())
        self.calibration = calibration or Calibration.load()
        self.embedder = embedder
        targets = [EntryTexts([*e.questions, e.title], [*e.keywords, *e.synonyms]) for e in kb.entries]
        targets += [EntryTexts(list(g.examples), []) for g in out_of_scope]
        sentences = [t.sentences for t in targets]
        # Out-of-scope examples share the IDF: a word like "caf" is known, and known to point elsewhere.
        self.lexical = LexicalIndex(targets)
        self.scope_features = ScopeFeaturizer(self.lexical, len(self.ids))
        flat = [normalize_for_embedding(t) for texts in sentences for t in texts]
        # Variants are stored entry by entry, so an entry's best variant is a reduceat over its slice.
        self._starts = np.cumsum([0] + [len(t) for t in sentences[:-1]]).astype(np.intp)
        if isinstance(embedder, CachedEmbedder):
            self._variants = embedder.encode_many(flat)
        else:
            self._variants = embedder.encode(flat)

    @property
    def variant_count(self) -> int:
        return int(self._variants.shape[0])

    def features(self, text: str) -> Features:
        normalized = normalize(text)
        stems = self.lexical.query_stems(normalized)
        lexical, keyword = self.lexical.scores(normalized, stems)
        if not normalized:
            semantic = np.zeros(self.lexical.entry_count, dtype=np.float32)
        else:
            query = self.embedder.encode([normalize_for_embedding(text)])[0]
            similarity = self._variants @ query
            semantic = np.maximum.reduceat(similarity, self._starts).astype(np.float32)
        referral = self.referrals.find(text)
        return Features(semantic, lexical, keyword, stems, referral.id if referral else None)

    def scope_vector(
        self, features: Features, fused: npt.NDArray[np.float32], leave_out_group: int | None = None
    ) -> npt.NDArray[np.float64]:
        return self.scope_features.vector(
            features.query,
            features.semantic,
            features.lexical,
            features.keyword,
            fused,
            features.referral is not None,
            leave_out_group,
        )

    def fuse(self, features: Features) -> npt.NDArray[np.float32]:
        c = self.calibration
        fused: npt.NDArray[np.float32] = (
            c.semantic_weight * np.clip(features.semantic, 0.0, 1.0)
            + c.lexical_weight * features.lexical
            + c.keyword_weight * features.keyword
        )
        return fused

    def pin(
        self, decision: Decision, fused: npt.NDArray[np.float32], pinned: str | None, referral: str | None = None
    ) -> Decision:
        """Crisis mode's pinned entry wins when it is close: within PIN_MARGIN of the best entry and of the
        threshold. Where the scope model doubted the question, the pin needs a clear score (PIN_MARGIN over the
        threshold) and no other body named: "où est la poste" is never the crisis."""
        index = self._positions.get(pinned) if pinned else None
        if index is None or (decision.accepted and decision.best_entry == index):
            return decision
        score = float(fused[index])
        best = float(fused[: len(self.ids)].max())
        threshold = self.calibration.threshold
        close = score >= best - PIN_MARGIN and score >= threshold - PIN_MARGIN
        if decision.out_of_scope and (referral is not None or score < threshold + PIN_MARGIN):
            return decision
        return Decision(index, score, True, decision.in_scope, False) if close else decision

    def decide(self, fused: npt.NDArray[np.float32], features: Features | None = None) -> Decision:
        """Accept the best entry if it clears the threshold, no out-of-scope group beats it, and (with the
        utterance's `features` and a scope model) it is a question for the city."""
        entries = fused[: len(self.ids)]
        best = int(entries.argmax())
        score = float(entries[best])
        accepted = score >= self.calibration.threshold
        if accepted and len(fused) > len(entries):
            accepted = float(fused[len(entries) :].max()) < score + self.calibration.out_of_scope_margin
        scope = self.calibration.scope
        if scope is None or features is None:
            return Decision(best, score, accepted)
        in_scope = scope.probability(self.scope_vector(features, fused))
        out_of_scope = in_scope < scope.threshold
        return Decision(best, score, accepted and not out_of_scope, in_scope, out_of_scope)

    def match(self, text: str, pinned: str | None = None) -> MatchResult:
        """The entry answering `text`, if any. `pinned`: an entry crisis mode puts first (see `pin`)."""
        features = self.features(text)
        fused = self.fuse(features)
        decision = self.pin(self.decide(fused, features), fused, pinned, features.referral)
        order = np.argsort(-fused[: len(self.ids)])[: ALTERNATIVES + 1]
        rest = (
            [i for i in order if i != decision.best_entry][:ALTERNATIVES] if decision.accepted else order[:ALTERNATIVES]
        )
        return MatchResult(
            text=text,
            faq_id=self.ids[decision.best_entry] if decision.accepted else None,
            score=decision.score,
            alternatives=[Candidate(self.ids[int(i)], float(fused[int(i)])) for i in rest],
            in_scope=decision.in_scope,
            out_of_scope=decision.out_of_scope and not decision.accepted,
            referral=None if decision.accepted else features.referral,
        )


def normalize_for_embedding(text: str) -> str:
    """The sentence encoder reads the normalised text, so that accents lost by ASR cost nothing."""
    return normalize(text)


def build_matcher(
    kb: KnowledgeBase,
    threshold: float | None = None,
    cache_dir: Path | None = None,
    referrals_path: Path | None = None,
) -> Matcher:
    """The production matcher: USE embeddings, cached under the user's cache folder; `threshold` overrides
    the calibrated one; `referrals_path` the shipped kb/referrals.yaml."""
    embedder = CachedEmbedder(UseEmbedder(), cache_dir if cache_dir is not None else default_cache_dir())
    calibration = Calibration.load()
    if threshold is not None:
        calibration = replace(calibration, threshold=threshold)
    referrals = load_referrals(referrals_path or REFERRALS_FILE)
    return Matcher(kb, embedder, calibration, load_out_of_scope(), referrals)
