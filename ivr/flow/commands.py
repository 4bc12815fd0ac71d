"""What the flow asks the ARI adapter to do. The adapter carries them out in order and feeds back events.

Contract with the adapter:
- Every Play ends with exactly one PlaybackFinished carrying its id, also when it was stopped or failed.
- Timer names are unique within a call (the flow never reuses one), so a firing that raced a CancelTimer
  is recognised as stale and ignored.
- After CallerHungUp the flow only records and sets the outcome: the adapter drops the call's timers and
  playbacks itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from hotline.domain.enums import CallOutcome

# ---- Media: what to play. The adapter resolves each item to Asterisk media (sound:, digits:, number:, TTS).


@dataclass(frozen=True, slots=True)
class Prompt:
    """A catalog prompt (recorded or TTS French sentence); the keys and texts are in ivr.flow.prompts."""

    key: str


@dataclass(frozen=True, slots=True)
class Say:
    """Free French text, read by TTS (e.g. the crisis pre-announcement)."""

    text: str


@dataclass(frozen=True, slots=True)
class Digits:
    """A string of digits read one by one in French (a dossier number)."""

    digits: str


@dataclass(frozen=True, slots=True)
class Number:
    """A number read as a number in French ("vingt-trois")."""

    n: int


@dataclass(frozen=True, slots=True)
class FaqAnswer:
    """A knowledge-base entry's answer: its recorded audio, or TTS of its spoken_answer."""

    faq_id: str


@dataclass(frozen=True, slots=True)
class Sound:
    """A recording staff uploaded (the crisis pre-announcement), by its name in the prompts folder: played as is."""

    name: str


Media = Prompt | Say | Digits | Number | FaqAnswer | Sound

# ---- Commands.

RecordValue = str | int | float | None


@dataclass(frozen=True, slots=True)
class Play:
    """Play the media items one after the other as one playback.

    `interruptible`: whether the caller may cut it short (by key now, by voice later). '0' and '*' act in
    every case; other keys are ignored while a non-interruptible playback runs.
    """

    playback_id: str
    media: tuple[Media, ...]
    interruptible: bool = True


@dataclass(frozen=True, slots=True)
class StopPlayback:
    """Stop a running playback (barge-in, or the flow moves on); its PlaybackFinished still follows."""

    playback_id: str


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Send TimerFired(name) after `seconds`, unless cancelled first."""

    name: str
    seconds: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class LookupTicket:
    """Find the ticket with this dossier number; answer with TicketLookedUp."""

    dossier: str


@dataclass(frozen=True, slots=True)
class CreateTicket:
    """Open a ticket for this call; answer with TicketCreated."""

    reason: str
    faq_id: str | None
    needs_callback: bool
    message: str | None = None  # the name of the caller's recorded message, kept on the ticket
    message_s: float = 0.0


@dataclass(frozen=True, slots=True)
class JoinQueue:
    """Put the caller in the agents' queue (the adapter's ACD answers QueueJoined, or QueueUnavailable when no
    agent is logged in or the queue cannot take the call)."""

    reason: str  # HandoffReason value
    faq_id: str | None
    transcript: str = ""  # what the caller said, for the agent's screen
    vulnerable: bool = False  # what they said marks them as vulnerable (ivr.flow.vulnerability): served first


@dataclass(frozen=True, slots=True)
class LeaveQueue:
    """The caller leaves the agents' queue to be called back instead."""


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """Add a step to the call's timeline."""

    kind: str
    data: dict[str, RecordValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SetOutcome:
    """How the call ends, as far as is known now; a later SetOutcome replaces it."""

    outcome: CallOutcome


class Expect(StrEnum):
    """What the recogniser listens for: a request in the caller's words, or a closed yes/no answer."""

    FREE = "free"
    YES_NO = "yes_no"  # grammar mode where the engine has one: "oui", "non", "conseiller"


@dataclass(frozen=True, slots=True)
class Listen:
    """From now on, the caller's next turns are of this kind (sent when it changes, speech calls only)."""

    expect: Expect


@dataclass(frozen=True, slots=True)
class KeepUnmatched:
    """Keep what the caller said that nothing answered confidently, for the knowledge editors' review."""

    text: str
    best_faq_id: str | None
    score: float


@dataclass(frozen=True, slots=True)
class SetAnswered:
    """The knowledge-base entry whose answer the caller was given (kept on the call and its ticket)."""

    faq_id: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """Hang up the caller's channel."""


@dataclass(frozen=True, slots=True)
class RecordMessage:
    """Record what the caller says after a beep, until # or `max_s`; answered with MessageRecorded."""

    max_s: int


Command = (
    RecordMessage
    | Play
    | StopPlayback
    | StartTimer
    | CancelTimer
    | LookupTicket
    | CreateTicket
    | JoinQueue
    | LeaveQueue
    | RecordEvent
    | SetOutcome
    | SetAnswered
    | Listen
    | KeepUnmatched
    | Hangup
)
