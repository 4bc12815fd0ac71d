"""French normalisation, with expectations worked out by hand."""

import pytest

from kb.normalize import content_words, join_spelled_letters, normalize, stem


@pytest.mark.parametrize(
    ("spoken", "expected"),
    [
        ("Bonjour", "bonjour"),
        ("DÉCHÈTERIE", "decheterie"),
        ("l'eau", "l eau"),
        ("l’eau", "l eau"),  # typographic apostrophe from a recogniser
        ("qu'est-ce qu'il faut", "qu est ce qu il faut"),
        ("jusqu'à quand", "jusqu a quand"),
        ("d'identité", "d identite"),
        ("euh ben allô oui", "oui"),
        ("hum, la piscine, hein", "la piscine"),
        ("vingt-trois heures", "23 heures"),
        ("quatre-vingt-dix-sept rue", "97 rue"),
        ("deux mille vingt-six", "2026"),
        ("j'ai 3 enfants", "j ai 3 enfants"),
        ("ma c n i", "ma cni"),
        ("le C.C.A.S.", "le ccas"),
        ("le c c a s c est où", "le ccas c est ou"),  # "c est": the last letter belongs to "est"
        ("il y a un trou", "il y a un trou"),  # "y a" stays words
        ("  Le   camion,  n'est pas passé ! ", "le camion n est pas passe"),
        ("", ""),
        ("euh", ""),
    ],
)
def test_normalize(spoken: str, expected: str) -> None:
    assert normalize(spoken) == expected


def test_a_single_letter_is_not_an_acronym() -> None:
    assert join_spelled_letters("j ai perdu") == "j ai perdu"


def test_content_words_drop_request_formulas() -> None:
    assert content_words(normalize("Bonjour madame, je voudrais savoir les horaires de la piscine")) == [
        "horaires",
        "piscine",
    ]


def test_stem_joins_singular_and_plural() -> None:
    assert stem("poubelles") == stem("poubelle")
    assert stem("encombrants") == stem("encombrant")
