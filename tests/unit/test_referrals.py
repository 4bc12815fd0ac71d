"""Where to turn when a question belongs to another body: the shipped table and its loader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.prompts.french_text import speakable
from kb.referrals import ReferralsError, load_referrals


@pytest.mark.parametrize(
    "text, body",
    [
        ("la caf m'a rien versé ce mois-ci", "caf"),
        ("mes APL ont baissé", "caf"),
        ("j'ai perdu ma carte Vitale", "assurance-maladie"),
        ("la secu me rembourse pas", "assurance-maladie"),
        ("je voudrais payer ma taxe foncière en plusieurs fois", "impots"),
        ("le facteur est pas passé", "la-poste"),
        ("mon actualisation pôle emploi", "france-travail"),
        ("ma carte grise est perdue", "ants"),
        ("mon titre de séjour expire", "prefecture"),
        ("ma facture EDF est trop élevée", "energy-supplier"),
        ("ma box internet ne marche plus", "telecom-operator"),
        ("ma carte bancaire est bloquée", "bank-insurer"),
    ],
)
def test_questions_naming_another_body(text: str, body: str) -> None:
    found = load_referrals().find(text)
    assert found is not None and found.id == body, text


@pytest.mark.parametrize(
    "text",
    ["les horaires de la mairie", "une cafetière", "le café du marché", "aplomb", "ma poubelle est cassée", ""],
)
def test_whole_words_only_and_city_questions_name_no_body(text: str) -> None:
    assert load_referrals().find(text) is None


def test_every_sentence_is_said_in_words_and_names_its_body() -> None:
    for referral in load_referrals().all:
        said = speakable(referral.says)
        assert not re.search(r"\d", said), said  # the numbers are read out ("trente-deux, trente")
        assert referral.says.endswith("."), referral.id
    caf = load_referrals().get("caf")
    assert caf is not None and "trente-deux, trente" in speakable(caf.says)


@pytest.mark.parametrize(
    "content, problem",
    [
        ("[]", "expected 'referrals:'"),
        ("referrals:\n  - id: caf\n    name: la caf\n    phrases: [caf]\n", "says: expected the French sentence"),
        (
            "referrals:\n  - id: caf\n    name: la caf\n    says: Appelez.\n    phrases: []\n",
            "phrases: expected a list",
        ),
        (
            "referrals:\n  - {id: a, name: A, says: x, phrases: [a]}\n  - {id: a, name: B, says: y, phrases: [b]}\n",
            "a is used twice",
        ),
        ("referrals:\n  - {name: A, says: x, phrases: [a]}\n", "id: expected a name"),
    ],
)
def test_a_bad_file_says_what_is_wrong(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "referrals.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ReferralsError, match=re.escape(problem)):
        load_referrals(path)
