"""The lexical score on a tiny KB, with weights computed by hand."""

import math

import pytest

from kb.lexical import EntryTexts, LexicalIndex


@pytest.fixture
def index() -> LexicalIndex:
    return LexicalIndex(
        [
            EntryTexts(["horaires de la piscine", "la piscine est ouverte quand"], ["bassin"]),
            EntryTexts(["horaires de la mairie"], ["hôtel de ville"]),
        ]
    )


def test_idf_is_over_entries(index: LexicalIndex) -> None:
    # "horair" is in both entries: log(1 + 2/2); "piscin" in one: log(1 + 2/1).
    assert index.idf["horair"] == pytest.approx(math.log(2))
    assert index.idf["piscin"] == pytest.approx(math.log(3))


def test_identical_question_scores_one(index: LexicalIndex) -> None:
    dice, _ = index.scores("horaires de la piscine")
    assert dice[0] == pytest.approx(1.0)
    # Shares only "horair" with "horaires de la mairie": 2·ln2 / (ln2+ln3 + ln2+ln3).
    assert dice[1] == pytest.approx(2 * math.log(2) / (2 * (math.log(2) + math.log(3))))


def test_misheard_word_is_mended(index: LexicalIndex) -> None:
    assert index.query_stems("pisscine") == {"piscin": pytest.approx(math.log(3))}


def test_unknown_word_weighs_as_rarest(index: LexicalIndex) -> None:
    weights = index.query_stems("boulangerie")
    assert weights == {"boulanger": pytest.approx(math.log(3))}
    dice, keyword = index.scores("boulangerie")
    assert dice.max() == 0.0 and keyword.max() == 0.0


def test_keyword_coverage(index: LexicalIndex) -> None:
    _, keyword = index.scores("je cherche l hotel de ville")
    assert keyword[1] == pytest.approx(1.0)
    assert keyword[0] == 0.0
