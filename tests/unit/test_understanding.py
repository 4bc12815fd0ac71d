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
