"""The scope model: its features, its weights as shipped, and the matcher's gate (in-process embedder)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from kb.lexical import EntryTexts, LexicalIndex
from kb.loader import KnowledgeBase, OutOfScopeGroup
from kb.matcher import Calibration, Matcher
from kb.normalize import normalize
from kb.referrals import Referral, Referrals
from kb.scope import FEATURES, ScopeFeaturizer, ScopeModel
from tests.unit.test_fusion import KeywordEmbedder, _entry

COVERAGE, UNKNOWN, GROUPS_ONLY, REFERRAL = (
    FEATURES.index(f) for f in ("coverage", "unknown", "out_of_scope_only", "referral")
)


def only(feature: str, weight: float, threshold: float = 0.5) -> ScopeModel:
    """A model that reads one feature: p = sigmoid(weight * (x - 0.5) / 0.5)."""
    size = len(FEATURES)
    coef = tuple(weight if f == feature else 0.0 for f in FEATURES)
    return ScopeModel((0.5,) * size, (0.5,) * size, coef, 0.0, threshold)


def test_probability_is_the_logistic_of_the_standardised_features() -> None:
    model = only("coverage", 2.0)
    x = np.zeros(len(FEATURES))
    x[COVERAGE] = 1.0
    assert model.probability(x) == pytest.approx(1 / (1 + math.exp(-2.0)))
    x[COVERAGE] = 0.0
    assert model.probability(x) == pytest.approx(1 / (1 + math.exp(2.0)))


def test_weights_round_trip_and_a_stale_file_is_refused() -> None:
    model = only("unknown", -3.0, threshold=0.3)
    assert ScopeModel.from_dict(model.as_dict()) == model
    stale = {**model.as_dict(), "features": ["score", "coverage"]}
    with pytest.raises(ValueError, match="this code computes"):
        ScopeModel.from_dict(stale)
    short = {**model.as_dict(), "coef": [1.0]}
    with pytest.raises(ValueError, match="one value per feature"):
        ScopeModel.from_dict(short)


def test_calibration_file_keeps_the_scope_model(tmp_path: Path) -> None:
    calibration = Calibration(0.4, 0.5, 0.1, 0.3, -0.1, "test", only("coverage", 1.0))
    calibration.save(tmp_path / "calibration.json")
    assert Calibration.load(tmp_path / "calibration.json") == calibration
    without = dataclasses.replace(calibration, scope=None)
    without.save(tmp_path / "plain.json")
    assert Calibration.load(tmp_path / "plain.json").scope is None


def _featurizer() -> tuple[LexicalIndex, ScopeFeaturizer]:
    lexical = LexicalIndex(
        [
            EntryTexts(["horaires de la mairie", "mairie ouverte le samedi"], []),  # an entry
            EntryTexts(["supermarché leclerc ouvert"], []),  # out-of-scope group 0
            EntryTexts(["magasin de bricolage"], []),  # out-of-scope group 1
        ]
    )
    return lexical, ScopeFeaturizer(lexical, entry_count=1)


def _vector(text: str, leave_out: int | None = None) -> np.ndarray:
    lexical, featurizer = _featurizer()
    query = lexical.query_stems(normalize(text))
    scores = np.array([0.8, 0.3, 0.1], dtype=np.float32)
    return featurizer.vector(query, scores, scores, scores, scores, False, leave_out)


def test_coverage_and_unknown_words() -> None:
    x = _vector("horaires mairie")
    assert x[COVERAGE] == 1.0 and x[UNKNOWN] == 0.0
    x = _vector("horaires du pressing")  # "pressing": no entry, no group
    assert 0 < x[COVERAGE] < 1 and x[UNKNOWN] == pytest.approx(1 - x[COVERAGE])


def test_words_only_the_out_of_scope_groups_hold() -> None:
    assert _vector("leclerc ouvert samedi")[GROUPS_ONLY] > 0
    # Fitting scores each group's own examples without it: its words are then unknown, not "out of scope".
    x = _vector("leclerc ouvert samedi", leave_out=0)
    assert x[GROUPS_ONLY] == 0.0 and x[UNKNOWN] > 0


def _gated(threshold: float, weight: float = 4.0) -> Matcher:
    kb = KnowledgeBase(
        (
            _entry(
                "mairie.horaires",
                ["horaires mairie", "mairie ouverte", "mairie samedi", "mairie midi", "mairie fermée"],
            ),
        )
    )
    caf = Referral("caf", "la caf", "Appelez la caf.", (" caf ",))
    model = only("coverage", weight, threshold)
    return Matcher(
        kb,
        KeywordEmbedder(),
        Calibration(0.5, 0.5, 0.0, threshold=0.2, scope=model),
        (OutOfScopeGroup("commerces", ("horaires du supermarché",)),),
        Referrals((caf,)),
    )


def test_the_gate_turns_down_a_question_the_entry_does_not_explain() -> None:
    matcher = _gated(threshold=0.5)
    kept = matcher.match("horaires mairie")
    assert kept.faq_id == "mairie.horaires" and kept.in_scope is not None and kept.in_scope > 0.5
    assert not kept.out_of_scope
    turned = matcher.match("mairie leclerc pressing cordonnier")  # a city word among other business
    assert turned.faq_id is None and turned.out_of_scope and turned.in_scope is not None and turned.in_scope < 0.5
    assert turned.score >= matcher.calibration.threshold  # the fused score alone would have taken it


def test_a_referral_is_named_only_when_no_entry_answers() -> None:
    matcher = _gated(threshold=0.5)
    assert matcher.match("la caf et les pressing et cordonnier").referral == "caf"
    assert matcher.match("horaires mairie caf").referral is None  # answered: the entry, not the body
