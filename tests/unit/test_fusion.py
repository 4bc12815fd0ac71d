"""Score fusion and the threshold, with a deterministic in-process embedder (no model)."""

import numpy as np
import pytest

from kb.loader import KnowledgeBase, OutOfScopeGroup
from kb.matcher import Calibration, Features, Matcher
from kb.schema import Entry


class KeywordEmbedder:
    """Unit vectors on axes named by keywords: a sentence with 'piscine' points along axis 0."""

    name = "fake"
    axes = ("piscine", "mairie", "poubelle")

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.axes) + 1), dtype=np.float32)
        for i, t in enumerate(texts):
            hits = [j for j, a in enumerate(self.axes) if a in t]
            for j in hits:
                out[i, j] = 1.0
            if not hits:
                out[i, -1] = 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _entry(entry_id: str, questions: list[str]) -> Entry:
    topic = entry_id.split(".")[0]
    return Entry(
        id=entry_id,
        topic=topic,
        title=questions[0],
        questions=tuple(questions),
        spoken_answer="Une réponse courte.",
        web_answer="Une réponse courte.",
        service="Test",
    )


@pytest.fixture
def matcher() -> Matcher:
    kb = KnowledgeBase(
        (
            _entry(
                "sport.piscine",
                ["horaires piscine", "piscine ouverte", "prix piscine", "cours piscine", "piscine enfants"],
            ),
            _entry(
                "mairie.horaires",
                ["horaires mairie", "mairie ouverte", "mairie samedi", "mairie midi", "mairie fermée"],
            ),
        )
    )
    return Matcher(kb, KeywordEmbedder(), Calibration(0.5, 0.3, 0.2, threshold=0.6))


def test_fuse_is_the_weighted_sum(matcher: Matcher) -> None:
    f = Features(
        semantic=np.array([0.8, -0.2], dtype=np.float32),  # a negative cosine counts as 0
        lexical=np.array([0.5, 0.1], dtype=np.float32),
        keyword=np.array([1.0, 0.0], dtype=np.float32),
    )
    fused = matcher.fuse(f)
    assert fused[0] == pytest.approx(0.5 * 0.8 + 0.3 * 0.5 + 0.2 * 1.0)
    assert fused[1] == pytest.approx(0.3 * 0.1)


def test_confident_match(matcher: Matcher) -> None:
    result = matcher.match("la piscine est ouverte")
    assert result.faq_id == "sport.piscine"
    assert result.score >= 0.6
    assert [c.faq_id for c in result.alternatives] == ["mairie.horaires"]


def test_below_threshold_is_no_match(matcher: Matcher) -> None:
    result = matcher.match("une pizza quatre fromages")
    assert result.faq_id is None
    assert result.score < 0.6
    assert len(result.alternatives) == 2  # the best guesses, for "did you mean"


def test_empty_utterance_is_no_match(matcher: Matcher) -> None:
    result = matcher.match("euh")
    assert result.faq_id is None and result.score == 0.0


def test_json_contract(matcher: Matcher) -> None:
    data = matcher.match("horaires mairie").as_json()
    # The first four keys are the original contract; the scope keys came after (checks may ignore them).
    assert set(data) == {"text", "faq_id", "score", "alternatives", "in_scope", "out_of_scope", "referral"}
    assert data["out_of_scope"] is False and data["referral"] is None
    assert data["faq_id"] == "mairie.horaires"
    assert all(set(a) == {"faq_id", "score"} for a in data["alternatives"])  # type: ignore[attr-defined]


def test_out_of_scope_group_beating_the_best_entry_is_no_match() -> None:
    kb = KnowledgeBase(
        (
            _entry(
                "sport.piscine",
                ["horaires piscine", "piscine ouverte", "prix piscine", "cours piscine", "piscine enfants"],
            ),
        )
    )
    pizzeria = OutOfScopeGroup("pizzeria", ("pizzeria ouverte", "horaires pizzeria", "livraison pizzeria"))
    calibration = Calibration(0.5, 0.5, 0.0, threshold=0.1)
    with_group = Matcher(kb, KeywordEmbedder(), calibration, (pizzeria,))
    without = Matcher(kb, KeywordEmbedder(), calibration)
    assert without.match("la pizzeria est ouverte").faq_id == "sport.piscine"  # low threshold: accepted
    result = with_group.match("la pizzeria est ouverte")
    assert result.faq_id is None
    assert [c.faq_id for c in result.alternatives] == ["sport.piscine"]  # alternatives are entries only
    assert with_group.match("la piscine est ouverte").faq_id == "sport.piscine"


def test_margin_lets_an_entry_win_a_near_tie() -> None:
    kb = KnowledgeBase(
        (
            _entry(
                "sport.piscine",
                ["horaires piscine", "piscine ouverte", "prix piscine", "cours piscine", "piscine enfants"],
            ),
        )
    )
    group = OutOfScopeGroup("autre", ("piscine privee", "piscine du camping", "piscine hotel"))
    m = Matcher(kb, KeywordEmbedder(), Calibration(1.0, 0.0, 0.0, threshold=0.1, out_of_scope_margin=0.0), (group,))
    fused = np.array([0.70, 0.72], dtype=np.float32)
    assert not m.decide(fused).accepted
    m.calibration = Calibration(1.0, 0.0, 0.0, threshold=0.1, out_of_scope_margin=0.05)
    assert m.decide(fused).accepted
