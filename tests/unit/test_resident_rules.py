"""The alert register's rules without a database: numbers in E.164, zones of the territory, consent dates."""

from datetime import date

import pytest

from hotline.services.residents import (
    InvalidPhoneError,
    ResidentError,
    normalise_phone,
    parse_channel,
    parse_consent_date,
)
from kb.territory import EVERYONE, UnknownZoneError, Zone, default_territory

TERRITORY = default_territory()


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("0612345678", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033612345678", "+33612345678"),
        ("01 23 45 67 89", "+33123456789"),  # a landline: the voice alert reaches it too
        ("  05-56-12-34-56 ", "+33556123456"),
        ("+32 470 12 34 56", "+32470123456"),  # a Belgian mobile, written with its country code
    ],
)
def test_a_number_in_any_french_form_is_kept_in_e164(written: str, e164: str) -> None:
    assert normalise_phone(written) == e164


@pytest.mark.parametrize("bad", ["", "   ", "12", "06 12 34", "bonjour", "06 12 34 56 78 90 12", "+33 0"])
def test_a_bad_number_is_refused_in_french(bad: str) -> None:
    with pytest.raises(InvalidPhoneError, match=r"^Numéro de téléphone invalide : "):
        normalise_phone(bad)


@pytest.mark.parametrize(
    ("name", "zone"),
    [
        ("Villeroux", Zone("Villeroux")),
        ("villeroux", Zone("Villeroux")),
        ("Les Granges-Basses", Zone("Villeroux", "Les Granges-Basses")),
        ("granges basses", Zone("Villeroux", "Les Granges-Basses")),  # without its article nor hyphen
        ("Saint-Médard", Zone("Saint-Médard-sur-Orvanne")),  # the commune's other name
        ("LASSIGNY LA FORET", Zone("Lassigny-la-Forêt")),
        ("Le Moulin-Rouget", Zone("Saint-Médard-sur-Orvanne", "Le Moulin-Rouget")),
        ("tout", Zone(None)),
        ("Tout", Zone(None)),
        ("Aurevault Agglomération", Zone(None)),  # the territory's name
        ("Aurevault", Zone("Aurevault")),  # the commune, not the territory
    ],
)
def test_a_zone_name_resolves_to_its_commune_and_hamlet(name: str, zone: Zone) -> None:
    assert TERRITORY.zone(name) == zone


def test_an_unknown_zone_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownZoneError) as refused:
        TERRITORY.zone("Paris")
    message = str(refused.value)
    assert message.startswith("zone inconnue « Paris » ; zones valides : tout, Aurevault, ")
    for valid in ("Villeroux", "Les Granges-Basses", "Le Bourg-d'Orvanne"):
        assert valid in message
    assert refused.value.valid == TERRITORY.zone_names()
    with pytest.raises(UnknownZoneError):
        TERRITORY.zone("")


def test_a_zone_contains_its_hamlets_and_everyone_is_everywhere() -> None:
    villeroux, granges = TERRITORY.zone("Villeroux"), TERRITORY.zone("Les Granges-Basses")
    assert villeroux.contains("Villeroux", None) and villeroux.contains("Villeroux", "Les Granges-Basses")
    assert granges.contains("Villeroux", "Les Granges-Basses") and not granges.contains("Villeroux", None)
    assert not villeroux.contains("Chaumières", None)
    assert TERRITORY.zone(EVERYONE).everyone and TERRITORY.zone(EVERYONE).contains("Chaumières", "Le Pré-Fleuri")
    assert [z.name for z in TERRITORY.zones()] == list(TERRITORY.zone_names()[1:])


def test_a_commune_is_found_by_any_of_its_names_but_a_hamlet_is_no_commune() -> None:
    found = TERRITORY.commune("saint medard")
    assert found is not None and found.name == "Saint-Médard-sur-Orvanne" and found.hamlets == ("Le Moulin-Rouget",)
    assert TERRITORY.commune("Le Moulin-Rouget") is None
    assert TERRITORY.commune("Lyon") is None


def test_consent_dates_and_channels() -> None:
    today = date(2026, 3, 10)
    assert parse_consent_date("2026-03-01", today) == date(2026, 3, 1)
    assert parse_consent_date("01/03/2026", today) == date(2026, 3, 1)
    assert parse_consent_date("2026-03-10", today) == today
    for bad, reason in [("", "manquante"), ("2026-13-01", "invalide"), ("hier", "invalide"),
                        ("2026-03-11", "dans le futur")]:  # fmt: skip
        with pytest.raises(ResidentError, match=reason):
            parse_consent_date(bad, today)
    assert parse_channel(" Agent ").value == "agent"
    with pytest.raises(ResidentError, match="canal d'accord inconnu « sms »"):
        parse_channel("sms")
