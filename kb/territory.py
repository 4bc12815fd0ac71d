"""The territory's communes and hamlets (kb/territory.yaml), and which one a caller's words name.

Names are matched whole-word on the normalised text, with or without their article ("Granges-Basses"), the
longest first, so "Saint-Médard-sur-Orvanne" wins over "Saint-Médard". A hamlet counts for its commune.

The alert campaigns target zones of the same data: a commune (its hamlets included), a hamlet, or "tout" (the
whole territory, also written as its name). `Territory.zone` resolves a zone's name, whatever its case, accents or
article, and an unknown one is refused with the list of the valid ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from kb.normalize import normalize

TERRITORY_FILE = Path(__file__).with_name("territory.yaml")
_ARTICLES = ("le ", "la ", "les ", "l ")


class TerritoryError(ValueError):
    pass


@dataclass(frozen=True)
class Commune:
    name: str
    hamlets: tuple[str, ...]


@dataclass(frozen=True)
class Place:
    """What a text named: the commune, and the hamlet when it was one."""

    commune: str
    hamlet: str | None


EVERYONE = "tout"  # the zone of the whole territory
_EVERYONE_WORDS = ("tout", "tous", "toutes", "tout le territoire")


class UnknownZoneError(TerritoryError):
    """A zone name that is no commune, hamlet nor "tout"; the message lists the valid ones."""

    def __init__(self, name: str, valid: tuple[str, ...]) -> None:
        super().__init__(f"zone inconnue « {name} » ; zones valides : {', '.join(valid)}")
        self.name = name
        self.valid = valid


@dataclass(frozen=True)
class Zone:
    """Where an alert goes: a commune (hamlet None: the commune and all its hamlets), one hamlet of it, or the
    whole territory (commune None)."""

    commune: str | None
    hamlet: str | None = None

    @property
    def everyone(self) -> bool:
        return self.commune is None

    @property
    def name(self) -> str:
        """The zone as written in a campaign: "tout", the commune, or the hamlet."""
        return self.hamlet or self.commune or EVERYONE

    def contains(self, commune: str, hamlet: str | None) -> bool:
        if self.commune is None:
            return True
        return commune == self.commune and (self.hamlet is None or hamlet == self.hamlet)


class Territory:
    def __init__(self, name: str, communes: tuple[Commune, ...], spoken: dict[str, Place]) -> None:
        self.name = name
        self.communes = communes
        # padded normalised form -> place, longest first (a longer name is more specific)
        self._spoken = sorted(spoken.items(), key=lambda item: -len(item[0]))
        self._whole = dict(spoken)  # a whole name, as written in a zone or a commune column

    def place_in(self, text: str | None) -> Place | None:
        """The commune (and hamlet) `text` names, or None."""
        if not text:
            return None
        padded = f" {normalize(text)} "
        return next((place for phrase, place in self._spoken if phrase in padded), None)

    def commune_in(self, text: str | None) -> str | None:
        place = self.place_in(text)
        return place.commune if place else None

    def commune_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.communes)

    def zone_names(self) -> tuple[str, ...]:
        """Every valid zone: "tout", then each commune followed by its hamlets, in the file's order."""
        names = [EVERYONE]
        for commune in self.communes:
            names += [commune.name, *commune.hamlets]
        return tuple(names)

    def zones(self) -> tuple[Zone, ...]:
        """Each commune, then its hamlets, in the file's order (the whole territory left out)."""
        return tuple(zone for c in self.communes for zone in (Zone(c.name), *(Zone(c.name, h) for h in c.hamlets)))

    def zone(self, name: str) -> Zone:
        """The zone called `name`: "tout" (or the territory's name) for everyone, a commune (or one of its other
        names, "Saint-Médard") with its hamlets, or a hamlet ("Granges-Basses" without its article too).
        Raises UnknownZoneError, listing the valid zones, for anything else."""
        said = normalize(name or "")
        if said in {normalize(w) for w in _EVERYONE_WORDS} or said == normalize(self.name):
            return Zone(None)
        place = self._whole.get(f" {said} ")
        if place is None:
            raise UnknownZoneError(name.strip(), self.zone_names())
        return Zone(place.commune, place.hamlet)

    def commune(self, name: str) -> Commune | None:
        """The commune called `name` (or one of its other names), whatever its case or accents; None for a
        hamlet or an unknown name."""
        place = self._whole.get(f" {normalize(name or '')} ")
        if place is None or place.hamlet is not None:
            return None
        return next(c for c in self.communes if c.name == place.commune)


def _spoken_forms(name: str) -> list[str]:
    said = normalize(name)
    forms = [said]
    for article in _ARTICLES:
        if said.startswith(article) and len(said) > len(article) + 3:
            forms.append(said[len(article) :])
    return [f" {f} " for f in forms]


def _names(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TerritoryError(f"{where}: expected a list of names")
    return [v.strip() for v in value]


def load_territory(path: Path = TERRITORY_FILE) -> Territory:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = raw.get("communes") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not items:
        raise TerritoryError(f"{path}: expected 'communes:', a list")
    communes: list[Commune] = []
    spoken: dict[str, Place] = {}

    def claim(name: str, place: Place, where: str) -> None:
        for form in _spoken_forms(name):
            if form in spoken and spoken[form] != place:
                raise TerritoryError(f"{where}: '{name}' is also a name of {spoken[form].commune}")
            spoken[form] = place

    for index, item in enumerate(items, start=1):
        where = f"{path.name} › commune {index}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise TerritoryError(f"{where}: expected a mapping with a name")
        name = item["name"].strip()
        hamlets = _names(item.get("hamlets"), f"{where} ({name}) › hamlets")
        for said in [name, *_names(item.get("also"), f"{where} ({name}) › also")]:
            claim(said, Place(name, None), where)
        for hamlet in hamlets:
            claim(hamlet, Place(name, hamlet), where)
        communes.append(Commune(name, tuple(hamlets)))
    title = raw.get("territory")
    return Territory(title if isinstance(title, str) else path.stem, tuple(communes), spoken)


@lru_cache(maxsize=1)
def default_territory() -> Territory:
    """The territory shipped with the knowledge base (kb/territory.yaml), loaded once."""
    return load_territory()
