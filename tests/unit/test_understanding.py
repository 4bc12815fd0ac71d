"""Closed answers and requests for a person, read from recognised French text."""

from __future__ import annotations

import pytest

from ivr.speech.understanding import understand, wants_human, yes_or_no


@pytest.mark.parametrize("text", ["oui", "Oui.", "ouais merci", "d'accord", "oui c'est ça", "Tout à fait !"])
def test_yes(text: str) -> None:
    assert yes_or_no(text) is True


@pytest.mark.parametrize("text", ["non", "Non merci.", "pas du tout", "nan", "c'est pas ça"])
def test_no(text: str) -> None:
    assert yes_or_no(text) is False


@pytest.mark.parametrize("text", ["", "peut-être", "oui enfin non", "bonjour", "nonante", "ouistiti"])
def test_neither(text: str) -> None:
    assert yes_or_no(text) is None


@pytest.mark.parametrize(
    ("text", "human"),
    [
        ("je veux parler à un conseiller", True),
        ("une conseillère s'il vous plaît", True),
        ("Passez-moi quelqu'un", True),
        ("un opérateur", True),
        ("les horaires de la piscine", False),
        ("conseil municipal", False),
    ],
)
def test_a_person_asked_for(text: str, human: bool) -> None:
    assert wants_human(text) is human


def test_without_a_matcher_only_closed_answers_are_read() -> None:
    event = understand("non, un conseiller", None)
    assert (event.faq_id, event.yes_no, event.wants_human, event.suggestion) == (None, False, True, None)


def test_every_phrase_of_the_closed_grammar_means_something() -> None:
    from ivr.speech.vocabulary import YES_NO_GRAMMAR

    for phrase in YES_NO_GRAMMAR:
        if phrase != "[unk]":
            assert yes_or_no(phrase) is not None or wants_human(phrase), phrase


# ---- With the matcher's scope model (an in-process one: tests/unit/test_scope.py).


def test_a_question_for_another_body_says_where_to_turn_rather_than_asking() -> None:
    from tests.unit.test_scope import _gated

    event = understand("la caf et les pressing et cordonnier", _gated(threshold=0.5))
    assert event.faq_id is None and event.suggestion is None
    assert event.out_of_scope and event.referral == "caf" and event.referral_says == "Appelez la caf."


def test_a_question_the_scope_model_rules_out_is_not_asked_back() -> None:
    from tests.unit.test_scope import _gated

    event = understand("mairie leclerc pressing cordonnier", _gated(threshold=0.99, weight=12.0))
    assert event.faq_id is None and event.suggestion is None and event.out_of_scope and event.referral is None


def test_a_doubtful_city_question_is_still_asked_back() -> None:
    from tests.unit.test_scope import _gated

    # Above the fused threshold, turned down by a strict scope model, yet likely enough: "vous voulez parler de…?"
    event = understand("horaires mairie", _gated(threshold=0.99))
    assert event.faq_id is None and event.suggestion == "mairie.horaires" and not event.out_of_scope
