"""Where to turn when a question belongs to another body (CAF, Assurance maladie, impôts, La Poste…).

The matcher names a referral only when it does not answer the question itself: "la caf" in a question about
the crèche's fees is still the crèche.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from kb.normalize import normalize

REFERRALS_FILE = Path(__file__).with_name("referrals.yaml")


class ReferralsError(ValueError):
    pass


@dataclass(frozen=True)
class Referral:
    id: str
    name: str
    says: str  # the French sentence the caller hears
    phrases: tuple[str, ...]  # normalised, each padded with spaces for whole-word search


class Referrals:
    def __init__(self, referrals: tuple[Referral, ...]) -> None:
        self.all = referrals

    def find(self, text: str) -> Referral | None:
        """The first body whose phrases `text` says (in file order: the more specific bodies first)."""
        padded = f" {normalize(text)} "
        return next((r for r in self.all if any(p in padded for p in r.phrases)), None)

    def get(self, referral_id: str) -> Referral | None:
        return next((r for r in self.all if r.id == referral_id), None)


def load_referrals(path: Path = REFERRALS_FILE) -> Referrals:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = raw.get("referrals") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not items:
        raise ReferralsError(f"{path}: expected 'referrals:', a list")
    out: list[Referral] = []
    seen: set[str] = set()
    for index, item in enumerate(items, start=1):
        where = f"{path.name} › referral {index}"
        if not isinstance(item, dict):
            raise ReferralsError(f"{where}: expected a mapping")
        ident, name, says, phrases = item.get("id"), item.get("name"), item.get("says"), item.get("phrases")
        if not isinstance(ident, str) or not ident:
            raise ReferralsError(f"{where} › id: expected a name such as caf")
        if ident in seen:
            raise ReferralsError(f"{where} › id: {ident} is used twice")
        seen.add(ident)
        if not isinstance(name, str) or not name.strip():
            raise ReferralsError(f"{where} ({ident}) › name: expected the body's name")
        if not isinstance(says, str) or not says.strip():
            raise ReferralsError(f"{where} ({ident}) › says: expected the French sentence the caller hears")
        if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
            raise ReferralsError(f"{where} ({ident}) › phrases: expected a list of words or phrases")
        padded = tuple(f" {normalize(p)} " for p in phrases)
        out.append(Referral(ident, name.strip(), " ".join(says.split()), padded))
    return Referrals(tuple(out))
