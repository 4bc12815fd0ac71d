"""Where an agent may pass a caller, written as the API takes it: "agent:LOGIN", "skill:TOPIC", "number:E164".

- agent / skill: the caller goes back into the queue at the front (PRIORITY_TRANSFER), for that agent only or
  for the agents with that skill (app_queue's transfer to a queue, Wazo's switchboard "transfer to user").
- number: a city service's line, dialled on the carrier trunk; the agent leaves (blind) and the caller hears
  music until the service answers; unanswered, the caller goes back to the front of the queue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

PRIORITY_TRANSFER = 30  # a caller passed on by an agent has waited once already: ahead of everyone
_NUMBER = re.compile(r"^\+?\d{6,15}$")


class TransferKind(StrEnum):
    AGENT = "agent"
    SKILL = "skill"
    NUMBER = "number"


class TransferTargetError(ValueError):
    """A target that does not parse; the message says the expected forms."""


@dataclass(frozen=True)
class TransferTarget:
    kind: TransferKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.value}"


def parse_target(text: str) -> TransferTarget:
    kind, sep, value = text.strip().partition(":")
    value = value.strip()
    if not sep or kind not in {k.value for k in TransferKind} or not value:
        raise TransferTargetError(f"« {text} » : attendu agent:IDENTIFIANT, skill:SUJET ou number:+33…")
    target = TransferTarget(TransferKind(kind), value)
    if target.kind is TransferKind.NUMBER:
        digits = value.replace(" ", "").replace(".", "")
        if not _NUMBER.match(digits):
            raise TransferTargetError(f"« {value} » : un numéro de téléphone, par exemple +33380123456 ou 0380123456")
        return TransferTarget(TransferKind.NUMBER, digits)
    return target


def transfer_note(by: str, target: TransferTarget, label: str) -> str:
    """The ticket's trail, in French: who passed the caller to whom."""
    match target.kind:
        case TransferKind.AGENT:
            return f"Transféré par {by} au conseiller {label}."
        case TransferKind.SKILL:
            return f"Transféré par {by} aux conseillers « {label} »."
        case TransferKind.NUMBER:
            return f"Transféré par {by} au {label}."
