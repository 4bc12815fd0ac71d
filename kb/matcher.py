"""Match what a caller said to a KB entry: a lexical and a semantic score, fused, against a calibrated threshold.

Below the threshold the result is "no match", which the IVR turns into an offer of a human.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kb.embeddings import CachedEmbedder, Embedder, UseEmbedder, default_cache_dir
from kb.lexical import EntryTexts, LexicalIndex
from kb.loader import KnowledgeBase
from kb.normalize import normalize

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
ALTERNATIVES = 3  # the IVR offers at most this many "did you mean" topics


@dataclass(frozen=True)
class Calibration:
    """Fusion weights and the acceptance threshold, fitted by `hotline kb calibrate`."""

    semantic_weight: float = 0.6
    lexical_weight: float = 0.3
    keyword_weight: float = 0.1
    threshold: float = 0.5
    fitted_on: str = "defaults"

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> Calibration:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def save(self, path: Path = CALIBRATION_FILE) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


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

    def as_json(self) -> dict[str, object]:
        return {
            "text": self.text,
            "faq_id": self.faq_id,
            "score": round(self.score, 4),
            "alternatives": [{"faq_id": c.faq_id, "score": round(c.score, 4)} for c in self.alternatives],
        }


@dataclass(frozen=True)
class Features:
    """Per-entry scores for one utterance, before fusion (used by calibration)."""

    semantic: npt.NDArray[np.float32]
    lexical: npt.NDArray[np.float32]
    keyword: npt.NDArray[np.float32]


def entry_sentences(kb: KnowledgeBase) -> list[list[str]]:
    return [[*e.questions, e.title] for e in kb.entries]


class Matcher:
    """Built once per KB; `match` is thread-safe and does no I/O."""

    def __init__(
        self,
        kb: KnowledgeBase,
        embedder: Embedder | CachedEmbedder,
        calibration: Calibration | None = None,
    ) -> None:
        self.kb = kb
        self.ids = kb.ids()
        self.calibration = calibration or Calibration.load()
        self.embedder = embedder
        sentences = entry_sentences(kb)
        self.lexical = LexicalIndex(
            [EntryTexts(s, [*e.keywords, *e.synonyms]) for s, e in zip(sentences, kb.entries, strict=True)]
        )
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
        lexical, keyword = self.lexical.scores(normalized)
        if not normalized:
            semantic = np.zeros(len(self.ids), dtype=np.float32)
        else:
            query = self.embedder.encode([normalize_for_embedding(text)])[0]
            similarity = self._variants @ query
            semantic = np.maximum.reduceat(similarity, self._starts).astype(np.float32)
        return Features(semantic, lexical, keyword)

    def fuse(self, features: Features) -> npt.NDArray[np.float32]:
        c = self.calibration
        fused: npt.NDArray[np.float32] = (
            c.semantic_weight * np.clip(features.semantic, 0.0, 1.0)
            + c.lexical_weight * features.lexical
            + c.keyword_weight * features.keyword
        )
        return fused

    def match(self, text: str) -> MatchResult:
        fused = self.fuse(self.features(text))
        order = np.argsort(-fused)[: ALTERNATIVES + 1]
        best = int(order[0])
        best_score = float(fused[best])
        accepted = best_score >= self.calibration.threshold
        rest = order[1:] if accepted else order[:ALTERNATIVES]
        return MatchResult(
            text=text,
            faq_id=self.ids[best] if accepted else None,
            score=best_score,
            alternatives=[Candidate(self.ids[int(i)], float(fused[int(i)])) for i in rest],
        )


def normalize_for_embedding(text: str) -> str:
    """The sentence encoder reads the normalised text, so that accents lost by ASR cost nothing."""
    return normalize(text)


def build_matcher(kb: KnowledgeBase, threshold: float | None = None, cache_dir: Path | None = None) -> Matcher:
    """The production matcher: USE embeddings, cached under the user's cache folder; `threshold` overrides
    the calibrated one."""
    embedder = CachedEmbedder(UseEmbedder(), cache_dir if cache_dir is not None else default_cache_dir())
    calibration = Calibration.load()
    if threshold is not None:
        calibration = replace(calibration, threshold=threshold)
    return Matcher(kb, embedder, calibration)
