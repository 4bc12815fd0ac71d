"""What happens to a call, as the flow sees it: ARI events, timer firings and answers to requested operations.

The ARI adapter translates what Asterisk and the services tell it into these, and feeds them to `CallFlow.handle`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.domain.enums import TicketStatus


@dataclass(frozen=True, slots=True)
class CallStarted:
    """The call is in Stasis and answered."""

    caller: str
    called: str


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    """The caller pressed a key: '0'-'9', '*' or '#'."""

    digit: str


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    """A playback ended: played to the end, or stopped by a StopPlayback."""

    playback_id: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer started with StartTimer ran out (and was not cancelled)."""

    name: str


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    """The caller's channel is gone."""


@dataclass(frozen=True, slots=True)
class TicketLookedUp:
    """The answer to LookupTicket."""

    dossier: str
    found: bool
    status: TicketStatus | None
    subject: str | None


@dataclass(frozen=True, slots=True)
class TicketCreated:
    """The answer to CreateTicket: the new ticket's dossier number."""

    dossier: str


@dataclass(frozen=True, slots=True)
class SpeechRecognized:
    """What the caller said and the knowledge-base entry it matched (None: nothing matched confidently)."""

    text: str
    faq_id: str | None
    score: float
    alternatives: tuple[str, ...]


Event = (
    CallStarted
    | DtmfReceived
    | PlaybackFinished
    | TimerFired
    | CallerHungUp
    | TicketLookedUp
    | TicketCreated
    | SpeechRecognized
)
