from pathlib import Path

import pytest

from kb.territory import TerritoryError, default_territory, load_territory

TERRITORY = default_territory()


@pytest.mark.parametrize(
    ("said", "commune", "hamlet"),
    [
        ("je suis à Saint-Médard-sur-Orvanne", "Saint-Médard-sur-Orvanne", None),
        ("à saint médard il y a une fuite", "Saint-Médard-sur-Orvanne", None),  # the short name
        ("au Moulin-Rouget plus d'eau depuis ce matin", "Saint-Médard-sur-Orvanne", "Le Moulin-Rouget"),
        ("aux granges basses", "Villeroux", "Les Granges-Basses"),  # without its article
        ("j'habite le bourg d'orvanne", "Le Bourg-d'Orvanne", None),
        ("aux trois ponts", "Les Trois-Ponts", None),  # "trois" becomes a digit in the normalised text
        ("LASSIGNY LA FORET", "Lassigny-la-Forêt", None),
    ],
)
def test_a_commune_or_hamlet_named_is_found(said: str, commune: str, hamlet: str | None) -> None:
    place = TERRITORY.place_in(said)
    assert place is not None and (place.commune, place.hamlet) == (commune, hamlet)


@pytest.mark.parametrize("said", ["les horaires de la mairie", "", None, "fontclairement"])
def test_no_commune_named_is_none(said: str | None) -> None:
    assert TERRITORY.commune_in(said) is None


def test_the_territory_has_its_twelve_communes() -> None:
    assert len(TERRITORY.commune_names()) == 12
    assert "Villeroux" in TERRITORY.commune_names()


def test_a_name_given_to_two_communes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("communes:\n  - name: Alpha\n    hamlets: [Le Pont]\n  - name: Beta\n    also: [Le Pont]\n")
    with pytest.raises(TerritoryError, match="Le Pont"):
        load_territory(path)


def test_a_commune_without_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("communes:\n  - hamlets: [X]\n")
    with pytest.raises(TerritoryError, match="commune 1"):
        load_territory(path)
